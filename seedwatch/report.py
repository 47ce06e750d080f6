"""What a person sees: rich tables for runs, feed health and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seedwatch.alerting import alert_latencies
from seedwatch.settings import Settings
from seedwatch.store import StateStore, as_utc
from seedwatch.store.schema import articles

GRADE_STYLE = {2: "[bold green]2 relevant[/]", 1: "[yellow]1 partial[/]", 0: "[dim]0[/]"}


def _counts_table(title: str, rows: Sequence[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def print_run_report(console: Console, settings: Settings, report: Any) -> None:
    poll, process, dedup, index = report.poll, report.process, report.dedup, report.index
    console.print(
        _counts_table(
            "Run",
            [
                ("feeds polled", poll.feeds_polled),
                ("  ok / not modified / failed", f"{poll.feeds_ok} / {poll.feeds_not_modified} / {poll.feeds_failed}"),
                ("feed entries seen", poll.entries_seen),
                ("new articles", poll.new_articles),
                ("pages fetched", process.fetched),
                ("bodies extracted from the page", process.extracted),
                ("kept from the feed summary", process.fallback),
                ("relevant / partial", f"{process.relevant} / {process.partial}"),
                (
                    "new stories / exact copies / near-duplicates",
                    f"{dedup.new_stories} / {dedup.exact_duplicates} / {dedup.near_duplicates}",
                ),
                ("indexed / index backlog", f"{index.indexed} / {index.backlog}"),
                ("emails sent", getattr(report.alerts, "emails_sent", 0)),
            ],
        )
    )
    for error in [*poll.errors, *process.errors, *index.errors]:
        console.print(f"[yellow]• {escape(error)}[/]", highlight=False)


def print_feed_health(console: Console, settings: Settings, *, now: datetime) -> None:
    from seedwatch.pipeline import _feed_state
    from seedwatch.polling import feed_health

    store = StateStore.open(settings.state.url)
    try:
        store.sync_feeds(settings.enabled_feeds(), now=now)
        rows = store.feed_rows([feed.feed_id for feed in settings.enabled_feeds()])
    finally:
        store.close()
    table = Table(title=f"Feed health ({len(rows)} feeds)", title_justify="left")
    for column in ("feed", "status", "last success", "last new item", "failures", "items/day", "cadence", "last error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        health = asdict(feed_health(_feed_state(row), now=now, policy=settings.polling))
        status = str(health.get("status", "?"))
        style = {"ok": "green", "failing": "red", "quiet": "yellow"}.get(status, "dim")
        table.add_row(
            escape(row["name"]),
            f"[{style}]{status}[/]",
            _when(row["last_success_at"]),
            _when(row["last_new_item_at"]),
            str(row["consecutive_failures"] or 0),
            f"{row['items_per_day'] or 0:.1f}",
            _duration(health.get("expected_cadence_s") or row["interval_s"]),
            escape((row["last_error"] or "")[:80]),
        )
    console.print(table)


def _when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M") if value else "never"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "?"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def print_demo_summary(
    console: Console, settings: Settings, *, since: datetime, mails: Sequence[Any], elapsed_s: float, runner: str
) -> None:
    store = StateStore.open(settings.state.url)
    try:
        feeds = [row for row in store.feed_rows() if row["last_polled_at"] and row["last_polled_at"] >= since]
        with store.engine.connect() as conn:
            new = [
                dict(r._mapping)
                for r in conn.execute(
                    sa.select(articles).where(articles.c.first_seen_at >= since).order_by(articles.c.best_score.desc())
                )
            ]
            total = conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar_one()
        backlog = store.outbox_backlog()
        latencies = sorted(seconds for _, _, seconds in alert_latencies(store.engine))
    finally:
        store.close()

    console.rule(f"[bold]Run finished in {elapsed_s:.1f} s[/] · {runner}")
    statuses: dict[str, int] = {}
    for row in feeds:
        statuses[row["last_status"] or "?"] = statuses.get(row["last_status"] or "?", 0) + 1
    duplicates = [row for row in new if row["story_id"] and row["story_id"] != row["article_id"]]
    console.print(
        _counts_table(
            "Summary",
            [
                (
                    "feeds polled",
                    f"{len(feeds)}  ({', '.join(f'{k}: {v}' for k, v in sorted(statuses.items())) or 'none due'})",
                ),
                ("new articles", len(new)),
                ("  body extracted from the page", sum(r["body_source"] == "page" for r in new)),
                ("  kept from the feed summary (page failed)", sum(r["body_source"] != "page" for r in new)),
                ("  copies of a story already seen", len(duplicates)),
                (
                    "relevant (grade 2) / partial (grade 1)",
                    f"{sum(r['best_grade'] == 2 for r in new)} / {sum(r['best_grade'] == 1 for r in new)}",
                ),
                ("articles in the store / waiting for the index", f"{total} / {backlog['pending']}"),
                ("emails received by the SMTP server", len(mails)),
            ],
        )
    )
    for row in feeds:
        if row["last_error"]:
            console.print(
                f"[yellow]feed {escape(repr(row['name']))}: {row['last_status']}: {escape(row['last_error'])}[/]",
                highlight=False,
            )

    relevant = [row for row in new if (row["best_grade"] or 0) >= 1]
    if relevant:
        table = Table(title="Relevant articles, and why", title_justify="left", show_lines=True)
        for column in ("grade", "score", "article", "why"):
            table.add_column(column, overflow="fold")
        for row in relevant:
            best = max(row["tags"], key=lambda t: (t["grade"], t["score"]))
            why = escape(best["explanation"].get("summary") or ", ".join(best["actors"]))
            copy = " [dim](copy of an earlier story)[/]" if row in duplicates else ""
            table.add_row(
                GRADE_STYLE[row["best_grade"]],
                f"{row['best_score']:.2f}",
                f"{escape(row['title'])}\n[dim]{escape(row['outlet'])} · {row['language'] or '?'} · {row['body_source']}[/]{copy}",
                why,
            )
        console.print(table)

    for mail in mails:
        message = mail.message
        console.print(
            f"[bold]Email[/] to {', '.join(mail.envelope_to)}: [italic]{escape(str(message['subject']))}[/]  saved at {mail.path}",
            highlight=False,
        )
    if mails:
        # Wall clock: the ledger's latency counts in run time, where a story alerted by the
        # run that found it has latency 0; here is how long that run took to deliver it.
        delays = sorted((mail.received_at - since).total_seconds() for mail in mails)
        in_first_run = sum(1 for seconds in latencies if seconds == 0)
        console.print(
            f"Alert latency: email accepted {delays[0]:.0f} s after the run started; "
            f"{in_first_run}/{len(latencies)} alerted stories went out in the run that first saw them",
            highlight=False,
        )
    if not mails:
        console.print("[dim]No email: nothing new to alert (every story was alerted before, or none is relevant).[/]")
    config = settings.config_dir
    console.print(f"\nSearch what was indexed:  [bold].venv/bin/seedwatch search -c {config} 'grade:2'[/]")
    console.print(f"Feed health:              [bold].venv/bin/seedwatch feeds check -c {config}[/]")
    console.print(
        "Run it again (`make demo`): feeds not yet due are skipped, due ones answer 304 or the same content: "
        "nothing new, no email."
    )
