"""One typed configuration for seedwatch, validated when it is loaded.

Sources, later ones winning:

1. defaults in the models below;
2. ``seedwatch.yaml`` in the configuration directory (``SEEDWATCH_CONFIG_DIR``,
   default ``./config``), with ``feeds.yaml`` and ``alerts.yaml`` beside it;
3. the environment: ``SEEDWATCH__SECTION__KEY=value`` for any key (for example
   ``SEEDWATCH__STATE__URL``), plus the short forms ``SEEDWATCH_STATE_URL`` and
   ``SEEDWATCH_ES_URL``. Secrets are only read from the environment.

Unknown keys are errors. Every error names the file, the key and the fix.
Relative paths are resolved against the project directory: the parent of the
configuration directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from seedwatch.alerting import AlertRule, SmtpSettings, load_alert_rules
from seedwatch.errors import ConfigError, ConfigErrors
from seedwatch.fetch import HttpPolicy
from seedwatch.index import IndexSettings
from seedwatch.models import stable_id
from seedwatch.polling import PollingPolicy
from seedwatch.store.schema import articles as articles_table
from seedwatch.store.schema import feeds as feeds_table
from seedwatch.workers import ArticleBudget

DEFAULT_CONFIG_DIR = Path("config")
ENV_PREFIX = "SEEDWATCH__"
# Short names for the settings operators change most often.
ENV_SHORTCUTS = {
    "SEEDWATCH_STATE_URL": ("state", "url"),
    "SEEDWATCH_ES_URL": ("index", "elasticsearch", "url"),
    "SEEDWATCH_INDEX_BACKEND": ("index", "backend"),
    "SEEDWATCH_SMTP_HOST": ("smtp", "host"),
    "SEEDWATCH_SMTP_PORT": ("smtp", "port"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class StateSettings(_Strict):
    """Where pipeline state lives: a SQLAlchemy URL (SQLite file or PostgreSQL)."""

    url: str = "sqlite:///var/state.db"
    # PostgreSQL: without these a silent server holds a task for ever (and every later run).
    connect_timeout_s: int = Field(10, ge=1)  # TCP connect and start-up
    statement_timeout_s: int = Field(300, ge=0)  # one statement, lock waits included; 0 = none
    keepalive_idle_s: int = Field(30, ge=1)  # TCP keepalives: a vanished server is noticed in ~idle + 30 s
    # SQLite: how long a writer waits for another process's lock before the run fails.
    busy_timeout_s: int = Field(60, ge=1)

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, url: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return url

    @property
    def timeouts(self) -> Any:  # a StoreTimeouts; not imported here to keep settings light
        """The bounds every connection to the store gets (``StateStore.open(url, timeouts=...)``)."""
        from seedwatch.store.state import StoreTimeouts

        return StoreTimeouts(
            connect_timeout_s=self.connect_timeout_s,
            statement_timeout_s=self.statement_timeout_s,
            keepalive_idle_s=self.keepalive_idle_s,
            busy_timeout_s=self.busy_timeout_s,
        )


class PipelineSettings(_Strict):
    """How one run divides and bounds its work."""

    schedule: str = "*/15 * * * *"  # cron expression of the monitoring DAG
    feed_batch_size: int = Field(20, ge=1)  # feeds per mapped polling task
    article_batch_size: int = Field(100, ge=1)  # articles per mapped processing task
    max_articles_per_run: int = Field(5000, ge=1)  # bounds one run's work; the rest waits
    max_fetch_attempts: int = Field(3, ge=1)  # page fetches before the feed summary is final
    retry_fetch_after_s: int = Field(1800, ge=0)
    processes: int = Field(0, ge=0)  # CPU workers for extraction and tagging; 0 = one per core
    lease_s: int = Field(900, ge=30)  # how long a worker owns claimed feeds or articles
    # One article's budget in an analysis worker (extraction, tagging, fingerprints): past
    # either, that article fails with the reason and the rest go on (docs/reliability.md).
    article_cpu_s: float = Field(60.0, gt=0)  # CPU seconds
    article_memory_mb: int = Field(1024, ge=64)  # beyond the worker's size with its profiles loaded
    # Airflow's execution_timeout for every task of the DAG: a hung task is killed and retried
    # instead of holding the DAG (max_active_runs=1) for ever. Read when the DAG is parsed.
    task_timeout_s: int = Field(1800, ge=60)
    # An article joins an event story only within this many days of the story's reports;
    # 0 keeps stories open for ever (docs/stories.md on choosing it).
    story_window_days: int = Field(30, ge=0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    def article_budget(self) -> ArticleBudget:
        return ArticleBudget(cpu_s=self.article_cpu_s, memory_mb=self.article_memory_mb)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # Airflow's own cron parser

        if not croniter.is_valid(value):
            raise ValueError(f'{value!r} is not a cron expression; write e.g. "*/15 * * * *" or "@hourly"')
        return value


class PathSettings(_Strict):
    topics_dir: Path = Path("config/topics")
    seeds_dir: Path = Path("seeds")
    var_dir: Path = Path("var")  # local state files, saved emails


# What the store's columns hold: PostgreSQL refuses longer values (SQLite would take them).
FEED_NAME_MAX = feeds_table.c.name.type.length
OUTLET_MAX = min(feeds_table.c.outlet.type.length, articles_table.c.outlet.type.length)


class FeedSource(_Strict):
    """One feed of ``feeds.yaml``."""

    name: str = Field(min_length=1, max_length=FEED_NAME_MAX)
    url: str
    outlet: str = Field(min_length=1, max_length=OUTLET_MAX)
    language: str = Field(pattern=r"^[a-z]{2}$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    timezone: str = "UTC"
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError("must be an http:// or https:// URL")
        if "@" in urlsplit(url).netloc:
            # Feed URLs are logged and shown: a password in one would be too. (Never echoed here.)
            raise ValueError("the URL carries a user name or password (user:password@host)")
        return url

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return _check_timezone(value)

    @property
    def feed_id(self) -> str:
        return stable_id(self.url)


class FeedList(_Strict):
    feeds: list[FeedSource] = []


class Settings(_Strict):
    """The whole configuration. Build it with :func:`load_settings`."""

    state: StateSettings = StateSettings()
    index: IndexSettings = IndexSettings()
    http: HttpPolicy = HttpPolicy()
    polling: PollingPolicy = PollingPolicy()
    smtp: SmtpSettings = SmtpSettings()
    pipeline: PipelineSettings = PipelineSettings()
    paths: PathSettings = PathSettings()
    kibana_base_url: str | None = None
    # Loaded from feeds.yaml and alerts.yaml, not from seedwatch.yaml.
    feeds: list[FeedSource] = []
    alerts: list[AlertRule] = []
    config_dir: Path = DEFAULT_CONFIG_DIR

    @field_validator("kibana_base_url")
    @classmethod
    def _http_base_url(cls, url: str | None) -> str | None:
        # It becomes a link in every alert email: nothing but an http(s) URL may go there.
        if url is not None and not re.match(r"^https?://[^\s/]+\S*$", url):
            raise ValueError("must be an http:// or https:// URL")
        return url

    def enabled_feeds(self) -> list[FeedSource]:
        return [feed for feed in self.feeds if feed.enabled]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Istanbul") from None
    return value


_FIX_BY_ERROR_TYPE = {
    "extra_forbidden": "remove this key or correct its spelling (unknown keys are not allowed)",
    "missing": "add this key",
    "int_parsing": "give a whole number",
    "float_parsing": "give a number",
    "bool_parsing": "give true or false",
    "string_pattern_mismatch": "use the documented format",
    "literal_error": "use one of the allowed values",
    "string_too_long": "shorten it: the store's column holds no more",
}


def _errors_from_validation(
    file: Path, exc: ValidationError, prefix: str = "", env_keys: dict[tuple[str, ...], str] | None = None
) -> list[ConfigError]:
    """One ConfigError per problem; a value set by an environment variable names the variable."""
    errors = []
    for error in exc.errors():
        key = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        fix = _FIX_BY_ERROR_TYPE.get(error["type"], "correct the value as described")
        if error["loc"][-1:] == ("url",) and "password" in error["msg"]:
            fix = "give the feed's address without user:password@ (feeds behind a login are not supported)"
        source = str(file)
        variable = _variable_for(tuple(str(part) for part in error["loc"]), env_keys or {})
        if variable is not None:
            source, fix = f"environment variable {variable}", f"{fix}, or unset {variable}"
        errors.append(ConfigError(source, key or "(top level)", error["msg"], fix))
    return errors


def _variable_for(loc: tuple[str, ...], env_keys: dict[tuple[str, ...], str]) -> str | None:
    # The variable setting this key, or a section above it (SEEDWATCH__PIPELINE='{...}').
    for length in range(len(loc), 0, -1):
        if loc[:length] in env_keys:
            return env_keys[loc[:length]]
    return None


# What most YAML mistakes are, by the parser's own words: the fix to suggest.
_YAML_FIXES = (
    ("'\\t'", "indent with spaces; YAML does not allow tabs"),
    ("mapping values are not allowed", "quote a value that contains ': ' (e.g. title: \"Budget: the vote\")"),
    ("could not find expected ':'", "write each entry as `key: value`, or quote a value that spans lines"),
    ("expected <block end>", "line the key up with the keys above it (same indentation)"),
    ("found undefined alias", "quote a value that starts with '*'"),
    ("found character that cannot start any token", "quote a value that starts with '@', '`', '%' or '&'"),
    ("found duplicate anchor", "quote a value that starts with '&'"),
)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ConfigError:
    """The parser's error as one sentence: where, what, the line itself, and a likely fix."""
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or exc).strip()
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
    shown = ""
    if mark is not None:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if 0 <= mark.line < len(lines):
            shown = f": `{lines[mark.line].strip()[:120]}`"
    fix = next((hint for needle, hint in _YAML_FIXES if needle in problem), "correct the YAML at that line")
    return ConfigError(str(path), where, f"not valid YAML, {problem}{shown}", fix)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"byte {exc.start}", "not UTF-8 text", "save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), "(top level)", "must be a mapping of keys to values", "start the file with `key: value` lines"
        )
    return data


