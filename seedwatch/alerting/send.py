"""Story alerts: which stories are due for a rule, and sending them exactly once.

Per rule, under a named lease (one sender at a time):

1. stories left ``sending`` by a sender that died are sent again, each email with
   the Message-ID it had, so mail systems keep one copy;
2. new stories, deferred ones and updates go in one new email: their ledger rows
   are committed as ``sending`` first, then the email goes to the server, then
   the rows become ``sent`` on its 250. An SMTP failure makes them ``deferred``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog

from seedwatch.alerting.compose import Story, as_utc, compose, message_id
from seedwatch.alerting.ledger import (
    DIGEST_SLOT,
    Signature,
    alert_ledger,
    pending_signature,
    sent_signature,
    upsert,
    where,
)
from seedwatch.alerting.rules import RULE_LEASE_PREFIX, AlertRule, SmtpSettings
from seedwatch.alerting.transport import DELIVERY_ERRORS, deliver
from seedwatch.store.schema import articles

log = structlog.get_logger(__name__)

LEASE_S = 300  # longer than one rule's SMTP exchange, short enough to recover from a dead sender
SERVER_DOWN = "the mail server was unavailable"
INTERRUPTED = "an earlier attempt was interrupted before it was recorded"


@dataclass
class SentMessage:
    rule: str
    message_id: str
    subject: str
    recipients: list[str]
    story_ids: list[str]
    eml_path: str | None = None  # a str: reports travel as JSON (Airflow XCom)


@dataclass
class SendReport:
    emails_sent: int = 0
    stories_sent: int = 0
    updates_sent: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)


# -- which stories -------------------------------------------------------------------


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
    }  # fmt: skip


def candidate_stories(
    conn: sa.Connection, rule: AlertRule, matcher: Callable[[str, dict], bool] | None, *, now: datetime
) -> dict[str, Story]:
    """Every story with at least one article matching ``rule``, its copies grouped.

    A story qualifies when a copy was first seen within the rule's look-back, or when its
    alert is still owed (deferred or interrupted): an outage never ages an alert out.
    """
    recent = sa.select(articles.c.story_id).where(
        articles.c.status == "processed", articles.c.first_seen_at >= now - timedelta(hours=rule.lookback_hours)
    )
    owed = sa.select(alert_ledger.c.story_id).where(alert_ledger.c.rule == rule.name, alert_ledger.c.state != "sent")
    rows = conn.execute(
        sa.select(articles)
        .where(
            articles.c.status == "processed",
            articles.c.story_id.is_not(None),
            articles.c.best_grade >= rule.min_grade,
            sa.or_(articles.c.story_id.in_(recent), articles.c.story_id.in_(owed)),
        )
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
        language = row["language"] or "?"
        story = stories.get(row["story_id"])
        if story is None:
            story = stories[row["story_id"]] = Story(
                row["story_id"],
                row,
                tag,
                [],
                {"facets": [], "actors": [], "outlets": [], "languages": []},
                as_utc(row["first_seen_at"]),
            )
        elif row["outlet"] != story.lead["outlet"] and all(o[0] != row["outlet"] for o in story.outlets):
            story.outlets.append((row["outlet"], language, row["url"]))  # each other outlet once
        for key, values in (
            ("facets", tag.get("facets", [])),
            ("actors", tag.get("actors", [])),
            ("outlets", [row["outlet"]]),
            ("languages", [language]),
        ):
            story.signature[key] = sorted(set(story.signature[key]) | set(values))
    return stories


def what_is_new(seen: Signature, story: Story) -> list[str]:
    """What makes ``story`` materially new since ``seen``: facets, actors, or an outlet in a new language.

    Another outlet in a language already alerted is not news: no update for it.
    """
    news = []
    facets = sorted(set(story.signature["facets"]) - set(seen.get("facets", [])))
    if facets:
        news.append(f"new {'facet' if len(facets) == 1 else 'facets'}: {', '.join(facets)}")
    actors = sorted(set(story.signature["actors"]) - set(seen.get("actors", [])))
    if actors:
        news.append(f"new {'actor' if len(actors) == 1 else 'actors'}: {', '.join(actors)}")
    carriers = [(story.lead["outlet"], story.lead["language"] or "?"), *((o, lang) for o, lang, _ in story.outlets)]
    for language in sorted(set(story.signature["languages"]) - set(seen.get("languages", []))):
        outlets = [outlet for outlet, lang in carriers if lang == language]
        news.append(f"now also in {language}: {', '.join(outlets)}")
    return news


# -- when -----------------------------------------------------------------------------


def latest_slot(rule: AlertRule, now: datetime) -> datetime:
    """The latest digest time at or before ``now`` (UTC), in the rule's time zone."""
    local = now.astimezone(ZoneInfo(rule.timezone))
    if rule.mode == "hourly":
        slot = local.replace(minute=0, second=0, microsecond=0)
    else:
        hour, minute = map(int, rule.daily_at.split(":"))
        slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if slot > local:
            slot = (local - timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return slot.astimezone(UTC)


def digest_due(conn: sa.Connection, rule: AlertRule, now: datetime) -> tuple[bool, datetime | None]:
    """(due, slot): immediate rules are always due; a digest once per slot, not before it."""
    if rule.mode == "immediate":
        return True, None
    slot = latest_slot(rule, now)
    handled = as_utc(
        conn.execute(sa.select(alert_ledger.c.sent_at).where(where(rule.name, DIGEST_SLOT))).scalar_one_or_none()
    )
    if handled is None:  # a new rule: from its first slot on, not a slot that passed before it existed
        return (rule.mode == "hourly" or slot.astimezone(ZoneInfo(rule.timezone)).date() == now.astimezone(
            ZoneInfo(rule.timezone)).date()), slot  # fmt: skip
    return handled < slot, slot


def _record_slot(engine: sa.Engine, rule: AlertRule, slot: datetime, now: datetime) -> None:
    values = {"state": "sent", "message_id": "", "signature": {}, "claimed_at": now, "sent_at": slot}
    with engine.begin() as conn:
        stmt = upsert(conn).values(rule=rule.name, story_id=DIGEST_SLOT, first_seen_at=now, updates=0, **values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[alert_ledger.c.rule, alert_ledger.c.story_id], set_=values)
        )


