"""Email alerts: one per story, exactly once as far as SMTP allows (fallback implementation).

The ledger (``alert_ledger``) has a row per rule and story. Sending follows a
two-step protocol under a per-rule lease:

1. rows are written as ``sending`` with a deterministic Message-ID, committed;
2. the email is sent; on the server's 250 the rows become ``sent``.

An SMTP failure puts the rows back (``deferred``: sent on a later run, with the
delay shown). A crash between 1 and 2 leaves ``sending`` rows: the next run sends
them again *with the same Message-ID*, which mail systems de-duplicate.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
import yaml
from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from seedwatch.errors import ConfigError, ConfigErrors
from seedwatch.store.schema import UTC as UTC_COLUMN
from seedwatch.store.schema import articles, feeds, index_outbox, metadata

log = structlog.get_logger(__name__)

alert_ledger = sa.Table(
    "alert_ledger",
    metadata,
    sa.Column("rule", sa.String(120), primary_key=True),
    sa.Column("story_id", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(12), nullable=False),  # sending | sent
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("signature", sa.JSON, nullable=False),  # what was alerted: facets, actors, outlets, languages
    sa.Column("first_seen_at", UTC_COLUMN, nullable=False),
    sa.Column("claimed_at", UTC_COLUMN, nullable=False),
    sa.Column("sent_at", UTC_COLUMN),
    sa.Column("updates", sa.Integer, nullable=False, default=0),
    sa.Column("latency_s", sa.Float),
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password: SecretStr | None = Field(default_factory=lambda: _env_secret("SEEDWATCH_SMTP_PASSWORD"))
    sender: str = "seedwatch@localhost"
    timeout_s: float = 30.0


def _env_secret(name: str) -> SecretStr | None:
    value = os.environ.get(name)
    return SecretStr(value) if value else None


def smtp_settings_from_airflow_connection(conn: Any) -> SmtpSettings:
    extra = getattr(conn, "extra_dejson", {}) or {}
    security = "ssl" if extra.get("use_ssl") else "starttls" if extra.get("use_tls", extra.get("starttls")) else "none"
    return SmtpSettings(
        host=conn.host or "127.0.0.1",
        port=conn.port or (465 if security == "ssl" else 25),
        security=extra.get("security", security),
        username=conn.login or None,
        password=SecretStr(conn.password) if conn.password else None,
        sender=extra.get("from_email", extra.get("sender", "seedwatch@localhost")),
        timeout_s=float(extra.get("timeout", 30)),
    )


class AlertRule(_Strict):
    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    recipients: list[str] = Field(min_length=1)
    topic: str = "libya_turkey"
    kind: Literal["stories", "operations"] = "stories"
    min_grade: int = Field(2, ge=0, le=2)
    min_score: float = Field(0.0, ge=0, le=1)
    facets: list[str] = []
    actors: list[str] = []
    query: str | None = None
    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    daily_at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    subject_prefix: str = "[seedwatch]"

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            if "@" not in value or any(c in value for c in "\r\n ,;<>"):
                raise ValueError(f"{value!r} is not an email address")
        return values

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Istanbul") from None
        return value


class _RuleFile(_Strict):
    rules: list[AlertRule] = []


def load_alert_rules(path: Path) -> list[AlertRule]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"not valid YAML ({exc})", "fix the YAML syntax") from None
    try:
        rules = _RuleFile.model_validate(data).rules
    except ValidationError as exc:
        errors = [
            ConfigError(str(path), ".".join(map(str, e["loc"])), e["msg"], "correct the value (see docs/alerts.md)")
            for e in exc.errors()
        ]
        raise (ConfigErrors(errors) if len(errors) > 1 else errors[0]) from None
    names = [rule.name for rule in rules]
    for position, name in enumerate(names):
        if names.index(name) != position:
            raise ConfigError(str(path), f"rules.{position}.name", f"duplicate rule name {name!r}", "give each rule a unique name")
    return rules


@dataclass
class SentMessage:
    rule: str
    message_id: str
    subject: str
    recipients: list[str]
    story_ids: list[str]
    eml_path: Path | None = None


@dataclass
class SendReport:
    emails_sent: int = 0
    stories_sent: int = 0
    updates_sent: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)


@dataclass
class Story:
    story_id: str
    lead: dict[str, Any]  # the earliest matching article
    tag: dict[str, Any]
    outlets: list[tuple[str, str, str]]  # (outlet, language, url) of the other copies
    signature: dict[str, list[str]]
    first_seen_at: datetime
    is_update: bool = False


def _as_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _tag_for(rule: AlertRule, row: dict[str, Any]) -> dict[str, Any] | None:
    tag = next((t for t in row["tags"] or () if t.get("topic") == rule.topic), None)
    if tag is None or tag["grade"] < rule.min_grade or tag["score"] < rule.min_score:
        return None
    if rule.facets and not set(rule.facets) & set(tag.get("facets", ())):
        return None
    if rule.actors and not set(rule.actors) & set(tag.get("actors", ())):
        return None
    return tag


def _doc(row: dict[str, Any], tag: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": row["title"], "body": row["text"], "outlet": row["outlet"], "language": row["language"],
        "grade": tag["grade"], "score": tag["score"], "facets": tag.get("facets", []), "actors": tag.get("actors", []),
        "topics": [tag["topic"]], "story_id": row["story_id"], "published_at": row["published_at"],
    }


def _candidate_stories(
    conn: sa.Connection, rule: AlertRule, matcher: Callable[[str, dict], bool] | None
) -> dict[str, Story]:
    rows = conn.execute(
        sa.select(articles)
        .where(articles.c.status == "processed", articles.c.story_id.is_not(None), articles.c.best_grade >= rule.min_grade)
        .order_by(articles.c.first_seen_at, articles.c.article_id)
    )
    stories: dict[str, Story] = {}
    for raw in rows:
        row = dict(raw._mapping)
        tag = _tag_for(rule, row)
        if tag is None:
            continue
        if rule.query and (matcher is None or not matcher(rule.query, _doc(row, tag))):
            continue
        first_seen = _as_utc(row["first_seen_at"])
        story = stories.get(row["story_id"])
        if story is None:
            story = stories[row["story_id"]] = Story(
                row["story_id"], row, tag, [], {"facets": [], "actors": [], "outlets": [], "languages": []}, first_seen
            )
        else:
            story.outlets.append((row["outlet"], row["language"] or "?", row["url"]))
        for key, values in (("facets", tag.get("facets", [])), ("actors", tag.get("actors", [])),
                            ("outlets", [row["outlet"]]), ("languages", [row["language"] or "?"])):
            story.signature[key] = sorted(set(story.signature[key]) | set(values))
    return stories


def _materially_new(old: dict[str, list[str]], new: dict[str, list[str]]) -> bool:
    """New facets or actors, or the story reached a new language."""
    return any(set(new.get(key, [])) - set(old.get(key, [])) for key in ("facets", "actors", "languages"))


def _digest_due(conn: sa.Connection, rule: AlertRule, now: datetime) -> bool:
    if rule.mode == "immediate":
        return True
    last = _as_utc(conn.execute(sa.select(sa.func.max(alert_ledger.c.sent_at)).where(alert_ledger.c.rule == rule.name)).scalar())
    if rule.mode == "hourly":
        return last is None or now - last >= timedelta(hours=1)
    local = now.astimezone(ZoneInfo(rule.timezone))
    hour, minute = map(int, rule.daily_at.split(":"))
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if local < slot:
        return False
    return last is None or last < slot.astimezone(UTC)


_TEMPLATES = Environment(autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True, lstrip_blocks=True)
_HTML = _TEMPLATES.from_string(
    """<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:640px;margin:auto;padding:8px">
