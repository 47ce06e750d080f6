"""Run seedwatch's DAGs with the real Airflow, in a self-contained AIRFLOW_HOME.

Used by the demo and the tests: SQLite metadata database, no examples, DAGs and
plugins from this checkout. Airflow runs in a subprocess so its configuration and
logging never leak into the caller.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def airflow_env(home: Path, config_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow process for seedwatch, rooted at ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_DIR / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_DIR / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "SEEDWATCH_CONFIG_DIR": str(config_dir),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(PROJECT_DIR), str(PROJECT_DIR / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    env.update(extra or {})
    return env


def airflow_command(*args: str) -> list[str]:
    """``python -m airflow ...``, not the ``airflow`` script: the analysis workers of a task
    would re-import a script ``__main__`` (all of Airflow, ~60 MB each), but not a package's
    ``__main__`` module (see ``seedwatch/workers.py``)."""
    return [sys.executable, "-m", "airflow", *args]


def ensure_metadata_db(env: dict[str, str]) -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    marker = Path(env["AIRFLOW_HOME"]) / ".seedwatch-db-ready"
    if marker.exists():
        return
    subprocess.run(airflow_command("db", "migrate"), env=env, check=True, capture_output=True, text=True)
    marker.touch()


def run_dag_test(dag_id: str, env: dict[str, str], *, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    """``airflow dags test DAG_ID``: one full run of the DAG by Airflow, output captured."""
    ensure_metadata_db(env)
    return subprocess.run(
        airflow_command("dags", "test", dag_id), env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