# -- sending ----------------------------------------------------------------------------


def _send_rule(
    engine: sa.Engine,
    rule: AlertRule,
    smtp: SmtpSettings,
    *,
    now: datetime,
    kibana: str | None,
    matcher: Callable[[str, dict], bool] | None,
    outbox_dir: Path | None,
    report: SendReport,
    topic_title: str | None = None,
) -> None:
    with engine.connect() as conn:
        due_now, slot = digest_due(conn, rule, now)
        if not due_now:
            return
        stories = candidate_stories(conn, rule, matcher, now=now)
        ledger = {r.story_id: r for r in conn.execute(sa.select(alert_ledger).where(alert_ledger.c.rule == rule.name))}

    interrupted: dict[str, list[Story]] = {}  # Message-ID -> the stories of an email that may have gone out
    due: list[Story] = []
    for story in stories.values():
        row = ledger.get(story.story_id)
        if row is None:
            due.append(story)
            continue
        seen = sent_signature(row)
        if row.state in ("sending", "deferred"):
            story.due_since = as_utc(row.claimed_at)
            story.delay_reason = INTERRUPTED if row.state == "sending" else SERVER_DOWN
        if row.state == "sending":
            story.is_update = seen is not None
            story.what_new = what_is_new(seen, story) if seen is not None else []
            interrupted.setdefault(row.message_id, []).append(story)
        elif seen is None:
            due.append(story)  # deferred, never sent
        elif news := what_is_new(seen, story):
            story.is_update, story.what_new = True, news
            due.append(story)

    delivered = True
    for mid, group in interrupted.items():
        delivered &= _send_email(
            engine, rule, smtp, group, mid, ledger, now, kibana, outbox_dir, report, topic_title=topic_title
        )
    if due:
        delivered &= _send_email(
            engine,
            rule,
            smtp,
            due,
            message_id(rule, _ordered(due), smtp.sender),
            ledger,
            now,
            kibana,
            outbox_dir,
            report,
            topic_title=topic_title,
        )
    if slot is not None and delivered:
        _record_slot(engine, rule, slot, now)


def _ordered(stories: list[Story]) -> list[Story]:
    """The most relevant first, then the newest: the subject names the top one."""
    return sorted(
        stories,
        key=lambda s: (-s.tag["score"], -(as_utc(s.lead["published_at"]) or s.first_seen_at).timestamp(), s.story_id),
    )


