"""What a person sees: rich tables for runs, feed health and the demo."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from seedwatch.alerting import alert_latencies
from seedwatch.index.base import SearchHit, SearchResults
from seedwatch.polling import QUIET_FLOOR_S
from seedwatch.safe_text import display_text, display_url
from seedwatch.settings import Settings, topics_without_alerts
from seedwatch.store import StateStore, as_utc
from seedwatch.store.schema import articles, feeds, index_outbox

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
        console.print(f"[yellow]• {escape(display_text(error))}[/]", highlight=False)
    for topic in topics_without_alerts(settings):
        console.print(
            f"[yellow]• topic {escape(topic)!r} has no alert rule: its articles are tagged and searchable, "
            f"but nobody is emailed; add a rule with `topic: {escape(topic)}` to {settings.config_dir / 'alerts.yaml'}[/]",
            highlight=False,
        )


def run_counts(engine: sa.Engine, since: datetime) -> dict[str, int]:
    """What a run that started at ``since`` has done so far (the pipeline stamps its rows
    with the run's time), read in one statement."""
    count = lambda table, *where: sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()  # noqa: E731
    query = sa.select(
        count(feeds, feeds.c.last_polled_at >= since).label("polled"),
        count(articles, articles.c.first_seen_at >= since).label("new"),
        count(articles, articles.c.processed_at >= since).label("processed"),
        count(articles, articles.c.status == "discovered").label("waiting"),
        count(index_outbox).label("outbox"),
    )
    with engine.connect() as conn:
        return dict(conn.execute(query).one()._mapping)


class RunProgress:
    """``run --once`` on a terminal: the stage and its counts, refreshed while it runs.

    ``stage`` is the pipeline's ``on_stage`` callback; a thread re-reads the counts twice a
    second from a read-only connection, so the pipeline itself is not slowed or changed.
    """

    def __init__(self, console: Console, settings: Settings, since: datetime) -> None:
        self.console, self.settings, self.since = console, settings, since
        self.feeds = len(settings.enabled_feeds())
        self._stage = "starting"
        self._store: StateStore | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._status = console.status("starting")

    def __enter__(self) -> RunProgress:
        self._status.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._status.__exit__(None, None, None)
        if self._store is not None:
            self._store.close()

    def stage(self, name: str) -> None:
        self._stage = name
        self._refresh()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._refresh()

    def _refresh(self) -> None:
        with self._lock:  # the pipeline's thread (a new stage) and the refresh thread
            try:
                if self._store is None:
                    self._store = StateStore.open(self.settings.state.url, read_only=True)
                counts = run_counts(self._store.engine, self.since)
            except Exception:  # noqa: BLE001 - no store yet, or busy: the stage name alone will do
                counts = None
            self._status.update(self.describe(self._stage, counts))

    def describe(self, stage: str, counts: dict[str, int] | None) -> str:
        text = STAGE_TEXT.get(stage, stage)
        if counts is None:
            return text
        if stage == "poll":
            return f"{text}: {counts['polled']}/{self.feeds} polled, {counts['new']} new articles"
        if stage == "process":
            done = counts["processed"]
            return f"{text}: {done}/{done + counts['waiting']} articles"
        if stage == "index":
            return f"{text}: {counts['outbox']} waiting"
        return f"{text} ({counts['new']} new articles)"


STAGE_TEXT = {
    "poll": "polling feeds",
    "process": "fetching, extracting and tagging",
    "dedup": "grouping copies into stories",
    "index": "indexing",
    "alerts": "sending alerts",
}


def hit_to_json(hit: SearchHit, *, stories: bool = False) -> dict[str, Any]:
    """One search hit for scripts (``seedwatch search --json``); text made safe to print."""
    doc: dict[str, Any] = {
        "url": display_url(hit.url),
        "title": display_text(hit.title),
        "outlet": display_text(hit.outlet),
        "language": display_text(hit.language) or None,
        "published_at": hit.published_at.isoformat() if hit.published_at else None,
        "grade": hit.grade,
        "score": round(hit.score, 4),
        "facets": [display_text(f) for f in hit.facets],
        "actors": [display_text(a) for a in hit.actors],
        "story": display_text(hit.story_id) or None,
    }
    if stories:
        doc["story_hits"] = hit.story_hits
        doc["other_outlets"] = [display_text(o) for o in hit.other_outlets]
    return doc


def print_hits(console: Console, query: str, results: SearchResults, *, stories: bool = False) -> None:
    """Search hits as short blocks (date, grade, outlet; title; URL): readable at 80 columns,
    and nothing cut or folded, so a URL copies whole and a pipe keeps every field."""
    what = ("story", "stories") if stories else ("result", "results")
    shown = f" (showing {len(results.hits)})" if len(results.hits) < results.total else ""
    header = Text(f"{results.total} {what[results.total != 1]} for {display_text(query)!r}{shown}")
    console.print(header, style="bold", soft_wrap=True)
    for hit in results.hits:
        when = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "date unknown"
        line = Text(f"{when}  ")
        line.append(GRADE_TEXT.get(hit.grade, str(hit.grade)), style=GRADE_COLOUR.get(hit.grade, ""))
        line.append(f" {hit.score:.2f}  {display_text(hit.outlet) or '?'} · {display_text(hit.language) or '?'}")
        console.print(line, soft_wrap=True)
        console.print(Text("  " + (display_text(hit.title) or "(no title)"), style="bold"), soft_wrap=True)
        console.print(Text("  " + (display_url(hit.url) or "(no http URL)"), style="dim"), soft_wrap=True)
        if stories and hit.story_hits > 1:
            others = ", ".join(display_text(o) for o in hit.other_outlets) or "the same outlet"
            console.print(Text(f"  + {hit.story_hits - 1} more in this story: {others}"), soft_wrap=True)
    if not results.hits:
        console.print("Nothing matched: try fewer words, OR, or a wider date: range.")


GRADE_TEXT = {2: "2 relevant", 1: "1 partial", 0: "0 not relevant"}
GRADE_COLOUR = {2: "bold green", 1: "yellow", 0: "dim"}


@dataclass(frozen=True, slots=True)
class FeedCheck:
    """One feed as an operator should act on it, drawn from the store's record."""

    name: str
    status: str  # "ok" | "failing" | "never worked" | "quiet" | "not polled yet"
    detail: str  # why, in a few words
    last_success_at: datetime | None
    items_per_day: float | None  # from the dated items the store holds, None when too few
    cadence_s: float | None  # median gap between consecutive items
    last_error: str
    quarantined: int


HISTORY_ITEMS = 50  # the newest items of a feed that its rate and cadence are measured on
STATUS_STYLE = {"ok": "green", "failing": "bold red", "never worked": "bold red", "quiet": "yellow"}


def item_history(engine: sa.Engine, feed_ids: Sequence[str]) -> dict[str, list[datetime]]:
    """Each feed's newest item dates (published, else first seen), newest first."""
    when = sa.func.coalesce(articles.c.published_at, articles.c.first_seen_at)
    rank = sa.func.row_number().over(partition_by=articles.c.feed_id, order_by=when.desc()).label("rank")
    ranked = sa.select(articles.c.feed_id, when.label("at"), rank).where(articles.c.feed_id.in_(list(feed_ids)))
    sub = ranked.subquery()
    query = sa.select(sub.c.feed_id, sub.c.at).where(sub.c.rank <= HISTORY_ITEMS).order_by(sub.c.at.desc())
    history: dict[str, list[datetime]] = {}
    with engine.connect() as conn:
        for feed_id, at in conn.execute(query):
            history.setdefault(feed_id, []).append(as_utc(at))
    return history


def rate_and_cadence(dates: Sequence[datetime]) -> tuple[float | None, float | None]:
    """Items per day over the span of ``dates`` and the median gap between them, in seconds.

    Measured on what the publisher did (item dates), not on how often we polled; fewer
    than two distinct dates give no figure rather than a made-up one.
    """
    ordered = sorted(set(dates))
    if len(ordered) < 2:
        return None, None
    gaps = sorted((b - a).total_seconds() for a, b in zip(ordered, ordered[1:], strict=False))
    span_days = (ordered[-1] - ordered[0]).total_seconds() / 86400
    return (len(ordered) - 1) / span_days, gaps[len(gaps) // 2]


def check_feed(row: dict[str, Any], dates: Sequence[datetime], *, now: datetime, quiet_factor: float) -> FeedCheck:
    """The health of one feed from its row in the store and its item history."""
    rate, cadence = rate_and_cadence(dates)
    failures = int(row.get("consecutive_failures") or 0)
    last_success = as_utc(row.get("last_success_at"))
    error = display_text(row.get("last_error"), max_chars=200)
    if row.get("last_status") is None and last_success is None:
        status, detail = "not polled yet", "run `seedwatch run --once` or `feeds check --poll`"
    elif last_success is None:
        status, detail = "never worked", f"{failures} failed attempt{'s' * (failures != 1)}"
    elif failures:
        status, detail = "failing", f"since {_when(last_success)} ({failures} failure{'s' * (failures != 1)})"
    else:
        status, detail = "ok", ""
        newest = dates[0] if dates else as_utc(row.get("last_new_item_at"))
        if cadence and newest is not None:
            silent = (now - newest).total_seconds()
            if silent > max(quiet_factor * cadence, QUIET_FLOOR_S):
                status, detail = "quiet", f"no new item for {_duration(silent)} ({silent / cadence:.0f}× its usual gap)"
    return FeedCheck(
        name=display_text(row.get("name")),
        status=status,
        detail=detail,
        last_success_at=last_success,
        items_per_day=rate,
        cadence_s=cadence,
        last_error=error if status != "ok" else "",
        quarantined=int(row.get("quarantined_articles") or 0),
    )


def feed_checks(settings: Settings, *, now: datetime) -> list[FeedCheck]:
    """Every enabled feed's health, read from the store without writing to it."""
    enabled = settings.enabled_feeds()
    store = StateStore.open(settings.state.url, read_only=True)
    try:
        rows = {row["feed_id"]: row for row in store.feed_rows([feed.feed_id for feed in enabled])}
        history = item_history(store.engine, list(rows))
    finally:
        store.close()
    checks = []
    for feed in enabled:  # a feed added to feeds.yaml since the last run has no row yet
        row = rows.get(feed.feed_id) or {"name": feed.name}
        checks.append(
            check_feed(row, history.get(feed.feed_id, []), now=now, quiet_factor=settings.polling.quiet_factor)
        )
    return checks


def print_feed_health(console: Console, settings: Settings, *, now: datetime) -> None:
    checks = feed_checks(settings, now=now)
    counts: dict[str, int] = {}
    for check in checks:
        counts[check.status] = counts.get(check.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    table = Table(
        title=f"Feed health: {len(checks)} feeds ({summary})", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("feed", overflow="fold", ratio=2)
    table.add_column("status", overflow="fold", ratio=5)
    table.add_column("items/day", justify="right", no_wrap=True)
    table.add_column("one every", justify="right", no_wrap=True)
    for check in checks:
        status = Text(check.status, style=STATUS_STYLE.get(check.status, "dim"))
        detail = check.detail or (f"last success {_when(check.last_success_at)}" if check.last_success_at else "")
        if detail:
            status.append(f": {detail}")
        if check.last_error:
            status.append(f"\n{check.last_error}", style="dim")
        if check.quarantined:
            status.append(f"\n{check.quarantined} article(s) quarantined", style="yellow")
        table.add_row(
            Text(check.name),
            status,
            f"{check.items_per_day:.2g}" if check.items_per_day is not None else "?",
            _duration(check.cadence_s),
        )
    console.print(table)
    console.print(
        "[dim]items/day and the usual gap come from the dates of each feed's newest "
        f"{HISTORY_ITEMS} items; ? = fewer than two dated items.[/]"
    )


def _when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M") if value else "never"


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "?"
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} d"
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
                ("  joined a story already seen (a copy or another report of its event)", len(duplicates)),
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
                f"[yellow]feed {escape(repr(display_text(row['name'])))}: {row['last_status']}: "
                f"{escape(display_text(row['last_error']))}[/]",
                highlight=False,
            )

    relevant = [row for row in new if (row["best_grade"] or 0) >= 1]
    if relevant:
        table = Table(title="Relevant articles, and why", title_justify="left", show_lines=True)
        for column in ("grade", "score", "article", "why"):
            table.add_column(column, overflow="fold")
        for row in relevant:
            best = max(row["tags"], key=lambda t: (t["grade"], t["score"]))
            why = escape(display_text(best["explanation"].get("summary") or ", ".join(best["actors"])))
            copy = " [dim](joins an earlier story)[/]" if row in duplicates else ""
            table.add_row(
                GRADE_STYLE[row["best_grade"]],
                f"{row['best_score']:.2f}",
                f"{escape(display_text(row['title']))}\n[dim]{escape(display_text(row['outlet']))} · "
                f"{escape(display_text(row['language'])) or '?'} · {row['body_source']}[/]{copy}",
                why,
            )
        console.print(table)

    for mail in mails:
        message = mail.message
        console.print(
            f"[bold]Email[/] to {', '.join(mail.envelope_to)}: [italic]{escape(display_text(message['subject']))}[/]"
            f"  saved at {mail.path}",
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
    _print_next_steps(console, settings)


def _print_next_steps(console: Console, settings: Settings) -> None:
    """Commands that reach this run's results, each on one unbroken line (copy-paste safe)."""
    from seedwatch.demo import display_path

    config = display_path(settings.config_dir)
    console.print(
        f"\nEmails: the SMTP server's copies in {display_path(settings.paths.var_dir / 'mail')}/, "
        f"seedwatch's own in {display_path(settings.paths.var_dir / 'sent-mail')}/",
        soft_wrap=True,
        highlight=False,
    )
    console.print("Look at the results:", highlight=False)
    for command in (
        f"search -c {config} 'grade:2'",
        f"search -c {config} --stories 'grade:>=1'",
        f"feeds check -c {config}",
    ):
        console.print(Text(f"  .venv/bin/seedwatch {command}", style="bold"), soft_wrap=True)
    console.print(f"(or once `export SEEDWATCH_CONFIG_DIR={config}`, then no -c)", soft_wrap=True, highlight=False)
    console.print(
        "Run it again (`make demo`): feeds not yet due are skipped, due ones answer 304 or the same content: "
        "nothing new, no email.",
        soft_wrap=False,
    )
