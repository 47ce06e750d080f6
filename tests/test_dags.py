"""The DAGs, loaded and run by Airflow itself (SQLite metadata database)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seedwatch.airflow_runner import PROJECT_DIR, airflow_env
from seedwatch.airflow_runner import run_dag_test as run_dag
from seedwatch.mailsink import MailSink
from seedwatch.settings import load_settings
from seedwatch.store import StateStore

pytestmark = pytest.mark.airflow

DAGBAG_CHECK = """
import json, time
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder={dags!r})
elapsed = time.perf_counter() - started
print(json.dumps({{
    "errors": {{k: str(v) for k, v in bag.import_errors.items()}},
    "elapsed": elapsed,
    "dags": {{dag_id: {{
        "tags": sorted(dag.tags), "owner": dag.owner,
        "retries": [t.retries for t in dag.tasks], "doc": bool(dag.doc_md),
        "max_active_runs": dag.max_active_runs,
    }} for dag_id, dag in bag.dags.items()}},
}}))
"""


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import json

    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home, PROJECT_DIR / "config")
    script = DAGBAG_CHECK.format(dags=str(PROJECT_DIR / "dags"))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_dag_imports_without_errors(dagbag: dict) -> None:
    assert dagbag["errors"] == {}
    assert "seedwatch_monitor" in dagbag["dags"]


def test_dags_have_tags_owner_retries_and_docs(dagbag: dict) -> None:
    for dag_id, dag in dagbag["dags"].items():
        assert dag["tags"], dag_id
        assert dag["owner"] == "seedwatch", dag_id
        assert all(retries >= 1 for retries in dag["retries"]), dag_id
        assert dag["doc"], dag_id
        assert dag["max_active_runs"] == 1, dag_id


def test_dag_files_parse_quickly(dagbag: dict) -> None:
    # No network, database or heavy import at the top level of a DAG file.
    assert dagbag["elapsed"] < 5.0


HEAVY_MODULES = (
    "trafilatura",
    "elasticsearch",
    "feedparser",
    "datasketch",
    "lxml.html",
    "seedwatch.pipeline",
    "seedwatch.settings",
)


def test_dag_files_import_nothing_heavy_at_top_level() -> None:
    # Compared with what airflow.sdk itself imports, a DAG file adds nothing heavy.
    script = (
        "import sys; sys.path[:0] = [{plugins!r}, {root!r}]\n"
        "import airflow.sdk\n"
        "import runpy; runpy.run_path({dag!r})\n"
        "print(','.join(m for m in {heavy!r} if m in sys.modules))"
    ).format(
        plugins=str(PROJECT_DIR / "plugins"),
        root=str(PROJECT_DIR),
        dag=str(PROJECT_DIR / "dags" / "seedwatch_monitor.py"),
        heavy=HEAVY_MODULES,
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == ""


def test_a_full_dag_run_indexes_tags_and_emails_once(demo_config: Path, mail_sink: MailSink, tmp_path: Path) -> None:
    env = airflow_env(tmp_path / "airflow", demo_config)
    started = time.perf_counter()
    first = run_dag("seedwatch_monitor", env)
    assert first.returncode == 0, (first.stdout[-3000:], first.stderr[-3000:])

    settings = load_settings(demo_config, environ={})
    store = StateStore.open(settings.state.url)
    try:
        assert store.count_articles() == 30
        assert store.count_articles(status="processed") == 30
        assert store.outbox_backlog() == {"pending": 0, "dead": 0}
        relevant = store.count_articles(best_grade=2)
        assert relevant >= 10
    finally:
        store.close()
    assert len(mail_sink.messages) == 1, [m["subject"] for m in mail_sink.messages]
    message = mail_sink.messages[0]
    assert message.get_body(("html",)) is not None and message.get_body(("plain",)) is not None

    # The same feeds again (all due: the run time moved on): nothing new, no email.
    second = run_dag("seedwatch_monitor", env)
    assert second.returncode == 0, second.stderr[-3000:]
    store = StateStore.open(settings.state.url)
    try:
        assert store.count_articles() == 30
    finally:
        store.close()
    assert len(mail_sink.messages) == 1
    assert _retried_tasks(env) == [], "a task failed and was retried"
    assert time.perf_counter() - started < 600


def _retried_tasks(env: dict[str, str]) -> list[tuple[str, str, int]]:
    import sqlite3

    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as conn:
        return conn.execute("SELECT run_id, task_id, try_number FROM task_instance WHERE try_number > 1").fetchall()