<h2 style="font-size:18px">{{ heading }}</h2>
{% for s in stories %}
<div style="border-top:1px solid #ccc;padding:8px 0">
{% if s.is_update %}<p style="color:#b45309;margin:0">UPDATE: new {{ s.what_new }}</p>{% endif %}
<h3 style="font-size:16px;margin:4px 0"><a href="{{ s.url }}">{{ s.title }}</a></h3>
<p style="margin:2px 0;color:#555">{{ s.outlet }} · {{ s.language }} · {{ s.published_utc }} UTC ({{ s.published_local }})</p>
<p style="margin:2px 0">Grade {{ s.grade }} · score {{ s.score }}{% if s.delay %} · <b>delivered {{ s.delay }} late</b> (mail server was unavailable){% endif %}</p>
<p style="margin:2px 0">Why: {{ s.summary }}</p>
{% if s.actors %}<p style="margin:2px 0">Actors: {{ s.actors }}</p>{% endif %}
{% if s.facets %}<p style="margin:2px 0">Facets: {{ s.facets }}</p>{% endif %}
{% for sentence in s.sentences %}<blockquote style="margin:4px 0 4px 8px;color:#333">{{ sentence }}</blockquote>{% endfor %}
{% if s.others %}<p style="margin:2px 0">Also carried by: {% for o in s.others %}<a href="{{ o.url }}">{{ o.outlet }}</a> ({{ o.language }}){% if not loop.last %}, {% endif %}{% endfor %}</p>{% endif %}
</div>
{% endfor %}
{% if kibana %}<p><a href="{{ kibana }}">Open this search in Kibana</a></p>{% endif %}
</body></html>"""
)
_TEXT = Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True).from_string(
    """{{ heading }}
{% for s in stories %}

