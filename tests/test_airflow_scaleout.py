"""The monitoring DAG on a production-shaped Airflow: PostgreSQL metadata, LocalExecutor.

Scheduler, DAG processor and API server are real processes; the LocalExecutor runs
the mapped polling and processing tasks in parallel against one PostgreSQL state
store. Two DAG runs over the fixture site: every article is indexed exactly once,
one email goes out once, and no task meets a lock error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seedwatch.airflow_cluster import AirflowCluster
from seedwatch.demo import write_config
from seedwatch.index import open_index
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from seedwatch.settings import load_settings
from seedwatch.store import StateStore
from tests.postgres import fresh_postgres_database

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

DAG_ID = "seedwatch_monitor"
LOCK_ERRORS = re.compile(
    r"deadlock detected|LockNotAvailable|could not obtain lock|database is locked|SerializationFailure"
)


@pytest.fixture
def airflow_metadata_url(postgres_server) -> Iterator[str]:  # noqa: ANN001
    with fresh_postgres_database(postgres_server, "seedwatch_airflow", drivername="postgresql+psycopg") as url:
        yield url


def _indexed_in(cluster: AirflowCluster, run_id: str) -> int:
    with cluster.metadata.connect() as conn:  # Airflow's own XCom table
        value = conn.execute(
            sa.text(
                "SELECT value FROM xcom WHERE dag_id = :dag AND run_id = :run "
                "AND task_id = 'index_articles' AND key = 'indexed'"
            ),
            {"dag": DAG_ID, "run": run_id},
        ).scalar_one()
    # ``-> dict`` tasks push each key as its own XCom (multiple_outputs).
    return int(json.loads(value) if isinstance(value, str) else value)


def test_parallel_dag_runs_on_postgres_index_and_alert_exactly_once(
    tmp_path: Path, news_site: LocalSite, postgres_url: str, airflow_metadata_url: str
) -> None:
    with MailSink() as mail:
        config_dir = write_config(
            tmp_path / "run", site_url=news_site.base_url, smtp_port=mail.port, state_url=postgres_url
        )
        # Small batches, so the mapped tasks outnumber the executor's slots and really overlap.
        batches = {"SEEDWATCH__PIPELINE__FEED_BATCH_SIZE": "1", "SEEDWATCH__PIPELINE__ARTICLE_BATCH_SIZE": "4"}
        with AirflowCluster(
            tmp_path / "airflow", config_dir, airflow_metadata_url, parallelism=4, extra_env=batches
        ) as cluster:
            first = cluster.wait_for_runs(DAG_ID, 1, timeout_s=600)  # unpaused at creation: the scheduler starts one
            cluster.trigger(DAG_ID)
            # A scheduled run may come in between: whichever two finish first are checked.
            runs = cluster.wait_for_runs(DAG_ID, 2, timeout_s=600)[:2]
            run_ids = [run_id for run_id, _ in runs]
            tasks = [t for t in cluster.task_states(DAG_ID) if t[0] in run_ids]
            overlap = cluster.max_concurrent_tasks(DAG_ID)
            indexed = [_indexed_in(cluster, run_id) for run_id in run_ids]
            retried = [t for t in cluster.retried_tasks(DAG_ID) if t[0] in run_ids]
            logs = cluster.task_logs()

        assert [state for _, state in runs] == ["success", "success"], (first, tasks)
        mapped = [t for t in tasks if t[1] == "process_articles" and t[0] == run_ids[0]]
        assert len(mapped) >= 6, mapped  # 30 articles in batches of 4
        # Only the second run's mapped tasks may be skipped: no feed is due yet, no article is new.
        skipped = {(run_ids[1], "poll_feeds", "skipped"), (run_ids[1], "process_articles", "skipped")}
        assert {(t[0], t[1], t[3]) for t in tasks if t[3] != "success"} <= skipped, tasks
        assert overlap >= 2, "the LocalExecutor never ran two tasks at once"
        assert retried == [], "tasks failed and were retried"
        assert not LOCK_ERRORS.search(logs), LOCK_ERRORS.search(logs)

        # Every article indexed exactly once: 30 documents in the first run, none in the second.
        assert indexed == [30, 0]
        settings = load_settings(config_dir, environ={})
        store = StateStore.open(settings.state.url)
        try:
            assert store.count_articles() == 30
            assert store.count_articles(status="processed") == 30
            assert store.outbox_backlog() == {"pending": 0, "dead": 0}
        finally:
            store.close()
        index = open_index(settings.index)
        try:
            assert index.count() == 30
        finally:
            index.close()

        # One email for the first run's stories, none for the second, nothing twice.
        assert len(mail.messages) == 1, [m["subject"] for m in mail.messages]