def _env_keys(environ: dict[str, str]) -> dict[tuple[str, ...], str]:
    """Key path → the environment variable that sets it (the long form wins over a shortcut)."""
    keys = {ENV_SHORTCUTS[name]: name for name in environ if name in ENV_SHORTCUTS}
    keys.update(
        (tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__")), name)
        for name in environ
        if name.startswith(ENV_PREFIX)
    )
    return keys


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    items = [(ENV_SHORTCUTS[name], value) for name, value in environ.items() if name in ENV_SHORTCUTS]
    items += [
        (tuple(part.lower() for part in name[len(ENV_PREFIX) :].split("__")), value)
        for name, value in environ.items()
        if name.startswith(ENV_PREFIX)
    ]
    for path, value in items:
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(value) if value else value
    return overrides


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve_paths(settings: Settings, project_dir: Path) -> None:
    def absolute(path: Path) -> Path:
        return path if path.is_absolute() else (project_dir / path).resolve()

    for name in ("topics_dir", "seeds_dir", "var_dir"):
        setattr(settings.paths, name, absolute(getattr(settings.paths, name)))
    settings.index.sqlite_path = absolute(settings.index.sqlite_path)
    url = settings.state.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        settings.state.url = "sqlite:///" + str(absolute(Path(url.removeprefix("sqlite:///"))))


def config_dir_from_env(environ: dict[str, str] | None = None) -> Path:
    environ = dict(os.environ) if environ is None else environ
    return Path(environ.get("SEEDWATCH_CONFIG_DIR", DEFAULT_CONFIG_DIR)).resolve()


def load_settings(config_dir: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigError listing every problem."""
    environ = dict(os.environ) if environ is None else environ
    config_dir = (config_dir or config_dir_from_env(environ)).resolve()
    if not config_dir.is_dir():
        raise ConfigError(
            str(config_dir),
            "(directory)",
            "configuration directory not found",
            "create it or set SEEDWATCH_CONFIG_DIR to the directory holding seedwatch.yaml",
        )

    main_file = config_dir / "seedwatch.yaml"
    raw = _merge(_read_yaml(main_file), _env_overrides(environ))
    for reserved in ("feeds", "alerts", "config_dir"):
        if reserved in raw:
            raise ConfigError(
                str(main_file),
                reserved,
                "is not set in seedwatch.yaml",
                f"put it in {reserved}.yaml" if reserved != "config_dir" else "set SEEDWATCH_CONFIG_DIR instead",
            )

    errors: list[ConfigError] = []
    settings = Settings()
    try:
        settings = Settings.model_validate(raw)
        _resolve_paths(settings, config_dir.parent)
        paths: PathSettings | None = settings.paths
    except ValidationError as exc:
        errors += _errors_from_validation(main_file, exc, env_keys=_env_keys(environ))
        paths = None  # unknown: the rules' topics cannot be checked yet

    feeds_file = config_dir / "feeds.yaml"
    try:
        feeds = FeedList.model_validate(_read_yaml(feeds_file)).feeds
        errors += _duplicate_feed_errors(feeds_file, feeds)
    except ValidationError as exc:
        errors += _errors_from_validation(feeds_file, exc)
        feeds = []
    except ConfigError as exc:
        errors.append(exc)
        feeds = []

    alerts_file = config_dir / "alerts.yaml"
    rules: list[AlertRule] = []
    if alerts_file.exists():
        try:
            rules = load_alert_rules(alerts_file)
        except ConfigErrors as exc:
            errors += exc.errors
        except ConfigError as exc:
            errors.append(exc)
    if paths is not None:
        errors += _rule_topic_errors(alerts_file, rules, paths)

    if errors:
        raise ConfigErrors(errors) if len(errors) > 1 else errors[0]

    settings.feeds = feeds
    settings.alerts = rules
    settings.config_dir = config_dir
    return settings


def _topics(paths: PathSettings) -> set[str]:
    """Topics with seeds (``seeds/<topic>/``) or a profile file (``config/topics/<topic>.yaml``)."""
    profiled = {p.stem for p in paths.topics_dir.glob("*.yaml")} if paths.topics_dir.is_dir() else set()
    return _seeded_topics(paths) | profiled


def _seeded_topics(paths: PathSettings) -> set[str]:
    return {p.name for p in paths.seeds_dir.iterdir() if p.is_dir()} if paths.seeds_dir.is_dir() else set()


def topics_without_alerts(settings: Settings) -> list[str]:
    """Monitored topics (a ``seeds/<topic>/`` directory) that no stories rule emails about:
    tagged, indexed and searchable, but nobody's inbox hears of them."""
    emailed = {rule.topic for rule in settings.alerts if rule.kind == "stories"}
    return sorted(_seeded_topics(settings.paths) - emailed)


def _facets_of(topic: str, paths: PathSettings) -> set[str]:
    """The facet ids a topic's tags can carry: the relations lexicon's and its profile file's."""
    from seedwatch.relevance.resources import lexicon

    known = {facet.id for facet in lexicon()}
    try:
        raw = yaml.safe_load((paths.topics_dir / f"{topic}.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):  # no profile file; a broken one is reported by its loader
        return known
    facets = raw.get("facets") if isinstance(raw, dict) else None
    return known | {str(f["id"]) for f in facets or [] if isinstance(f, dict) and "id" in f}


def _rule_topic_errors(file: Path, rules: list[AlertRule], paths: PathSettings) -> list[ConfigError]:
    """Rules naming a topic or facet that no tag will ever carry: they would never send."""
    errors: list[ConfigError] = []
    topics = _topics(paths)
    for position, rule in enumerate(rules):
        if rule.kind != "stories":
            continue
        if rule.topic not in topics:
            errors.append(
                ConfigError(
                    str(file),
                    f"rules.{position}.topic",
                    f"rule {rule.name!r}: unknown topic {rule.topic!r} "
                    f"(no {paths.seeds_dir / rule.topic}/ and no {paths.topics_dir / rule.topic}.yaml)",
                    f"use one of: {', '.join(sorted(topics)) or '(none yet)'}; "
                    f"or add seed documents under {paths.seeds_dir / rule.topic}/",
                )
            )
            continue
        unknown = sorted(set(rule.facets) - _facets_of(rule.topic, paths)) if rule.facets else []
        if unknown:
            errors.append(
                ConfigError(
                    str(file),
                    f"rules.{position}.facets",
                    f"rule {rule.name!r}: unknown facet(s) {', '.join(unknown)} for topic {rule.topic!r}",
                    f"use facet ids of the topic: {', '.join(sorted(_facets_of(rule.topic, paths)))}",
                )
            )
    return errors


def _duplicate_feed_errors(file: Path, feeds: list[FeedSource]) -> list[ConfigError]:
    errors, seen_names, seen_urls = [], set(), set()
    for position, feed in enumerate(feeds):
        if feed.name in seen_names:
            errors.append(
                ConfigError(
                    str(file),
                    f"feeds.{position}.name",
                    f"duplicate feed name {feed.name!r}",
                    "give every feed a unique name",
                )
            )
        if feed.url in seen_urls:
            errors.append(
                ConfigError(str(file), f"feeds.{position}.url", f"duplicate feed URL {feed.url}", "list each feed once")
            )
        seen_names.add(feed.name)
        seen_urls.add(feed.url)
    return errors