{% if s.is_update %}UPDATE: new {{ s.what_new }}
{% endif %}{{ s.title }}
{{ s.url }}
{{ s.outlet }} · {{ s.language }} · {{ s.published_utc }} UTC ({{ s.published_local }})
Grade {{ s.grade }} · score {{ s.score }}{% if s.delay %} · delivered {{ s.delay }} late (mail server was unavailable){% endif %}

Why: {{ s.summary }}
{% if s.actors %}Actors: {{ s.actors }}
{% endif %}{% if s.facets %}Facets: {{ s.facets }}
{% endif %}{% for sentence in s.plain_sentences %}  > {{ sentence }}
{% endfor %}{% if s.others %}Also carried by: {% for o in s.others %}{{ o.outlet }} ({{ o.language }}) {{ o.url }}{% if not loop.last %}, {% endif %}{% endfor %}
{% endif %}{% endfor %}
{% if kibana %}
Kibana: {{ kibana }}
{% endif %}"""
)


def _highlight(sentence: dict[str, Any]) -> Markup:
    """The sentence escaped, with its matched terms in <mark>."""
    text = str(sentence.get("text", ""))
    spans = sorted(
        (t["start"], t["end"]) for t in sentence.get("terms", ()) if isinstance(t, dict) and "start" in t and "end" in t
    )
    out, position = [], 0
    for start, end in spans:
        if start < position or end > len(text):
            continue
        out.append(escape(text[position:start]))
        out.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        position = end
    out.append(escape(text[position:]))
    return Markup("").join(out)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _story_view(story: Story, rule: AlertRule, now: datetime, delay: timedelta | None) -> dict[str, Any]:
    lead, tag = story.lead, story.tag
    explanation = tag.get("explanation") or {}
    published = _as_utc(lead["published_at"]) or story.first_seen_at
    sentences = [s for s in explanation.get("sentences", []) if isinstance(s, dict)][:3]
    return {
        "title": _one_line(lead["title"]) or lead["url"], "url": lead["url"], "outlet": lead["outlet"],
        "language": lead["language"] or "?", "published_utc": published.strftime("%Y-%m-%d %H:%M"),
        "published_local": published.astimezone(ZoneInfo(rule.timezone)).strftime(f"%Y-%m-%d %H:%M {rule.timezone}"),
        "grade": tag["grade"], "score": f"{tag['score']:.2f}", "summary": _one_line(explanation.get("summary", "")),
        "actors": ", ".join(tag.get("actors", [])), "facets": ", ".join(tag.get("facets", [])),
        "sentences": [_highlight(s) for s in sentences], "plain_sentences": [_one_line(s.get("text", "")) for s in sentences],
        "others": [{"outlet": o, "language": lang, "url": url} for o, lang, url in story.outlets],
        "is_update": story.is_update, "what_new": "facets, actors or languages" if story.is_update else "",
        "delay": _duration(delay) if delay and delay > timedelta(minutes=30) else "",
    }


def _duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"


def _message_id(rule: AlertRule, stories: Sequence[Story], sender: str) -> str:
    key = "|".join([rule.name, *(f"{s.story_id}:{sorted(s.signature.items())}" for s in stories)])
    domain = sender.rsplit("@", 1)[-1] or "seedwatch"
    return f"<{hashlib.sha1(key.encode()).hexdigest()}@{domain}>"


def _compose(rule: AlertRule, smtp: SmtpSettings, stories: Sequence[Story], *, now: datetime, kibana: str | None, message_id: str) -> EmailMessage:
    oldest = min(s.first_seen_at for s in stories)
    delay = now - oldest
    views = [_story_view(s, rule, now, delay) for s in stories]
    count = len(stories)
    top = views[0]["title"]
    noun = "story" if count == 1 else "stories"
    subject = _one_line(f"{rule.subject_prefix} {count} new {noun}: {top}")[:250]
    heading = f"{count} new relevant {noun} for {rule.topic}"
    kibana_url = f"{kibana.rstrip('/')}/app/discover#/?_a=(query:(language:kuery,query:'{quote('topics:' + rule.topic + ' and grade >= ' + str(rule.min_grade))}'))" if kibana else None
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(rule.recipients)
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    message["Message-ID"] = message_id
    message["X-Seedwatch-Rule"] = rule.name
    message.set_content(_TEXT.render(heading=heading, stories=views, kibana=kibana_url))
    message.add_alternative(_HTML.render(heading=heading, stories=views, kibana=kibana_url), subtype="html")
    return message


def _deliver(smtp: SmtpSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    context = ssl.create_default_context()
    client_class = smtplib.SMTP_SSL if smtp.security == "ssl" else smtplib.SMTP
    kwargs: dict[str, Any] = {"context": context} if smtp.security == "ssl" else {}
    with client_class(smtp.host, smtp.port, timeout=smtp.timeout_s, **kwargs) as client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username and smtp.password:
            client.login(smtp.username, smtp.password.get_secret_value())
        client.send_message(message, from_addr=smtp.sender, to_addrs=list(recipients))


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def _send_rule(
    engine: sa.Engine, rule: AlertRule, smtp: SmtpSettings, *, now: datetime, kibana: str | None,
    matcher: Callable[[str, dict], bool] | None, outbox_dir: Path | None, report: SendReport,
) -> None:
    with engine.connect() as conn:
        if not _digest_due(conn, rule, now):
            return
        stories = _candidate_stories(conn, rule, matcher)
        ledger = {r.story_id: r for r in conn.execute(sa.select(alert_ledger).where(alert_ledger.c.rule == rule.name))}
    due: list[Story] = []
    resend_ids: set[str] = set()
    for story in stories.values():
        row = ledger.get(story.story_id)
        if row is None:
            due.append(story)
        elif row.state == "sending":  # a crash after claiming: send again with the same Message-ID
            due.append(story)
            resend_ids.add(row.message_id)
        elif _materially_new(row.signature, story.signature):
            story.is_update = True
            due.append(story)
    if not due:
        return
    # The most relevant first, then the newest: the subject names the top one.
    due.sort(key=lambda s: (-s.tag["score"], -(_as_utc(s.lead["published_at"]) or s.first_seen_at).timestamp()))
    message_id = next(iter(resend_ids)) if len(resend_ids) == 1 and len(due) == len(resend_ids) else _message_id(rule, due, smtp.sender)
    with engine.begin() as conn:
        for story in due:
            values = {"state": "sending", "message_id": message_id, "signature": story.signature, "claimed_at": now}
            stmt = _insert(conn, alert_ledger).values(rule=rule.name, story_id=story.story_id, first_seen_at=story.first_seen_at, updates=0, **values)
            conn.execute(stmt.on_conflict_do_update(index_elements=[alert_ledger.c.rule, alert_ledger.c.story_id], set_=values))
    message = _compose(rule, smtp, due, now=now, kibana=kibana, message_id=message_id)
    try:
        _deliver(smtp, message, rule.recipients)
    except (OSError, smtplib.SMTPException) as exc:
        report.deferred += len(due)
        report.errors.append(f"{rule.name}: SMTP {type(exc).__name__}: {exc}")
        log.warning("alerts.deferred", rule=rule.name, stories=len(due), error=str(exc))
        with engine.begin() as conn:  # put the ledger back: the stories are due again next run
            for story in due:
                previous = ledger.get(story.story_id)
                where = sa.and_(alert_ledger.c.rule == rule.name, alert_ledger.c.story_id == story.story_id)
                if previous is None or previous.state == "sending":
                    conn.execute(sa.delete(alert_ledger).where(where))
                else:
                    conn.execute(sa.update(alert_ledger).where(where).values(state="sent", signature=previous.signature, message_id=previous.message_id))
        return
    with engine.begin() as conn:
        for story in due:
            where = sa.and_(alert_ledger.c.rule == rule.name, alert_ledger.c.story_id == story.story_id)
            conn.execute(sa.update(alert_ledger).where(where).values(
                state="sent", sent_at=now, latency_s=(now - story.first_seen_at).total_seconds(),
                updates=alert_ledger.c.updates + (1 if story.is_update else 0)))
    path = None
    if outbox_dir is not None:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        path = outbox_dir / f"{now:%Y%m%dT%H%M%S}-{rule.name}-{message_id.strip('<>').split('@')[0][:12]}.eml"
        path.write_bytes(bytes(message))
    report.emails_sent += 1
    report.updates_sent += sum(s.is_update for s in due)
    report.stories_sent += sum(not s.is_update for s in due)
    report.messages.append(SentMessage(rule.name, message_id, str(message["Subject"]), list(rule.recipients), [s.story_id for s in due], path))
    log.info("alerts.sent", rule=rule.name, stories=len(due), message_id=message_id)


def send_due_alerts(
    engine: sa.Engine, rules: Sequence[AlertRule], smtp: SmtpSettings, *, now: datetime,
    kibana_base_url: str | None = None, query_matcher: Callable[[str, dict], bool] | None = None,
    outbox_dir: Path | None = None,
) -> SendReport:
    """Send every story rule's due alerts; SMTP failures are deferred to a later run, never raised."""
    from seedwatch.store import StateStore

    report = SendReport()
    store = StateStore(engine)
    for rule in (r for r in rules if r.kind == "stories"):
        if rule.query and query_matcher is None:
            log.warning("alerts.rule_skipped", rule=rule.name, reason="no query matcher")
            continue
        lease = f"alerts:{rule.name}"
        owner = f"alerts-{os.getpid()}-{id(report)}"
        if not store.acquire_lease(lease, owner=owner, now=datetime.now(UTC), lease_s=300):
            log.info("alerts.busy", rule=rule.name)
            continue
        try:
            _send_rule(engine, rule, smtp, now=now, kibana=kibana_base_url, matcher=query_matcher, outbox_dir=outbox_dir, report=report)
        finally:
            store.release_lease(lease, owner=owner)
    return report


