"""The pipeline killed at each stage boundary, then run again: nothing lost, nothing doubled.

Each test runs the whole pipeline in a child process against the demo's news site and a
real SMTP server, and kills that process with ``os._exit`` (no cleanup, no ``finally``,
like ``kill -9`` or a lost container) at one named point. The crash points are installed by
the child script itself, by wrapping a production function, so production code carries no
test hooks. A second child then runs the pipeline an hour later, and what both leave behind
is compared with one clean run on the same site:

- every article the feeds announce is stored and processed, with the same grade;
- stories group the same URLs;
- the article index holds each article once, and nothing stays queued in the outbox;
- the alert ledger is complete and every alert email reached the SMTP server under one
  Message-ID (a resend after a crash between "sent" and "recorded" reuses it, which is how
  mail systems recognise the duplicate: see ``seedwatch/alerting.py``).

A crashed process keeps its leases until they expire (``pipeline.lease_s``, 15 minutes by
default; 5 minutes for the alert sender). The second run is an hour later on the pipeline's
clock; the wall-clock leases are expired by hand (``_expire_leases``), which is what waiting
would do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedwatch.demo import write_config
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from seedwatch.pipeline import run_once
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from seedwatch.store.schema import leases
from tests.run_outcome import run_outcome

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CRASH_EXIT = 71

# The child: install the crash point named in argv[3], then run the pipeline at argv[2].
CHILD = r"""
import os, sys
from datetime import datetime
from pathlib import Path

from seedwatch import alerting, pipeline
from seedwatch.index import sqlite_fts
from seedwatch.settings import load_settings
from seedwatch.store import state

config, now, crash_at = Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), sys.argv[3]
EXIT = int(sys.argv[4])


def crash():
    sys.stdout.flush()
    os._exit(EXIT)


def after(owner, name, calls=1):
    # Crash right after the ``calls``-th call of owner.name returns.
    real, seen = getattr(owner, name), [0]

    def wrapper(*args, **kwargs):
        result = real(*args, **kwargs)
        seen[0] += 1
        if seen[0] >= calls:
            crash()
        return result

    setattr(owner, name, wrapper)


def on_stage(name):
    if crash_at == "after-poll" and name == "process":
        crash()
    if crash_at == "after-process" and name == "dedup":
        crash()


if crash_at == "mid-poll":  # one feed's state saved, the others still leased
    after(state.StateStore, "save_feed_state")
elif crash_at == "mid-process":  # 10 of a batch written, its transaction never committed; all still leased
    after(state.StateStore, "_save_processed", calls=10)
elif crash_at == "mid-index":  # documents written to the index, the outbox not yet acknowledged
    after(sqlite_fts.SqliteArticleIndex, "upsert")
elif crash_at == "after-send":  # the email accepted by SMTP, the ledger still says "sending"
    try:
        from seedwatch.alerting import send as sender  # the alerting package
        after(sender, "deliver")
    except ImportError:
        after(alerting, "_deliver")  # the single-module version
elif crash_at not in ("none", "after-poll", "after-process"):
    raise SystemExit(f"unknown crash point {crash_at}")

pipeline.run_once(load_settings(config, environ={}), now=now, on_stage=on_stage)
"""


class ChildResult:
    def __init__(self, returncode: int, output: str) -> None:
        self.returncode, self.output = returncode, output


def _start_child(config: Path, now: datetime, crash_at: str, tag: str = "") -> tuple[subprocess.Popen, Path]:
    log_path = config.parent / f"child-{crash_at}-{now:%H%M}{tag}.log"
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(config), now.isoformat(), crash_at, str(CRASH_EXIT)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return child, log_path


def _finish_child(child: subprocess.Popen, log_path: Path, timeout_s: float = 300) -> ChildResult:
    try:
        returncode = child.wait(timeout=timeout_s)
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
    return ChildResult(returncode, log_path.read_text(errors="replace")[-3000:])


def _run_child(config: Path, now: datetime, crash_at: str) -> ChildResult:
    """Run the child in its own process group; afterwards kill what is left of the group.

    A crashed parent leaves its extraction pool workers orphaned (as a real crash would,
    until the container goes): they are killed here, and the output goes to a file because
    an orphan holding a pipe would keep ``communicate`` waiting.
    """
    return _finish_child(*_start_child(config, now, crash_at))


def _expire_leases(state_url: str) -> None:
    """What waiting out ``lease_s`` does: every named lease the dead process held is free."""
    store = StateStore.open(state_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.update(leases).values(until=datetime(2000, 1, 1, tzinfo=UTC)))
    finally:
        store.close()


@pytest.fixture(scope="module")
def site():  # noqa: ANN201
    from seedwatch.demo import serve_site

    with LocalSite() as local:
        serve_site(local)
        yield local


@pytest.fixture(scope="module")
def baseline(site: LocalSite, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One clean run at NOW and one an hour later, in this process: the expected outcome."""
    with MailSink() as sink:
        config = write_config(tmp_path_factory.mktemp("baseline"), site_url=site.base_url, smtp_port=sink.port)
        settings = load_settings(config, environ={})
        run_once(settings, now=NOW)
        run_once(settings, now=LATER)
        outcome = run_outcome(config)
        outcome["subjects"] = sorted(str(m["subject"]) for m in sink.messages)
    assert len(outcome["articles"]) == 30 and len(outcome["subjects"]) == 1
    return outcome


