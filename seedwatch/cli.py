"""The ``seedwatch`` command line: the same core the DAGs run, without Airflow."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from seedwatch.errors import ConfigError, SeedwatchError
from seedwatch.index.query import MAX_LIMIT

if TYPE_CHECKING:
    from seedwatch.settings import Settings


def _flags_take_no_value() -> None:
    """typer 0.29 shows a type after every option, ``--help  <bool>`` included; a flag
    takes no value, so its help shows none (as click and every mature CLI do)."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()
app = typer.Typer(
    help="seedwatch: monitor news feeds for one geopolitical story.\n\n"
    "Run it as .venv/bin/seedwatch (or `source .venv/bin/activate` first). Commands that read the "
    "configuration take -c DIR (default: $SEEDWATCH_CONFIG_DIR, else ./config).",
    no_args_is_help=True,
)
feeds_app = typer.Typer(help="Feed sources and their health.", no_args_is_help=True)
profile_app = typer.Typer(help="Topic profiles built from the seeds.", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluations.", no_args_is_help=True)
index_app = typer.Typer(help="The article index.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(profile_app, name="profile")
app.add_typer(eval_app, name="eval")
app.add_typer(index_app, name="index")

console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("seedwatch")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "(not installed: run `make install`)"
        console.print(f"seedwatch {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """The options before any command."""


ConfigDir = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Configuration directory (default: $SEEDWATCH_CONFIG_DIR or ./config)."),
]


def _settings(config_dir: Path | None):  # noqa: ANN202 - typed by load_settings
    from seedwatch.logs import configure_logging
    from seedwatch.settings import load_settings

    configure_logging()
    try:
        return load_settings(config_dir)
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error[/]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run the pipeline once and exit.")] = False,
    config: ConfigDir = None,
) -> None:
    """Run the monitoring pipeline (poll, fetch, extract, tag, index, alert) once."""
    from seedwatch.pipeline import run_once
    from seedwatch.report import print_run_report

    if not once:
        console.print(
            "Scheduling is Airflow's job: use [bold]--once[/] for one run here, or the seedwatch_monitor DAG."
        )
        raise typer.Exit(2)
    from seedwatch.report import RunProgress

    settings = _settings(config)
    now = datetime.now(UTC)
    if console.is_terminal:  # a log file or a pipe gets the report alone
        with RunProgress(console, settings, now) as progress:
            report = run_once(settings, now=now, on_stage=progress.stage)
    else:
        report = run_once(settings, now=now)
    print_run_report(console, settings, report)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Words, "phrases", -exclusion, OR, outlet: lang: grade: facet: actor: date:A..B')
    ],
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="How many hits (or stories).")] = 20,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per hit (url, title, outlet, …), for scripts.")
    ] = False,
    stories: Annotated[
        bool, typer.Option("--stories", help="One line per story: its newest copy, the count and other outlets.")
    ] = False,
    config: ConfigDir = None,
) -> None:
    """Search the article index (SQLite FTS5 or Elasticsearch, as configured)."""
    from seedwatch.index import open_index
    from seedwatch.index.query import expand_actor_aliases, parse
    from seedwatch.report import hit_to_json, print_hits

    settings = _settings(config)
    try:
        node = parse(query)  # a mistake in the query is told first, whatever the state of the index
    except SeedwatchError as exc:
        _fail(str(exc))
    _require_index(settings)
    if "actor:" in query.lower():
        node = expand_actor_aliases(node, _actor_aliases(settings))
    index = open_index(settings.index)
    try:
        results = index.search(node, limit=limit, stories=stories)  # type: ignore[arg-type]
    except SeedwatchError as exc:
        _fail(str(exc))
    finally:
        index.close()
    if as_json:
        for hit in results.hits:
            sys.stdout.write(json.dumps(hit_to_json(hit, stories=stories), ensure_ascii=False) + "\n")
        return
    print_hits(console, query, results, stories=stories)


def _fail(message: str, code: int = 2) -> NoReturn:
    """One sentence on stderr (never markup: messages quote user input), then exit."""
    err_console.print(Text(message, style="red"), soft_wrap=True)
    raise typer.Exit(code)


def _require_index(settings: Settings) -> None:
    """A read never creates the SQLite index: say which file is missing and what fills it."""
    if settings.index.backend == "sqlite" and not settings.index.sqlite_path.exists():
        _fail(
            f"No article index at {_shown(settings.index.sqlite_path)} yet: `seedwatch run --once` fills it"
            f"{_demo_hint(settings)}.",
            1,
        )


def _actor_aliases(settings: Settings) -> dict[str, set[str]]:
    """Every actor alias of the curated profile files (as a word run) → the canonical names.

    The files alone, not the profiles drawn from the seeds: a search should not wait
    seconds for induction, and the aliases in other scripts are the curated ones.
    """
    import yaml

    from seedwatch.index.query import word_run

    names: dict[str, set[str]] = {}
    for path in sorted(settings.paths.topics_dir.glob("*.yaml")):
        try:
            actors = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("actors") or []
        except (OSError, yaml.YAMLError, AttributeError):
            continue  # the profile loader reports broken files; here they only add no alias
        for actor in actors:
            if isinstance(actor, dict) and isinstance(actor.get("name"), str):
                for alias in [actor["name"], *(a for a in actor.get("aliases") or [] if isinstance(a, str))]:
                    names.setdefault(word_run(alias.rstrip("*")), set()).add(actor["name"])
    return names


def _require_state(settings: Settings) -> None:
    """A read never creates the state store: say which file is missing and what fills it."""
    import sqlalchemy as sa

    url = sa.engine.make_url(settings.state.url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        _fail(
            f"No state store at {_shown(Path(url.database))} yet: `seedwatch run --once` fills it "
            f"(or `seedwatch feeds check --poll` to poll the feeds now){_demo_hint(settings)}.",
            1,
        )


def _shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _demo_hint(settings: Settings) -> str:
    from seedwatch.demo import DEMO_DIR

    if settings.config_dir == DEMO_DIR / "config" or not (DEMO_DIR / "config").is_dir():
        return ""
    return f" (the demo's results: add `-c {_shown(DEMO_DIR / 'config')}`)"


@feeds_app.command("check")
def feeds_check(
    poll: Annotated[bool, typer.Option("--poll", help="Poll every enabled feed now, then show health.")] = False,
    config: ConfigDir = None,
) -> None:
    """Show every feed's health: last success, failures, cadence; --poll to test them now."""
    from seedwatch.report import print_feed_health

    settings = _settings(config)
    if not poll:
        _require_state(settings)
    if poll:
        from seedwatch.pipeline import plan_feed_batches, poll_feeds

        now = datetime.now(UTC)
        with console.status("polling feeds"):
            plan_feed_batches(settings, now=now)
            poll_feeds(settings, [feed.feed_id for feed in settings.enabled_feeds()], now=now, force=True)
    print_feed_health(console, settings, now=datetime.now(UTC))


SeedsDir = Annotated[
    Path | None,
    typer.Option("--seeds", help="Seed directory (one sub-directory per topic) instead of the configured one."),
]
SeedsOnly = Annotated[bool, typer.Option("--seeds-only", help="Ignore the curated profile file: the seeds alone.")]


def _topic_dirs(settings, seeds: Path | None) -> tuple[Path, Path]:
    return settings.paths.topics_dir, (seeds.resolve() if seeds else settings.paths.seeds_dir)


@profile_app.command("show")
def profile_show(
    topic: Annotated[str | None, typer.Argument(help="Topic name (default: all).")] = None,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    config: ConfigDir = None,
) -> None:
    """Print a topic profile: sides, actors, places, facets, each marked induced or curated."""
    from seedwatch.relevance import cli as relevance_cli

    relevance_cli.profile_show(
        topic, *_topic_dirs(_settings(config), seeds), seeds_only=seeds_only, other_seeds=seeds is not None
    )


@profile_app.command("draft")
def profile_draft(
    topic: Annotated[str, typer.Argument(help="Topic name: a directory of seeds.")],
    write: Annotated[bool, typer.Option("--write", help="Write config/topics/TOPIC.yaml instead of printing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --write: replace an existing profile file.")] = False,
    seeds: SeedsDir = None,
    config: ConfigDir = None,
) -> None:
    """Draw a profile from the seeds alone and print it as commented YAML for an analyst to edit."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.profile_draft(
            topic, topics_dir, seeds_dir, write=write, force=force, other_seeds=seeds is not None
        )
    )


@eval_app.command("relevance")
def eval_relevance(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Labelled items (JSON lines).")],
    topic: Annotated[str | None, typer.Option(help="Topic to evaluate (default: the only topic).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    cv: Annotated[
        int, typer.Option("--cv", min=0, help="Also cross-validate over split_group with this many folds.")
    ] = 0,
    config: ConfigDir = None,
) -> None:
    """Precision, recall, F1, confusion matrix and worst mistakes on a labelled file."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.eval_relevance(
            file, topic, as_json, topics_dir, seeds_dir, seeds_only=seeds_only, folds=cv, other_seeds=seeds is not None
        )
    )


StoryWindow = Annotated[
    int,
    typer.Option(
        "--window-days",
        min=0,
        help="Join a story only within this many days of its reports, by the 'date' field (0: no window; "
        "the pipeline uses pipeline.story_window_days).",
    ),
]
# A file is not a stream in time: its dates are often missing, and labelled sets such as
# ECB+ call a trial two years after a shooting the same event. docs/stories.md.
_STORY_WINDOW_DEFAULT = 0


@eval_app.command("stories")
def eval_stories(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Articles with cluster_id (JSON lines).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    window_days: StoryWindow = _STORY_WINDOW_DEFAULT,
) -> None:
    """B-cubed and pairwise precision, recall and F1 of story assignment against cluster_id."""
    from seedwatch.stories import cli as stories_cli

    raise typer.Exit(
        stories_cli.eval_stories(file, as_json=as_json, window_days=window_days, console=console, err=err_console)
    )


@app.command()
def cluster(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Articles (JSON lines: title, text, date, source).")
    ],
    window_days: StoryWindow = _STORY_WINDOW_DEFAULT,
) -> None:
    """Assign articles to event stories in file order, as the pipeline does; one JSON line each."""
    from seedwatch.stories import cli as stories_cli

    raise typer.Exit(stories_cli.cluster_file(file, window_days=window_days, err=err_console))


