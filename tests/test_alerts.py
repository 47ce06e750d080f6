"""Email alerts against a real SMTP server on loopback (aiosmtpd): what arrives, once.

Stories are written straight into the state store (the pipeline's other stages are
tested elsewhere), then ``send_due_alerts`` talks SMTP to a ``MailSink`` and the
tests parse the MIME of what the server received.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from pydantic import SecretStr

import seedwatch.alerting.send as sending
from seedwatch.alerting import (
    AlertRule,
    SmtpSettings,
    alert_latencies,
    alert_ledger,
    load_alert_rules,
    send_due_alerts,
    send_operations_digest,
    smtp_settings_from_airflow_connection,
)
from seedwatch.errors import ConfigError, ConfigErrors
from seedwatch.mailsink import MailSink
from seedwatch.models import stable_id
from seedwatch.store import StateStore
from seedwatch.store.schema import articles, feeds

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
TOPIC = "libya_turkey"
ANALYST = "analyst@example.org"


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    store = StateStore.open(state_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        yield store
    finally:
        store.close()


def smtp_for(sink: MailSink | int) -> SmtpSettings:
    port = sink if isinstance(sink, int) else sink.port
    return SmtpSettings(host="127.0.0.1", port=port, sender="seedwatch@example.org", timeout_s=5)


def rule(**overrides: Any) -> AlertRule:
    values: dict[str, Any] = {"name": "desk", "recipients": [ANALYST], "topic": TOPIC, "timezone": "Europe/Istanbul"}
    return AlertRule(**(values | overrides))


def put_article(
    store: StateStore,
    url: str,
    *,
    story: str,
    title: str = "Haftar plans to visit Turkiye",
    outlet: str = "regional-wire.example",
    language: str = "en",
    grade: int = 2,
    score: float = 0.9,
    facets: tuple[str, ...] = ("diplomacy",),
    actors: tuple[str, ...] = ("Khalifa Haftar",),
    first_seen: datetime = NOW - timedelta(minutes=10),
    published: datetime | None = NOW - timedelta(minutes=30),
    sentence: str = "Haftar will meet Erdogan in Ankara.",
    topic_title: str | None = None,
) -> str:
    """A processed, tagged article of ``story``, as the pipeline leaves it."""
    tag = {
        "topic": TOPIC,
        "grade": grade,
        "score": score,
        "facets": list(facets),
        "actors": list(actors),
        "explanation": {
            "summary": f"relevant ({score:.2f}): both sides meet in the title",
            "sentences": [{"text": sentence, "terms": [{"text": sentence[:6], "start": 0, "end": 6}]}],
        }
        | ({"topic_title": topic_title} if topic_title else {}),
    }
    article_id = stable_id(url)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(articles).values(
                article_id=article_id,
                canonical_url=url,
                url=url,
                feed_id=stable_id(outlet),
                outlet=outlet,
                language=language,
                title=title,
                text=sentence,
                published_at=published,
                first_seen_at=first_seen,
                story_id=story,
                tags=[tag],
                best_grade=grade,
                best_score=score,
                status="processed",
            )
        )
    return article_id


def ledger_rows(store: StateStore) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(alert_ledger).order_by(alert_ledger.c.story_id))]


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text/plain, text/html) of a received alert."""
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def send(store: StateStore, rules: list[AlertRule], sink: MailSink | int, now: datetime = NOW, **kwargs: Any):  # noqa: ANN201
    return send_due_alerts(store.engine, rules, smtp_for(sink), now=now, **kwargs)


