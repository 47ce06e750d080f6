"""The operations digest: feeds failing or quiet, and the article index's backlog.

Once a day per ``kind: operations`` rule, from ``daily_at`` in the rule's time zone,
on the first run that finds a problem. Its ledger row (``ops:<local date>``) follows
the same sending → sent protocol as story alerts, with a Message-ID fixed per day.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog

from seedwatch.alerting.compose import as_utc, duration, one_line
from seedwatch.alerting.ledger import alert_ledger, upsert, where
from seedwatch.alerting.rules import AlertRule, SmtpSettings
from seedwatch.alerting.send import LEASE_S, SendReport, SentMessage
from seedwatch.alerting.transport import DELIVERY_ERRORS, deliver
from seedwatch.store.schema import feeds

log = structlog.get_logger(__name__)

FAILING_AFTER = 3  # consecutive failed polls before a feed is reported


def feed_problems(engine: sa.Engine, *, now: datetime, quiet_factor: float) -> list[str]:
    """One line per problem: failing feeds, quiet feeds, the index outbox backlog."""
    from seedwatch.store import StateStore

    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(feeds).order_by(feeds.c.name))]
    problems = []
    for row in rows:
        last_new = as_utc(row["last_new_item_at"])
        name = one_line(row["name"])
        if (row["consecutive_failures"] or 0) >= FAILING_AFTER:
            error = one_line(row["last_error"])[:200] or "unknown"
            problems.append(f"FAILING  {name}: {row['consecutive_failures']} failures in a row; last error: {error}")
        elif (
            row["items_per_day"]
            and last_new
            and (now - last_new).total_seconds() > quiet_factor * 86400 / row["items_per_day"]
        ):
            problems.append(
                f"QUIET    {name}: no new item since {last_new:%Y-%m-%d %H:%M} UTC "
                f"(usually {row['items_per_day']:.1f} a day)"
            )
    backlog = StateStore(engine).outbox_backlog()
    if backlog["pending"]:
        problems.append(f"BACKLOG  {backlog['pending']} article(s) waiting for the article index")
    if backlog["dead"]:
        problems.append(f"REJECTED {backlog['dead']} article(s) the article index refused for good (see the outbox)")
    names = {row["feed_id"]: one_line(row["name"]) for row in rows}
    for feed_id, count in StateStore(engine).quarantined_counts().items():
        problems.append(
            f"QUARANTINED {count} article(s) of {names.get(feed_id, feed_id)} failed every processing attempt "
            "and are no longer tried (reason in last_fetch_error)"
        )
    return problems


def send_operations_digest(
    engine: sa.Engine,
    rules: Sequence[AlertRule],
    smtp: SmtpSettings,
    *,
    now: datetime,
    policy_quiet_factor: float = 4.0,
) -> SendReport:
    """Once a day per operations rule (from its ``daily_at``): failing or quiet feeds and the index backlog."""
    from seedwatch.store import StateStore

    report = SendReport()
    ops_rules = [r for r in rules if r.kind == "operations"]
    if not ops_rules:
        return report
    problems: list[str] | None = None
    store = StateStore(engine)
    for rule in ops_rules:
        local = now.astimezone(ZoneInfo(rule.timezone))
        if local.strftime("%H:%M") < rule.daily_at:
            continue
        day_key = f"ops:{local:%Y-%m-%d}"
        with engine.connect() as conn:
            row = conn.execute(sa.select(alert_ledger).where(where(rule.name, day_key))).first()
        if row is not None and row.state == "sent":
            continue
        if problems is None:
            problems = feed_problems(engine, now=now, quiet_factor=policy_quiet_factor)
        if not problems:
            return report
        owner = f"ops-{os.getpid()}-{id(report)}"
        if not store.acquire_lease(f"alerts:{rule.name}", owner=owner, now=datetime.now(UTC), lease_s=LEASE_S):
            continue
        try:
            _send_one(engine, rule, smtp, problems, day_key, row, now, report)
        finally:
            store.release_lease(f"alerts:{rule.name}", owner=owner)
    return report


def _send_one(
    engine: sa.Engine,
    rule: AlertRule,
    smtp: SmtpSettings,
    problems: list[str],
    day_key: str,
    row: sa.Row | None,
    now: datetime,
    report: SendReport,
) -> None:
    domain = smtp.sender.rsplit("@", 1)[-1] or "seedwatch"
    mid = f"<{hashlib.sha1((rule.name + day_key).encode()).hexdigest()}@{domain}>"
    first_attempt = as_utc(row.claimed_at) if row is not None else now
    values = {"state": "sending", "message_id": mid, "signature": {"problems": problems}, "claimed_at": first_attempt}
    with engine.begin() as conn:
        stmt = upsert(conn).values(rule=rule.name, story_id=day_key, first_seen_at=now, updates=0, **values)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=[alert_ledger.c.rule, alert_ledger.c.story_id], set_=values)
        )

    message = EmailMessage()
    message["Subject"] = one_line(f"{rule.subject_prefix} operations: {len(problems)} problem(s)")
    message["From"], message["To"] = smtp.sender, ", ".join(rule.recipients)
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    message["Message-ID"] = mid
    message["X-Seedwatch-Rule"] = rule.name
    late = now - first_attempt
    body = ["seedwatch operations digest", ""]
    if late.total_seconds() >= 60:
        body += [f"Delivered {duration(late)} late: first attempted {first_attempt:%Y-%m-%d %H:%M} UTC.", ""]
    message.set_content("\n".join([*body, *problems, ""]))
    try:
        deliver(smtp, message, rule.recipients)
    except DELIVERY_ERRORS as exc:
        report.deferred += 1
        report.errors.append(f"{rule.name}: SMTP {type(exc).__name__}: {exc}")
        log.warning("alerts.ops_deferred", rule=rule.name, error=str(exc))
        with engine.begin() as conn:
            conn.execute(sa.update(alert_ledger).where(where(rule.name, day_key)).values(state="deferred"))
        return
    with engine.begin() as conn:
        conn.execute(sa.update(alert_ledger).where(where(rule.name, day_key)).values(state="sent", sent_at=now))
    report.emails_sent += 1
    report.messages.append(SentMessage(rule.name, mid, str(message["Subject"]), list(rule.recipients), [day_key]))