@app.command()
def tag(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Items as JSON lines (id, title, text, language).")
    ],
    topic: Annotated[str | None, typer.Option(help="Topic (default: every topic).")] = None,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    config: ConfigDir = None,
) -> None:
    """Tag every item of a JSON-lines file; print one JSON line per item."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.tag_file(file, topic, topics_dir, seeds_dir, seeds_only=seeds_only, other_seeds=seeds is not None)
    )


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Saved HTML pages (plain or .gz).")],
    url: Annotated[str | None, typer.Option(help="The pages' URL (helps dates and links).")] = None,
) -> None:
    """Extract saved pages; print the typed result as one JSON line per file."""
    from extractors.cli import run as run_extract

    raise typer.Exit(run_extract(files, url))


@index_app.command("reindex")
def index_reindex(
    version: Annotated[int, typer.Option(help="The new physical index version (e.g. 2).")],
    config: ConfigDir = None,
) -> None:
    """Elasticsearch: create the next index version, reindex into it, swap the aliases."""
    settings = _settings(config)
    if settings.index.backend != "elasticsearch":
        _fail(
            f"`index reindex` is for Elasticsearch, and this configuration ({_shown(settings.config_dir)}) uses "
            f"index.backend: {settings.index.backend}; set index.backend: elasticsearch in seedwatch.yaml (or SEEDWATCH_INDEX_BACKEND=elasticsearch) first."
        )
    from elasticsearch import ApiError, TransportError

    from seedwatch.index.elastic import IndexUnavailableError, reindex_and_swap

    try:
        report = reindex_and_swap(settings.index, version)
    except IndexUnavailableError as exc:
        _fail(str(exc), 1)
    except (ApiError, TransportError) as exc:  # the cluster is down or refuses: one sentence, no traceback
        _fail(f"Elasticsearch at {settings.index.elasticsearch.url} failed: {type(exc).__name__}: {exc}", 1)
    except SeedwatchError as exc:
        _fail(str(exc))
    console.print(report)


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option("--fresh", help="Forget the previous demo runs' state first.")] = False,
    airflow: Annotated[
        bool,
        typer.Option("--airflow/--no-airflow", help="Run the DAG through Airflow (else the same pipeline in-process)."),
    ] = True,
    site_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="The news site's port (default: the last run's, else 8765, else free)."),
    ] = None,
    smtp_port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="The SMTP server's port (default: a free one).")
    ] = None,
) -> None:
    """The offline demo: a local news site and SMTP server, one real DAG run, a summary.

    State is kept between runs, so a second run shows what a scheduled re-run does.
    """
    from seedwatch.demo import run_demo

    raise typer.Exit(run_demo(console, fresh=fresh, through_airflow=airflow, site_port=site_port, smtp_port=smtp_port))


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