def closed_port() -> int:
    """A loopback port where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- rules ------------------------------------------------------------------------------


def _rules_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "alerts.yaml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rule_yaml", "key", "problem", "fix"),
    [
        ("mode: weekly", "rules.0.mode", "Input should be", "use one of 'immediate', 'hourly' or 'daily'"),
        ("timezone: Mars/Olympus", "rules.0.timezone", "unknown time zone 'Mars/Olympus'", "IANA time zone name"),
        ("recipients: [analyst.example.org]", "rules.0.recipients", "is not an email address", "plain addresses"),
        ("recipient: [x@example.org]", "rules.0.recipient", "unknown key", "correct its spelling"),
        ("daily_at: 8:30", "rules.0.daily_at", "valid string", 'quoted, as "HH:MM"'),  # YAML reads 8:30 as 510
        ("min_grade: 3", "rules.0.min_grade", "less than or equal to 2", "use 2 (relevant)"),
    ],
)
def test_a_bad_rule_names_the_file_the_key_and_the_fix(
    tmp_path: Path, rule_yaml: str, key: str, problem: str, fix: str
) -> None:
    path = _rules_file(tmp_path, f"rules:\n  - name: desk\n    recipients: [{ANALYST}]\n    {rule_yaml}\n")
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(path)
    error = caught.value
    assert error.file == str(path) and error.key == key
    assert problem in error.problem and "rule 'desk'" in error.problem
    assert fix in error.fix
    assert str(path) in str(error) and key in str(error) and "Fix:" in str(error)


def test_every_bad_rule_is_reported_at_once(tmp_path: Path) -> None:
    path = _rules_file(
        tmp_path,
        "rules:\n"
        "  - {name: a, recipients: [a@example.org], mode: weekly}\n"
        "  - {name: b, recipients: [b@example.org], timezone: Nowhere/Land}\n",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_alert_rules(path)
    assert [e.key for e in caught.value.errors] == ["rules.0.mode", "rules.1.timezone"]


def test_duplicate_rule_names_and_daily_operations_are_checked(tmp_path: Path) -> None:
    twice = _rules_file(
        tmp_path,
        "rules:\n  - {name: a, recipients: [a@example.org], topic: t}\n  - {name: a, recipients: [b@x.org], topic: t}\n",
    )
    with pytest.raises(ConfigError, match="duplicate rule name 'a'"):
        load_alert_rules(twice)
    no_topic = _rules_file(tmp_path, "rules:\n  - {name: a, recipients: [a@example.org]}\n")
    with pytest.raises(ConfigError, match="needs 'topic'"):
        load_alert_rules(no_topic)
    ops = _rules_file(tmp_path, "rules:\n  - {name: ops, kind: operations, recipients: [o@x.org], mode: hourly}\n")
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(ops)
    assert "once a day" in caught.value.problem and "set it to daily" in caught.value.fix


def test_the_shipped_rules_file_loads() -> None:
    rules = load_alert_rules(Path(__file__).parents[1] / "config" / "alerts.yaml")
    assert {r.kind for r in rules} == {"stories", "operations"}


def test_smtp_settings_from_an_airflow_connection() -> None:
    def conn(extra: dict[str, Any], port: int | None = None) -> SimpleNamespace:
        return SimpleNamespace(host="smtp.example.org", port=port, login="u", password="p", extra_dejson=extra)

    # The SMTP provider's own keys, read as Airflow reads them: SSL unless disabled, then STARTTLS.
    assert smtp_settings_from_airflow_connection(conn({"disable_ssl": False})).security == "ssl"
    assert smtp_settings_from_airflow_connection(conn({"disable_ssl": True})).security == "starttls"
    plain = smtp_settings_from_airflow_connection(conn({"disable_ssl": "true", "disable_tls": True}, port=2525))
    assert (plain.security, plain.port) == ("none", 2525)
    explicit = smtp_settings_from_airflow_connection(conn({"security": "starttls", "from_email": "sw@example.org"}))
    assert (explicit.security, explicit.port, explicit.sender) == ("starttls", 587, "sw@example.org")
    assert explicit.password is not None and explicit.password.get_secret_value() == "p"
    assert "p" not in repr(explicit.password)


# -- the email --------------------------------------------------------------------------


def test_the_email_is_multipart_with_the_story_and_why_it_matched(store: StateStore, mail_sink: MailSink) -> None:
    put_article(store, "https://wire.example/haftar", story="s1", score=0.95)
    put_article(
        store, "https://world.example/gas", story="s2", title="Gas talks in Tripoli", score=0.7, facets=("energy",)
    )
    report = send(store, [rule()], mail_sink, kibana_base_url="http://kibana.example:5601")
    assert (report.emails_sent, report.stories_sent, report.deferred) == (1, 2, 0)

    (mail,) = mail_sink.received
    message = mail.message
    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "[seedwatch] 2 new stories: Haftar plans to visit Turkiye"  # count and top headline
    assert message["To"] == ANALYST and mail.envelope_to == [ANALYST]
    assert message["Message-ID"] == report.messages[0].message_id
    text, html = parts(message)
    for part in (text, html):
        assert "Haftar plans to visit Turkiye" in part and "Gas talks in Tripoli" in part
        assert "regional-wire.example" in part and "Grade 2" in part and "score 0.95" in part
        assert "2025-09-10 11:30 UTC" in part  # published, UTC ...
        assert "2025-09-10 14:30 Europe/Istanbul" in part  # ... and in the analyst's time zone
        assert "Khalifa Haftar" in part and "diplomacy" in part
        assert "kibana.example:5601/app/discover" in part
        assert "Delivered" not in part  # on time
    assert '<a href="https://wire.example/haftar">Haftar plans to visit Turkiye</a>' in html
    assert "<mark>Haftar</mark> will meet Erdogan" in html  # the matched term highlighted
    assert 'name="viewport"' in html  # readable on a phone
    assert html.index("Haftar plans") < html.index("Gas talks")  # the most relevant first


def test_the_email_names_the_topic_by_the_analysts_title_else_by_the_title_drawn_from_the_seeds(
    sqlite_store: StateStore, mail_sink: MailSink
) -> None:
    # A topic with no profile file: its tags carry the title drawn from the seeds.
    put_article(sqlite_store, "https://wire.example/a", story="s1", topic_title="Chile–Peru relations")
    send(sqlite_store, [rule(name="drawn")], mail_sink)
    put_article(sqlite_store, "https://wire.example/b", story="s2", topic_title="Chile–Peru relations")
    send(sqlite_store, [rule(name="curated")], mail_sink, now=NOW, topic_titles={TOPIC: "The analyst's title"})
    headings = [parts(mail.message)[0].splitlines()[0] for mail in mail_sink.received]
    assert headings[0].endswith("story: Chile–Peru relations"), headings
    assert headings[-1].endswith(": The analyst's title"), headings


def test_three_syndicated_copies_are_one_story_in_one_email(store: StateStore, mail_sink: MailSink) -> None:
    put_article(store, "https://wire.example/a", story="s1", outlet="regional-wire.example")
    put_article(store, "https://world.example/a", story="s1", outlet="world-news.example", first_seen=NOW)
    put_article(
        store, "https://press.example/a", story="s1", outlet="regional-press.example", language="fr", first_seen=NOW
    )
    report = send(store, [rule()], mail_sink)
    assert (report.emails_sent, report.stories_sent) == (1, 1)
    (message,) = mail_sink.messages
    assert message["Subject"] == "[seedwatch] 1 new story: Haftar plans to visit Turkiye"
    text, html = parts(message)
    assert text.count("Haftar plans to visit Turkiye") == 1
    assert "Also carried by:" in text
    assert "world-news.example (en) https://world.example/a" in text
    assert "regional-press.example (fr) https://press.example/a" in text
    assert '<a href="https://world.example/a">world-news.example</a> (en)' in html
    assert [(r["story_id"], r["state"]) for r in ledger_rows(store)] == [("s1", "sent")]


def test_a_rerun_or_a_retried_task_sends_nothing(store: StateStore, mail_sink: MailSink) -> None:
    put_article(store, "https://wire.example/a", story="s1")
    put_article(store, "https://world.example/a", story="s1", outlet="world-news.example")
    assert send(store, [rule()], mail_sink).emails_sent == 1
    again = send(store, [rule()], mail_sink)  # an Airflow retry of the same run
    later = send(store, [rule()], mail_sink, now=NOW + timedelta(hours=1))  # the next run
    assert again.emails_sent == later.emails_sent == 0
    assert len(mail_sink.messages) == 1


def test_concurrent_senders_send_one_email(store: StateStore, mail_sink: MailSink) -> None:
    for n in range(5):
        put_article(store, f"https://wire.example/{n}", story=f"s{n}")
    reports = []

    def run() -> None:
        reports.append(send(store, [rule()], mail_sink))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.emails_sent for r in reports) == 1
    assert len(mail_sink.messages) == 1 and "5 new stories" in mail_sink.messages[0]["Subject"]


def test_rule_filters_pick_the_stories(sqlite_store: StateStore, mail_sink: MailSink) -> None:
    put_article(sqlite_store, "https://a.example/1", story="maritime", title="Sea deal", facets=("maritime",))
    put_article(sqlite_store, "https://a.example/2", story="partial", title="Partial", grade=1, score=0.4)
    put_article(sqlite_store, "https://a.example/3", story="other", title="Other actor", actors=("Dbeibah",))
    rules = [
        rule(name="maritime", facets=["maritime"]),
        rule(name="partial-too", min_grade=1, min_score=0.3),
        rule(name="dbeibah", actors=["Dbeibah"]),
        rule(name="high", min_score=0.95),
    ]
    send(sqlite_store, rules, mail_sink)
    subjects = {m["X-Seedwatch-Rule"]: m["Subject"] for m in mail_sink.messages}
    assert subjects == {
        "maritime": "[seedwatch] 1 new story: Sea deal",
        "partial-too": "[seedwatch] 3 new stories: Sea deal",
        "dbeibah": "[seedwatch] 1 new story: Other actor",
    }


# -- updates ----------------------------------------------------------------------------


def test_an_update_only_when_the_story_gains_something_material(store: StateStore, mail_sink: MailSink) -> None:
    put_article(store, "https://wire.example/a", story="s1")
    assert send(store, [rule()], mail_sink).emails_sent == 1

    # Another outlet, same language, nothing new in it: no email.
    put_article(store, "https://world.example/a", story="s1", outlet="world-news.example", first_seen=NOW)
    assert send(store, [rule()], mail_sink, now=NOW + timedelta(minutes=15)).emails_sent == 0

    # A new facet and a new actor: one update, marked as such, saying what is new.
    put_article(
        store,
        "https://press.example/b",
        story="s1",
        outlet="other-wire.example",
        facets=("diplomacy", "military"),
        actors=("Khalifa Haftar", "Recep Tayyip Erdogan"),
        first_seen=NOW + timedelta(minutes=20),
    )
    report = send(store, [rule()], mail_sink, now=NOW + timedelta(minutes=30))
    assert (report.emails_sent, report.updates_sent, report.stories_sent) == (1, 1, 0)
    update = mail_sink.messages[-1]
    assert update["Subject"] == "[seedwatch] 1 update: Haftar plans to visit Turkiye"
    text, html = parts(update)
    assert "UPDATE: new facet: military; new actor: Recep Tayyip Erdogan" in text
    assert "UPDATE: new facet: military" in html
    assert update["Message-ID"] != mail_sink.messages[0]["Message-ID"]

    # A new outlet in another language: an update.
    put_article(
        store,
        "https://arab.example/c",
        story="s1",
        outlet="arab-news.example",
        language="ar",
        first_seen=NOW + timedelta(hours=1),
    )
    report = send(store, [rule()], mail_sink, now=NOW + timedelta(hours=1, minutes=5))
    assert report.updates_sent == 1
    assert "UPDATE: now also in ar: arab-news.example" in parts(mail_sink.messages[-1])[0]

    assert send(store, [rule()], mail_sink, now=NOW + timedelta(hours=2)).emails_sent == 0
    assert len(mail_sink.messages) == 3
    ((_, story_id, latency),) = alert_latencies(store.engine)
    assert story_id == "s1" and latency == 600  # the first alert's: first seen 11:50, sent 12:00
    assert ledger_rows(store)[0]["updates"] == 2


# -- never lost -------------------------------------------------------------------------


def test_smtp_refusing_connections_loses_nothing(store: StateStore, tmp_path: Path) -> None:
    put_article(store, "https://wire.example/a", story="s1")
    sink = MailSink(save_dir=tmp_path / "mail")  # not started yet: its port refuses connections
    down = send(store, [rule()], sink.port)
    assert (down.emails_sent, down.deferred) == (0, 1)
    assert "ConnectionRefusedError" in down.errors[0]
    assert [(r["story_id"], r["state"]) for r in ledger_rows(store)] == [("s1", "deferred")]

    with sink:
        up = send(store, [rule()], sink, now=NOW + timedelta(hours=2))
        again = send(store, [rule()], sink, now=NOW + timedelta(hours=3))
        assert (up.emails_sent, up.stories_sent, again.emails_sent) == (1, 1, 0)
        (message,) = sink.messages
    assert message["Subject"] == "[seedwatch] 1 new story: Haftar plans to visit Turkiye"  # not an update
    text, html = parts(message)
    assert "Delivered 2.0 h late: first attempted 2025-09-10 12:00 UTC; the mail server was unavailable." in text
    assert "<b>Delivered 2.0 h late</b>" in html
    assert [(r["state"], r["latency_s"]) for r in ledger_rows(store)] == [("sent", 2 * 3600 + 600)]


def test_a_new_rule_does_not_email_the_stores_history(store: StateStore, mail_sink: MailSink) -> None:
    put_article(store, "https://wire.example/old", story="old", first_seen=NOW - timedelta(days=5))
    put_article(store, "https://wire.example/new", story="new", title="Kalin meets Saddam Haftar in Benghazi")
    report = send(store, [rule()], mail_sink)  # look-back: 72 hours by default
    assert (report.emails_sent, report.stories_sent) == (1, 1)
    assert "Kalin meets Saddam Haftar" in mail_sink.messages[0]["Subject"]
    wider = send(store, [rule(name="history", lookback_hours=24 * 7)], mail_sink)
    assert wider.stories_sent == 2  # a rule that asks for a week gets the week


def test_an_alert_owed_for_longer_than_the_look_back_still_goes(store: StateStore, tmp_path: Path) -> None:
    put_article(store, "https://wire.example/a", story="s1")
    sink = MailSink(save_dir=tmp_path / "mail")  # down for five days
    assert send(store, [rule()], sink.port).deferred == 1
    with sink:
        late = send(store, [rule()], sink, now=NOW + timedelta(days=5))
        assert (late.emails_sent, late.stories_sent) == (1, 1)


class _Flaky:
    """An SMTP handler that answers 451 (try again later) to the first ``failures`` messages."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.accepted: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        if self.failures > 0:
            self.failures -= 1
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        self.accepted.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_a_server_answering_4xx_loses_nothing(store: StateStore) -> None:
    handler = _Flaky(failures=2)
    controller = Controller(handler, hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        put_article(store, "https://wire.example/a", story="s1")
        first = send(store, [rule()], controller.port)
        put_article(
            store, "https://wire.example/b", story="s2", title="Second story", first_seen=NOW + timedelta(minutes=10)
        )
        second = send(store, [rule()], controller.port, now=NOW + timedelta(minutes=15))
        third = send(store, [rule()], controller.port, now=NOW + timedelta(minutes=45))
        fourth = send(store, [rule()], controller.port, now=NOW + timedelta(minutes=60))
    finally:
        controller.stop()
    assert "SMTPDataError" in first.errors[0] and (first.deferred, second.deferred) == (1, 2)
    assert (third.emails_sent, third.stories_sent, fourth.emails_sent) == (1, 2, 0)
    (raw,) = handler.accepted
    assert b"Delivered 45 min late: first attempted 2025-09-10 12:00 UTC" in raw
    assert b"Delivered 30 min late: first attempted 2025-09-10 12:15 UTC" in raw


def test_a_crash_after_sending_resends_once_with_the_same_message_id(
    store: StateStore, mail_sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_article(store, "https://wire.example/a", story="s1")
    put_article(store, "https://wire.example/b", story="s2", title="Second story")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker died between the send and the record")

    with monkeypatch.context() as patch:
        patch.setattr(sending, "_mark_sent", crash)
        with pytest.raises(RuntimeError):
            send(store, [rule()], mail_sink)
    assert len(mail_sink.messages) == 1  # it went out ...
    rows = ledger_rows(store)
    assert {r["state"] for r in rows} == {"sending"}  # ... but was not recorded
    first_id = mail_sink.messages[0]["Message-ID"]
    assert {r["message_id"] for r in rows} == {first_id}

    # A story arriving meanwhile goes in its own email, not in the resent one.
    put_article(store, "https://wire.example/c", story="s3", title="Third story", first_seen=NOW + timedelta(minutes=5))
    report = send(store, [rule()], mail_sink, now=NOW + timedelta(minutes=10))
    assert report.emails_sent == 2
    resent = [m for m in mail_sink.messages[1:] if m["Message-ID"] == first_id]
    assert len(resent) == 1 and resent[0]["Subject"] == mail_sink.messages[0]["Subject"]
    (other,) = [m for m in mail_sink.messages[1:] if m["Message-ID"] != first_id]
    assert other["Subject"] == "[seedwatch] 1 new story: Third story"
    assert {r["state"] for r in ledger_rows(store)} == {"sent"}
    assert send(store, [rule()], mail_sink, now=NOW + timedelta(hours=1)).emails_sent == 0
    # Two copies of the first email at most, one Message-ID: the mailbox shows it once.
    assert len({m["Message-ID"] for m in mail_sink.messages}) == 2 and len(mail_sink.messages) == 3


def test_a_claim_left_sending_is_delivered_once_with_its_message_id(
    store: StateStore, mail_sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    put_article(store, "https://wire.example/a", story="s1")

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed before the email went out")

    with monkeypatch.context() as patch:
        patch.setattr(sending, "deliver", crash)
        with pytest.raises(RuntimeError):
            send(store, [rule()], mail_sink)
    ((state, claimed_id),) = [(r["state"], r["message_id"]) for r in ledger_rows(store)]
    assert state == "sending" and mail_sink.messages == []

    send(store, [rule()], mail_sink, now=NOW + timedelta(minutes=5))
    send(store, [rule()], mail_sink, now=NOW + timedelta(minutes=10))
    (message,) = mail_sink.messages
    assert message["Message-ID"] == claimed_id
    assert "Delivered 5 min late" in parts(message)[0] and "interrupted" in parts(message)[0]


# -- hostile input ----------------------------------------------------------------------


def test_a_hostile_title_is_escaped_and_cannot_inject_headers(store: StateStore, mail_sink: MailSink) -> None:
    hostile = "Evil\r\nBcc: victim@example.net\r\n\r\n<script>alert('x')</script>\u2028More"
    put_article(
        store,
        "javascript:alert(1)",
        story="s1",
        title=hostile,
        outlet="evil.example",
        sentence="<img src=x onerror=alert(1)>\r\nHaftar",
    )
    put_article(store, "https://ok.example/a", story="s1", outlet="ok.example", title="Fine")
    assert send(store, [rule()], mail_sink).emails_sent == 1
    (mail,) = mail_sink.received
    message = mail.message
    assert mail.envelope_to == [ANALYST]
    assert message["Bcc"] is None and message.get_all("To") == [ANALYST]
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith("[seedwatch] 1 new story: Evil Bcc: victim@example.net <script>")
    text, html = parts(message)
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<img" not in html and "<mark>&lt;img s</mark>rc=x onerror=alert(1)&gt;  Haftar" in html
    assert "javascript:" not in html  # no link to a non-http URL
    assert "Evil Bcc: victim@example.net <script>alert('x')</script> More" in text  # plain text, one line


# -- digests ----------------------------------------------------------------------------


def test_a_daily_digest_goes_once_at_its_local_time(store: StateStore, mail_sink: MailSink) -> None:
    daily = rule(name="morning", mode="daily", daily_at="08:00", timezone="Europe/Athens")  # UTC+3 in September
    day = datetime(2025, 9, 10, tzinfo=UTC)
    put_article(store, "https://wire.example/a", story="s1", first_seen=day + timedelta(hours=2))
    put_article(store, "https://wire.example/b", story="s2", title="Second", first_seen=day + timedelta(hours=3))
    assert send(store, [daily], mail_sink, now=day + timedelta(hours=4, minutes=45)).emails_sent == 0  # 07:45 local
    digest = send(store, [daily], mail_sink, now=day + timedelta(hours=5, minutes=5))  # 08:05 local
    assert (digest.emails_sent, digest.stories_sent) == (1, 2)
    assert "2 new stories" in mail_sink.messages[0]["Subject"]

    put_article(store, "https://wire.example/c", story="s3", title="Third", first_seen=day + timedelta(hours=6))
    for hours in (5.5, 9, 20, 28.9):  # later that day, and the next morning before 08:00 local
        assert send(store, [daily], mail_sink, now=day + timedelta(hours=hours)).emails_sent == 0
    nextday = send(store, [daily], mail_sink, now=day + timedelta(hours=29, minutes=1))
    assert (nextday.emails_sent, nextday.stories_sent) == (1, 1)
    assert mail_sink.messages[1]["Subject"] == "[seedwatch] 1 new story: Third"
    assert "delivered" not in parts(mail_sink.messages[1])[0].lower()  # waiting for the digest is not a delay


def test_a_daily_digest_with_nothing_at_its_time_waits_for_the_next_day(
    sqlite_store: StateStore, mail_sink: MailSink
) -> None:
    daily = rule(mode="daily", daily_at="09:00", timezone="UTC")
    day = datetime(2025, 9, 11, tzinfo=UTC)
    assert send(sqlite_store, [daily], mail_sink, now=day + timedelta(hours=9)).emails_sent == 0  # nothing yet
    put_article(sqlite_store, "https://wire.example/a", story="s1", first_seen=day + timedelta(hours=10))
    assert send(sqlite_store, [daily], mail_sink, now=day + timedelta(hours=10, minutes=15)).emails_sent == 0
    assert send(sqlite_store, [daily], mail_sink, now=day + timedelta(hours=33)).emails_sent == 1  # 09:00 next day


def test_a_new_daily_rule_waits_for_its_first_slot(sqlite_store: StateStore, mail_sink: MailSink) -> None:
    daily = rule(mode="daily", daily_at="09:00", timezone="UTC")
    put_article(sqlite_store, "https://wire.example/a", story="s1")
    assert send(sqlite_store, [daily], mail_sink, now=datetime(2025, 9, 11, 8, 0, tzinfo=UTC)).emails_sent == 0
    assert send(sqlite_store, [daily], mail_sink, now=datetime(2025, 9, 11, 9, 0, tzinfo=UTC)).emails_sent == 1


def test_an_hourly_digest_groups_the_hour(store: StateStore, mail_sink: MailSink) -> None:
    hourly = rule(mode="hourly", timezone="Asia/Kolkata")  # UTC+05:30: the hour turns at :30 UTC
    put_article(store, "https://wire.example/a", story="s1", first_seen=NOW)
    assert send(store, [hourly], mail_sink, now=NOW + timedelta(minutes=5)).emails_sent == 1  # 17:35 local
    put_article(store, "https://wire.example/b", story="s2", title="Second", first_seen=NOW + timedelta(minutes=10))
    put_article(store, "https://wire.example/c", story="s3", title="Third", first_seen=NOW + timedelta(minutes=20))
    assert send(store, [hourly], mail_sink, now=NOW + timedelta(minutes=25)).emails_sent == 0  # 17:55
    assert send(store, [hourly], mail_sink, now=NOW + timedelta(minutes=29)).emails_sent == 0
    report = send(store, [hourly], mail_sink, now=NOW + timedelta(minutes=31))  # 18:01
    assert (report.emails_sent, report.stories_sent) == (1, 2)
    assert send(store, [hourly], mail_sink, now=NOW + timedelta(minutes=50)).emails_sent == 0
    assert len(mail_sink.messages) == 2


def test_a_digest_deferred_by_smtp_goes_on_the_next_run(sqlite_store: StateStore, tmp_path: Path) -> None:
    daily = rule(mode="daily", daily_at="08:00", timezone="UTC")
    put_article(sqlite_store, "https://wire.example/a", story="s1", first_seen=datetime(2025, 9, 10, 6, tzinfo=UTC))
    sink = MailSink(save_dir=tmp_path / "mail")
    assert send(sqlite_store, [daily], sink.port, now=datetime(2025, 9, 10, 8, 0, tzinfo=UTC)).deferred == 1
    with sink:
        # Not tomorrow morning: the next run, as soon as the server answers.
        assert send(sqlite_store, [daily], sink, now=datetime(2025, 9, 10, 8, 15, tzinfo=UTC)).emails_sent == 1
        assert send(sqlite_store, [daily], sink, now=datetime(2025, 9, 10, 8, 30, tzinfo=UTC)).emails_sent == 0
        assert "Delivered 15 min late" in parts(sink.messages[0])[0]


# -- SMTP login ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_login_with_the_configured_credentials(sqlite_store: StateStore) -> None:
    from aiosmtpd.smtp import AuthResult

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"seedwatch" and data.password == b"s3cret")

    handler = _Flaky(failures=0)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=closed_port(),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,  # loopback test without certificates; production uses starttls or ssl
    )
    controller.start()
    try:
        put_article(sqlite_store, "https://wire.example/a", story="s1")
        for password, outcome in (("wrong", "deferred"), ("s3cret", "emails_sent")):
            smtp = SmtpSettings(
                host="127.0.0.1", port=controller.port, username="seedwatch", password=SecretStr(password), timeout_s=5
            )
            assert getattr(send_due_alerts(sqlite_store.engine, [rule()], smtp, now=NOW), outcome) == 1
    finally:
        controller.stop()
    assert logins == [(b"seedwatch", b"wrong"), (b"seedwatch", b"s3cret")] and len(handler.accepted) == 1


# -- operations digest ------------------------------------------------------------------


def _feed_row(store: StateStore, name: str, **values: Any) -> None:
    url = f"https://{name}.example/rss"
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(feeds).values(
                feed_id=stable_id(url), name=name, url=url, outlet=f"{name}.example", total_items=0, **values
            )
        )