def send_operations_digest(
    engine: sa.Engine, rules: Sequence[AlertRule], smtp: SmtpSettings, *, now: datetime, policy_quiet_factor: float = 4.0
) -> SendReport:
    """Once a day per operations rule: failing or quiet feeds and the index backlog, if any."""
    report = SendReport()
    ops_rules = [r for r in rules if r.kind == "operations"]
    if not ops_rules:
        return report
    with engine.connect() as conn:
        feed_rows = [dict(r._mapping) for r in conn.execute(sa.select(feeds))]
        backlog = conn.execute(sa.select(sa.func.count()).select_from(index_outbox)).scalar_one()
    problems = []
    for row in feed_rows:
        last_new = _as_utc(row["last_new_item_at"])
        if (row["consecutive_failures"] or 0) >= 3:
            problems.append(f"FAILING  {row['name']}: {row['consecutive_failures']} failures in a row; last error: {_one_line(row['last_error'] or '')}")
        elif row["items_per_day"] and last_new and (now - last_new).total_seconds() > policy_quiet_factor * 86400 / row["items_per_day"]:
            problems.append(f"QUIET    {row['name']}: no new item since {last_new:%Y-%m-%d %H:%M} UTC (usually {row['items_per_day']:.1f}/day)")
    if backlog:
        problems.append(f"BACKLOG  {backlog} article(s) waiting for the article index")
    if not problems:
        return report
    day_key = f"ops:{now:%Y-%m-%d}"
    for rule in ops_rules:
        with engine.begin() as conn:
            claimed = conn.execute(
                _insert(conn, alert_ledger).values(rule=rule.name, story_id=day_key, state="sending", message_id=day_key,
                                                   signature={"problems": problems}, first_seen_at=now, claimed_at=now, updates=0)
                .on_conflict_do_nothing().returning(alert_ledger.c.rule)
            ).first()
        if claimed is None:
            continue
        message = EmailMessage()
        message["Subject"] = f"{rule.subject_prefix} operations: {len(problems)} problem(s)"
        message["From"], message["To"] = smtp.sender, ", ".join(rule.recipients)
        message["Message-ID"] = f"<{hashlib.sha1((rule.name + day_key).encode()).hexdigest()}@seedwatch>"
        message.set_content("seedwatch operations digest\n\n" + "\n".join(problems) + "\n")
        try:
            _deliver(smtp, message, rule.recipients)
        except (OSError, smtplib.SMTPException) as exc:
            report.deferred += 1
            report.errors.append(f"{rule.name}: {exc}")
            with engine.begin() as conn:
                conn.execute(sa.delete(alert_ledger).where(alert_ledger.c.rule == rule.name, alert_ledger.c.story_id == day_key))
            continue
        with engine.begin() as conn:
            conn.execute(sa.update(alert_ledger).where(alert_ledger.c.rule == rule.name, alert_ledger.c.story_id == day_key)
                         .values(state="sent", sent_at=now))
        report.emails_sent += 1
    return report


def alert_latencies(engine: sa.Engine) -> list[tuple[str, str, float]]:
    """(rule, story_id, seconds from first seen to alert sent) of every sent story alert."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alert_ledger.c.rule, alert_ledger.c.story_id, alert_ledger.c.latency_s)
            .where(alert_ledger.c.state == "sent", alert_ledger.c.latency_s.is_not(None))
        )
        return [(r.rule, r.story_id, float(r.latency_s)) for r in rows]