def _send_email(
    engine: sa.Engine,
    rule: AlertRule,
    smtp: SmtpSettings,
    stories: list[Story],
    mid: str,
    ledger: dict[str, Any],
    now: datetime,
    kibana: str | None,
    outbox_dir: Path | None,
    report: SendReport,
    *,
    topic_title: str | None = None,
) -> bool:
    """Claim, send, record. False if the server could not take the email (deferred)."""
    stories = _ordered(stories)
    resend = {s.story_id for s in stories if (row := ledger.get(s.story_id)) is not None and row.state == "sending"}
    pending: dict[str, Signature] = {}
    with engine.begin() as conn:  # 1. claim: committed before anything goes out
        for story in stories:
            row = ledger.get(story.story_id)
            if story.story_id in resend:  # already claimed with this Message-ID by the sender that died
                pending[story.story_id] = pending_signature(row) or story.signature
                continue
            pending[story.story_id] = story.signature
            values = {
                "state": "sending",
                "message_id": mid,
                "signature": {"sent": sent_signature(row) if row is not None else None, "pending": story.signature},
                "claimed_at": story.due_since or now,
            }
            stmt = upsert(conn).values(
                rule=rule.name, story_id=story.story_id, first_seen_at=story.first_seen_at, updates=0, **values
            )
            conn.execute(
                stmt.on_conflict_do_update(index_elements=[alert_ledger.c.rule, alert_ledger.c.story_id], set_=values)
            )

    message = compose(rule, smtp, stories, now=now, kibana=kibana, message_id=mid, topic_title=topic_title)
    try:  # 2. send
        refused = deliver(smtp, message, rule.recipients)
    except DELIVERY_ERRORS as exc:
        report.deferred += len(stories)
        report.errors.append(f"{rule.name}: SMTP {type(exc).__name__}: {exc}")
        log.warning("alerts.deferred", rule=rule.name, stories=len(stories), error=str(exc))
        with engine.begin() as conn:  # kept for a later run; an interrupted email keeps its Message-ID
            for story in stories:
                if story.story_id not in resend:
                    conn.execute(
                        sa.update(alert_ledger).where(where(rule.name, story.story_id)).values(state="deferred")
                    )
        return False
    if refused:
        report.errors.append(f"{rule.name}: the server refused {', '.join(sorted(refused))}")
        log.warning("alerts.recipients_refused", rule=rule.name, refused=sorted(refused))

    with engine.begin() as conn:  # 3. record
        _mark_sent(conn, rule, stories, pending, now)

    path = None
    if outbox_dir is not None:
        outbox_dir.mkdir(parents=True, exist_ok=True)
        path = outbox_dir / f"{now:%Y%m%dT%H%M%S}-{rule.name}-{mid.strip('<>').split('@')[0][:12]}.eml"
        path.write_bytes(bytes(message))
    report.emails_sent += 1
    report.updates_sent += sum(s.is_update for s in stories)
    report.stories_sent += sum(not s.is_update for s in stories)
    report.messages.append(
        SentMessage(
            rule.name,
            mid,
            str(message["Subject"]),
            list(rule.recipients),
            [s.story_id for s in stories],
            str(path) if path else None,
        )
    )
    log.info("alerts.sent", rule=rule.name, stories=len(stories), message_id=mid, resent=bool(resend))
    return True


def _mark_sent(
    conn: sa.Connection, rule: AlertRule, stories: Sequence[Story], pending: dict[str, Signature], now: datetime
) -> None:
    for story in stories:
        conn.execute(
            sa.update(alert_ledger)
            .where(where(rule.name, story.story_id))
            .values(
                state="sent",
                sent_at=now,
                signature={"sent": pending[story.story_id], "pending": None},
                # Latency is the first alert's: from first seen to the server's 250.
                latency_s=sa.func.coalesce(alert_ledger.c.latency_s, (now - story.first_seen_at).total_seconds()),
                updates=alert_ledger.c.updates + (1 if story.is_update else 0),
            )
        )


def send_due_alerts(
    engine: sa.Engine,
    rules: Sequence[AlertRule],
    smtp: SmtpSettings,
    *,
    now: datetime,
    kibana_base_url: str | None = None,
    query_matcher: Callable[[str, dict], bool] | None = None,
    outbox_dir: Path | None = None,
    topic_titles: Mapping[str, str] | None = None,
) -> SendReport:
    """Send every story rule's due alerts; SMTP failures are deferred to a later run, never raised.

    ``topic_titles``: topic → the title emails name it by (``compose.topic_titles``)."""
    from seedwatch.store import StateStore

    report = SendReport()
    store = StateStore(engine)
    failures: list[Exception] = []
    for rule in (r for r in rules if r.kind == "stories"):
        if rule.query and query_matcher is None:
            log.warning("alerts.rule_skipped", rule=rule.name, reason="no query matcher")
            continue
        lease = f"{RULE_LEASE_PREFIX}{rule.name}"
        owner = f"alerts-{os.getpid()}-{id(report)}"
        if not store.acquire_lease(lease, owner=owner, now=datetime.now(UTC), lease_s=LEASE_S):
            log.info("alerts.busy", rule=rule.name)
            continue
        try:
            _send_rule(
                engine,
                rule,
                smtp,
                now=now,
                kibana=kibana_base_url,
                matcher=query_matcher,
                outbox_dir=outbox_dir,
                report=report,
                topic_title=(topic_titles or {}).get(rule.topic),
            )
        except Exception as exc:  # one rule's failure must not silence the rules after it
            log.error("alerts.rule_failed", rule=rule.name, error=f"{type(exc).__name__}: {exc}"[:500])
            report.errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
            failures.append(exc)
        finally:
            store.release_lease(lease, owner=owner)
    if failures:  # then raised, so the task fails and is retried; what was sent is recorded
        raise failures[0]
    return report


def alert_latencies(engine: sa.Engine) -> list[tuple[str, str, float]]:
    """(rule, story_id, seconds from first seen to alert sent) of every sent story alert."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alert_ledger.c.rule, alert_ledger.c.story_id, alert_ledger.c.latency_s).where(
                alert_ledger.c.state == "sent", alert_ledger.c.latency_s.is_not(None)
            )
        )
        return [(r.rule, r.story_id, float(r.latency_s)) for r in rows]
