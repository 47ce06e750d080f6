"""Every DAG task carries an ``execution_timeout`` from ``pipeline.task_timeout_s`` (issue 16).

Without one, a task stuck on a silent server held the DAG (``max_active_runs=1``) and every
later run for ever. Loaded by Airflow's own DagBag, in a child process, from a configuration
directory that sets the timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seedwatch.airflow_runner import PROJECT_DIR, airflow_env
from seedwatch.settings import load_settings

pytestmark = pytest.mark.airflow

TIMEOUTS = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder={dags!r})
print(json.dumps({{
    "errors": {{k: str(v) for k, v in bag.import_errors.items()}},
    "timeouts": {{
        f"{{dag_id}}.{{t.task_id}}": t.execution_timeout and t.execution_timeout.total_seconds()
        for dag_id, dag in bag.dags.items() for t in dag.tasks
    }},
}}))
"""


def _task_timeouts(tmp_path: Path, seedwatch_yaml: dict) -> dict[str, float | None]:
    config = tmp_path / "config"
    config.mkdir()
    (config / "seedwatch.yaml").write_text(yaml.safe_dump(seedwatch_yaml), encoding="utf-8")
    env = airflow_env(tmp_path / "airflow", config)
    script = TIMEOUTS.format(dags=str(PROJECT_DIR / "dags"))
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    return found["timeouts"]


def test_every_task_has_the_configured_execution_timeout(tmp_path: Path) -> None:
    timeouts = _task_timeouts(tmp_path, {"pipeline": {"task_timeout_s": 600}})
    assert len(timeouts) >= 7
    assert set(timeouts.values()) == {600.0}, timeouts


def test_the_default_timeout_is_the_settings_default(tmp_path: Path) -> None:
    timeouts = _task_timeouts(tmp_path, {})
    assert set(timeouts.values()) == {float(load_settings(tmp_path / "config", environ={}).pipeline.task_timeout_s)}
