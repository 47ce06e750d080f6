"""
### seedwatch_monitor

One run polls every due feed, fetches and extracts the new articles, tags their
relevance to each topic, groups copies into stories, indexes them and sends the
alerts that are due. Polling and processing are mapped over batches, so work
spreads across workers and a failing batch fails only its own branch; the later
stages run whatever happened upstream (``all_done``) and pick up what is waiting.

The logic lives in ``seedwatch.pipeline``; this file only wires it. Tasks hand each
other ids and counts; articles and all pipeline state live in seedwatch's store.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from seedwatch_airflow import config_dir, monitor_schedule, run_time, settings_for_task


def task_timeout() -> timedelta:
    """``pipeline.task_timeout_s`` (default 1800), read cheaply at parse time like the schedule."""
    import yaml

    try:
        data = yaml.safe_load((config_dir() / "seedwatch.yaml").read_text(encoding="utf-8")) or {}
        seconds = int((data.get("pipeline") or {}).get("task_timeout_s") or 1800)
    except (OSError, yaml.YAMLError, AttributeError, TypeError, ValueError):
        seconds = 1800  # an invalid file is reported by the first task, not at parse time
    return timedelta(seconds=max(seconds, 60))


DEFAULT_ARGS = {
    "owner": "seedwatch",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    # Every task: a hung one (a silent server, a stuck statement) is killed and retried
    # instead of blocking every later run under max_active_runs=1.
    "execution_timeout": task_timeout(),
}


@dag(
    dag_id="seedwatch_monitor",
    schedule=monitor_schedule(),
    start_date=datetime(2025, 9, 1),
    catchup=False,
    max_active_runs=1,  # runs never overlap; the store's leases guard the rest
    default_args=DEFAULT_ARGS,
    tags=["seedwatch", "monitoring"],
    doc_md=__doc__,
)
def seedwatch_monitor() -> None:
    @task
    def plan_feed_batches() -> list[list[str]]:
        from seedwatch import pipeline

        return pipeline.plan_feed_batches(settings_for_task(), now=run_time())

    @task(max_active_tis_per_dagrun=8)
    def poll_feeds(feed_ids: list[str]) -> dict:
        from dataclasses import asdict

        from seedwatch import pipeline

        return asdict(pipeline.poll_feeds(settings_for_task(), feed_ids, now=run_time()))

    @task(trigger_rule="all_done")
    def plan_article_batches() -> list[list[str]]:
        from seedwatch import pipeline

        return pipeline.plan_article_batches(settings_for_task(), now=run_time())

    @task(max_active_tis_per_dagrun=8)
    def process_articles(article_ids: list[str]) -> dict:
        from dataclasses import asdict

        from seedwatch import pipeline

        return asdict(pipeline.process_articles(settings_for_task(), article_ids, now=run_time()))

    @task(trigger_rule="all_done")
    def assign_stories() -> dict:
        from dataclasses import asdict

        from seedwatch import pipeline

        return asdict(pipeline.assign_stories(settings_for_task(), now=run_time()))

    @task(trigger_rule="all_done")
    def index_articles() -> dict:
        from dataclasses import asdict

        from seedwatch import pipeline

        return asdict(pipeline.index_articles(settings_for_task(), now=run_time()))

    @task(trigger_rule="all_done")
    def send_alerts() -> dict:
        from dataclasses import asdict

        from seedwatch import pipeline

        return asdict(pipeline.send_alerts(settings_for_task(smtp_connection=True), now=run_time()))

    polled = poll_feeds.expand(feed_ids=plan_feed_batches())
    article_batches = plan_article_batches()
    polled >> article_batches
    processed = process_articles.expand(article_ids=article_batches)
    processed >> assign_stories() >> index_articles() >> send_alerts()


seedwatch_monitor()