def test_the_operations_digest_lists_failing_and_quiet_feeds_and_the_backlog(
    store: StateStore, mail_sink: MailSink
) -> None:
    _feed_row(store, "Broken", consecutive_failures=5, last_error="timed out\r\nBcc: x@example.net")
    _feed_row(store, "Sleepy", consecutive_failures=0, items_per_day=24.0, last_new_item_at=NOW - timedelta(days=1))
    _feed_row(store, "Healthy", consecutive_failures=1, items_per_day=24.0, last_new_item_at=NOW - timedelta(hours=1))
    store.enqueue_for_index(["a1", "a2", "a3"], now=NOW)
    store.outbox_failed("a3", error="mapper_parsing_exception", retryable=False, now=NOW)
    ops = rule(name="ops", kind="operations", recipients=["ops@example.org"], daily_at="07:00", timezone="UTC")
    smtp = smtp_for(mail_sink)

    early = send_operations_digest(store.engine, [ops], smtp, now=NOW.replace(hour=6, minute=55))
    assert early.emails_sent == 0  # not before daily_at
    assert send_operations_digest(store.engine, [ops], smtp, now=NOW).emails_sent == 1
    assert send_operations_digest(store.engine, [ops], smtp, now=NOW + timedelta(hours=3)).emails_sent == 0
    assert send_due_alerts(store.engine, [ops], smtp, now=NOW).emails_sent == 0  # not a story rule

    (message,) = mail_sink.messages
    assert message["Subject"] == "[seedwatch] operations: 4 problem(s)"
    assert message["Bcc"] is None
    body = message.get_content()
    assert "FAILING  Broken: 5 failures in a row; last error: timed out Bcc: x@example.net" in body
    assert "QUIET    Sleepy: no new item since 2025-09-09 12:00 UTC (usually 24.0 a day)" in body
    assert "BACKLOG  2 article(s) waiting for the article index" in body
    assert "REJECTED 1 article(s)" in body
    assert "Healthy" not in body

    tomorrow = send_operations_digest(store.engine, [ops], smtp, now=NOW + timedelta(days=1))
    assert tomorrow.emails_sent == 1 and len(mail_sink.messages) == 2


def test_the_operations_digest_waits_out_an_smtp_outage(sqlite_store: StateStore, tmp_path: Path) -> None:
    _feed_row(sqlite_store, "Broken", consecutive_failures=3, last_error="HTTP 500")
    ops = rule(name="ops", kind="operations", daily_at="08:00", timezone="UTC")
    sink = MailSink(save_dir=tmp_path / "mail")
    down = send_operations_digest(sqlite_store.engine, [ops], smtp_for(sink.port), now=NOW)
    assert down.deferred == 1
    with sink:
        up = send_operations_digest(sqlite_store.engine, [ops], smtp_for(sink), now=NOW + timedelta(hours=1))
        assert up.emails_sent == 1
        assert "Delivered 1.0 h late" in sink.messages[0].get_content()


def test_no_problems_no_operations_email(sqlite_store: StateStore, mail_sink: MailSink) -> None:
    _feed_row(sqlite_store, "Healthy", consecutive_failures=0)
    ops = rule(name="ops", kind="operations", timezone="UTC")
    assert send_operations_digest(sqlite_store.engine, [ops], smtp_for(mail_sink), now=NOW).emails_sent == 0
    assert mail_sink.messages == []