CRASH_POINTS = ["mid-poll", "after-poll", "mid-process", "after-process", "mid-index", "after-send"]


def _crash_then_rerun(site: LocalSite, baseline: dict, run_dir: Path, crash_at: str, state_url: str | None) -> None:
    with MailSink() as sink:
        config = write_config(run_dir, site_url=site.base_url, smtp_port=sink.port, state_url=state_url)
        crashed = _run_child(config, NOW, crash_at)
        assert crashed.returncode == CRASH_EXIT, crashed.output
        mails_before_rerun = len(sink.messages)
        _expire_leases(load_settings(config, environ={}).state.url)

        rerun = _run_child(config, LATER, "none")
        assert rerun.returncode == 0, rerun.output
        outcome = run_outcome(config)
        message_ids = [str(m["message-id"]) for m in sink.messages]
        subjects = sorted({str(m["subject"]) for m in sink.messages})

    # No article lost, each processed as in a clean run; stories group the same URLs.
    assert outcome["articles"] == baseline["articles"]
    assert outcome["stories"] == baseline["stories"]
    # Each article indexed exactly once, nothing left queued, the index file sound.
    assert outcome["doc_ids"] == outcome["article_ids"] == baseline["doc_ids"]
    assert len(set(outcome["doc_ids"])) == len(outcome["doc_ids"]) == outcome["fts_rows"]
    assert outcome["outbox"] == 0
    assert outcome["index_integrity"] == "ok"
    # No lease left behind by the finished run.
    assert outcome["held_leases"] == 0 and outcome["leased_articles"] == 0
    # The same alerts, all recorded as sent; one Message-ID for everything delivered.
    assert outcome["ledger"] == baseline["ledger"]
    assert subjects == baseline["subjects"]
    assert len(set(message_ids)) == 1
    if crash_at == "after-send":
        # Delivered before the crash, delivered again after it: same Message-ID, so the
        # recipient's mail system shows it once.
        assert mails_before_rerun == 1 and len(message_ids) == 2
    else:
        assert mails_before_rerun == 0 and len(message_ids) == 1


@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_run_killed_at_a_stage_boundary_is_completed_by_the_next(
    crash_at: str, site: LocalSite, baseline: dict, tmp_path: Path
) -> None:
    _crash_then_rerun(site, baseline, tmp_path / "run", crash_at, state_url=None)


@pytest.mark.postgres
@pytest.mark.parametrize("crash_at", ["mid-process", "after-send"])
def test_the_same_on_a_postgresql_store(
    crash_at: str, site: LocalSite, baseline: dict, tmp_path: Path, postgres_url: str
) -> None:
    _crash_then_rerun(site, baseline, tmp_path / "run", crash_at, state_url=postgres_url)


def test_a_run_killed_twice_in_a_row_still_converges(site: LocalSite, baseline: dict, tmp_path: Path) -> None:
    """Crashes pile up (a crash-looping worker): the first clean run still completes everything."""
    with MailSink() as sink:
        config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=sink.port)
        state_url = load_settings(config, environ={}).state.url
        for hours, crash_at in enumerate(("mid-process", "mid-index"), start=0):
            crashed = _run_child(config, NOW + timedelta(minutes=30 * hours), crash_at)
            assert crashed.returncode == CRASH_EXIT, crashed.output
            _expire_leases(state_url)
        rerun = _run_child(config, LATER, "none")
        assert rerun.returncode == 0, rerun.output
        outcome = run_outcome(config)
        assert len(sink.messages) == 1
    assert outcome["articles"] == baseline["articles"]
    assert outcome["doc_ids"] == baseline["doc_ids"]
    assert outcome["outbox"] == 0 and outcome["ledger"] == baseline["ledger"]


def test_two_overlapping_runs_on_one_sqlite_store_equal_one_run(
    site: LocalSite, baseline: dict, tmp_path: Path
) -> None:
    """Two schedulers (or a manual run during a scheduled one) on the same SQLite store."""
    with MailSink() as sink:
        config = write_config(tmp_path / "run", site_url=site.base_url, smtp_port=sink.port)
        children = [_start_child(config, NOW, "none", tag=f"-{n}") for n in range(2)]
        results = [_finish_child(child, log) for child, log in children]
        for result in results:
            assert result.returncode == 0, result.output
        outcome = run_outcome(config)
        assert len(sink.messages) == 1
    assert outcome["articles"] == baseline["articles"]
    assert outcome["stories"] == baseline["stories"]
    assert outcome["doc_ids"] == baseline["doc_ids"] and outcome["fts_rows"] == len(outcome["doc_ids"])
    assert outcome["outbox"] == 0 and outcome["ledger"] == baseline["ledger"]
    assert outcome["held_leases"] == 0 and outcome["leased_articles"] == 0
