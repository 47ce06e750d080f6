"""The whole pipeline in-process, against the demo's news site and a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seedwatch.index import open_index
from seedwatch.mailsink import MailSink
from seedwatch.pipeline import run_once
from seedwatch.settings import load_settings
from seedwatch.store import StateStore

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def first_run(demo_config: Path, mail_sink: MailSink):  # noqa: ANN201
    settings = load_settings(demo_config, environ={})
    return settings, run_once(settings, now=NOW)


def test_a_run_polls_fetches_tags_indexes_and_alerts(first_run, mail_sink: MailSink) -> None:  # noqa: ANN001
    settings, report = first_run
    assert report.poll.feeds_polled == 4
    assert report.poll.feeds_failed == 1  # the HTML page served as a feed, reported, not fatal
    assert report.poll.new_articles == 30
    assert report.process.articles == 30
    assert report.process.fetch_errors == 1  # the page answering 500 ...
    assert report.process.fallback >= 1  # ... is kept from the feed summary
    assert report.process.relevant >= 10
    assert report.dedup.new_stories < report.process.articles  # syndicated copies share stories
    assert report.index.indexed == 30 and report.index.backlog == 0
    assert len(mail_sink.messages) == 1  # one digest for the desk's rule
    subject = mail_sink.messages[0]["subject"]
    assert "Haftar" in subject or "Libya" in subject or "Turk" in subject

    store = StateStore.open(settings.state.url)
    try:
        assert store.count_articles(status="processed") == 30
    finally:
        store.close()
    index = open_index(settings.index)
    try:
        hits = index.search('"Haftar" grade:2').hits
        assert any("Haftar plans to visit Turkiye" in hit.title for hit in hits)
        assert index.count() == 30
    finally:
        index.close()


def test_every_stage_report_travels_as_an_airflow_xcom(first_run) -> None:  # noqa: ANN001
    # The DAG returns each stage's report as asdict(...); Airflow must be able to store it,
    # or the task fails after its work is done (and is retried for nothing).
    from dataclasses import asdict

    from airflow.sdk.serde import serialize

    _, report = first_run
    for stage in (report.poll, report.process, report.dedup, report.index, report.alerts):
        serialize(asdict(stage))
    assert report.alerts.messages and isinstance(report.alerts.messages[0].eml_path, str | None)


def test_a_second_run_adds_nothing_and_sends_nothing(first_run, mail_sink: MailSink) -> None:  # noqa: ANN001
    settings, _ = first_run
    # Feeds are due again a day later; they answer 304 or the same body.
    again = run_once(settings, now=NOW + timedelta(days=1))
    assert again.poll.feeds_polled == 4
    assert again.poll.new_articles == 0
    assert again.index.total_documents == 30
    assert len(mail_sink.messages) == 1


def test_the_seed_story_and_its_wire_copy_are_one_story(first_run) -> None:  # noqa: ANN001
    settings, _ = first_run
    store = StateStore.open(settings.state.url)
    try:
        import sqlalchemy as sa

        from seedwatch.store.schema import articles

        with store.engine.connect() as conn:
            stories = (
                conn.execute(sa.select(articles.c.story_id).where(articles.c.url.like("%haftar-turkiye-visit.html")))
                .scalars()
                .all()
            )
    finally:
        store.close()
    assert len(stories) == 2 and len(set(stories)) == 1


def test_a_batch_that_fails_part_way_keeps_what_it_saved_and_releases_the_rest(
    demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Analyses are saved while later pages are still processed; a failure loses none of them."""
    from seedwatch import pipeline, processing

    settings = load_settings(demo_config, environ={})
    for batch in pipeline.plan_feed_batches(settings, now=NOW):
        pipeline.poll_feeds(settings, batch, now=NOW)
    ids = [article_id for batch in pipeline.plan_article_batches(settings, now=NOW) for article_id in batch]
    assert len(ids) == 30
    real_save, saves = StateStore.save_processed_many, []

    def save_then_fail(self: StateStore, results, *, owner: str) -> list[bool]:  # noqa: ANN001
        saves.append(len(results))
        if len(saves) == 3:
            raise RuntimeError("database went away")
        return real_save(self, results, owner=owner)

    monkeypatch.setattr(processing, "SAVE_EVERY", 5)
    monkeypatch.setattr(StateStore, "save_processed_many", save_then_fail)
    with pytest.raises(RuntimeError, match="database went away"):
        pipeline.process_articles(settings, ids, now=NOW)
    monkeypatch.setattr(StateStore, "save_processed_many", real_save)
    store = StateStore.open(settings.state.url)
    try:
        assert saves[:2] == [5, 5]
        assert store.count_articles(status="processed") == 10
        # The other 20 are not leased any more: the next run takes them at once.
        assert len(store.processable_article_ids(now=NOW, max_attempts=3, limit=100)) == 20
    finally:
        store.close()
    assert pipeline.process_articles(settings, ids, now=NOW).articles == 20
