"""Hostile feed text in a real email, and one failing rule among several (issue 16.7, 16.8).

Stories are written into the store as the pipeline leaves them, sent to a loopback SMTP
server (aiosmtpd), and the MIME that arrived is read back.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from seedwatch.alerting import AlertRule
from seedwatch.index.query import matches
from seedwatch.mailsink import MailSink
from seedwatch.safe_text import TITLE_MAX_CHARS
from seedwatch.store import StateStore
from tests.test_alerts import parts, put_article, rule, send

ESC = "\x1b"
HOSTILE_TITLE = (
    f"{ESC}]0;pwned{ESC}\\{ESC}[2J{ESC}]52;c;ZXZpbA=={ESC}\\"  # window title, screen clear, clipboard
    "Invoice\u202egpj.exe"  # shows as "Invoiceexe.jpg"
    " Haf\u200btar\u2066 visits\u2069 Ankara\x00\x07\r\nBcc: victim@example.org"
)


def _invisible(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf") and c not in "\r\n\t"})


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StateStore:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield store
    store.close()


def test_hostile_titles_outlets_and_urls_reach_the_email_clean_and_capped(
    sqlite_store: StateStore, mail_sink: MailSink
) -> None:
    put_article(
        sqlite_store,
        "https://wire.example/a\u202e?x=1",  # an invisible character in a URL: no link at all
        story="s1",
        title=HOSTILE_TITLE,
        outlet=f"wire{ESC}[31m\u202e.example",
        sentence=f"Haftar{ESC}[8m will meet\u200b Erdogan\u202e in Ankara.",
    )
    put_article(sqlite_store, "https://long.example/b", story="s2", title="Haftar " + "x" * 10_000)
    report = send(sqlite_store, [rule()], mail_sink)
    assert report.emails_sent == 1
    (message,) = mail_sink.messages
    plain, html = parts(message)
    subject = message["Subject"]
    for where, text in (("subject", subject), ("plain", plain), ("html", html)):
        assert _invisible(text) == [], f"{where} keeps invisible characters"
    assert "Bcc" not in message and "victim@example.org" not in message.get_all("To", [""])[0]
    # The visible words stay, on one line.
    assert "Invoicegpj.exe Haftar visits Ankara Bcc: victim@example.org" in plain
    assert "]0;pwned" in plain  # what is left of an escape sequence is inert text
    assert "https://wire.example/a" not in plain and "wire.example/a" not in html
    assert "wire[31m.example" in plain  # the outlet, without its ESC and override
    assert "Haftar will meet Erdogan in Ankara." in plain
    # A 10 KB title is cut with an ellipsis, in both parts and in the subject.
    long_line = next(line for line in plain.splitlines() if line.startswith("Haftar xxx"))
    assert len(long_line) == TITLE_MAX_CHARS and long_line.endswith("…")
    assert "x" * TITLE_MAX_CHARS not in html and len(subject) <= 250


def test_a_rule_failing_at_run_time_does_not_stop_the_rules_after_it(
    sqlite_store: StateStore, mail_sink: MailSink
) -> None:
    put_article(sqlite_store, "https://wire.example/a", story="s1")
    # Load refuses this query (test_settings); a rule built in code or by an older
    # version skips that check, and its query fails where it is evaluated.
    broken = AlertRule.model_construct(**(rule(name="broken").model_dump() | {"query": "lang:tr OR"}))
    with pytest.raises(Exception, match="OR needs a term"):
        send(sqlite_store, [broken, rule(name="after")], mail_sink, query_matcher=matches)
    assert [m["X-Seedwatch-Rule"] for m in mail_sink.messages] == ["after"]
    # The next run sends the working rule nothing twice and fails the same way, loudly.
    with pytest.raises(Exception, match="OR needs a term"):
        send(sqlite_store, [broken, rule(name="after")], mail_sink, query_matcher=matches)
    assert len(mail_sink.messages) == 1


def test_titles_are_stored_clean_at_ingestion() -> None:
    """What the index and Kibana show: the feed's title and the page's, cleaned and capped."""
    from datetime import UTC, datetime

    from seedwatch.analysis import analyse_article
    from seedwatch.feeds import parse_feed

    title = f"{ESC}[2JHaf\u200btar\u202e visits Ankara " + "y" * 5000
    feed = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        f"<item><title>{title.replace(ESC, '&#27;')}</title><link>https://wire.example/a</link></item>"
        "</channel></rss>"
    ).encode()
    (entry,) = parse_feed(feed, feed_id="f", base_url="https://wire.example/").entries
    page = f"<html><head><title>{title}</title></head><body><article><p>Text.</p></article></body></html>"
    row = {"feed_id": "f", "guid": None, "url": "https://wire.example/a", "title": title, "summary": "Text."}
    analysed = analyse_article({**row, "published_at": None, "feed_language": "en"}, page, now=datetime.now(UTC))
    for stored in (entry.title, analysed["title"]):
        assert stored.startswith("[2JHaftar visits Ankara yyy") and _invisible(stored) == []
        assert len(stored) == TITLE_MAX_CHARS and stored.endswith("…")


def test_a_failing_rule_does_not_cost_the_operators_their_digest(tmp_path: Path, mail_sink: MailSink) -> None:
    """pipeline.send_alerts re-raises a rule's failure after the operations digest is sent."""
    from datetime import timedelta

    import sqlalchemy as sa

    from seedwatch.models import stable_id
    from seedwatch.pipeline import send_alerts
    from seedwatch.settings import Settings
    from seedwatch.store.schema import feeds
    from tests.test_alerts import NOW, smtp_for

    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = StateStore.open(url)
    put_article(store, "https://wire.example/a", story="s1")
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(feeds).values(
                feed_id=stable_id("https://broken.example/rss"), name="Broken", url="https://broken.example/rss",
                outlet="broken.example", total_items=0, consecutive_failures=4, last_error="HTTP 500",
            )
        )  # fmt: skip
    store.close()
    broken = AlertRule.model_construct(**(rule(name="broken").model_dump() | {"query": "lang:tr OR"}))
    ops = rule(name="ops", kind="operations", recipients=["ops@example.org"], daily_at="00:00", timezone="UTC")
    settings = Settings(state={"url": url}, smtp=smtp_for(mail_sink), paths={"var_dir": tmp_path})
    settings.__dict__["alerts"] = [broken, ops]  # as loaded by an older version, without the query check
    with pytest.raises(Exception, match="OR needs a term"):
        send_alerts(settings, now=NOW + timedelta(minutes=1))
    assert [m["Subject"] for m in mail_sink.messages] == ["[seedwatch] operations: 1 problem(s)"]
