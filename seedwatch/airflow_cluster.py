"""A real Airflow deployment on this machine: PostgreSQL metadata, a parallel executor.

``airflow dags test`` runs every task in one process; production runs a scheduler,
a DAG processor, an API server and an executor whose workers run tasks in
parallel. ``AirflowCluster`` starts exactly that, with the LocalExecutor, so tests
and benchmarks can prove that seedwatch's stages are safe and faster when tasks
really overlap.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from seedwatch.airflow_runner import airflow_command, airflow_env, ensure_metadata_db

FINISHED_STATES = ("success", "failed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _async_url(metadata_url: str) -> str:
    return metadata_url.replace("postgresql+psycopg://", "postgresql+psycopg_async://", 1)


@dataclass
class AirflowCluster:
    """Scheduler, DAG processor and API server over one AIRFLOW_HOME.

    ``metadata_url`` is a PostgreSQL database of its own (``postgresql+psycopg://…``);
    ``parallelism`` caps how many task instances run at once.
    """

    home: Path
    config_dir: Path
    metadata_url: str
    parallelism: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False)
    _engine: sa.Engine | None = field(default=None, init=False)

    @property
    def env(self) -> dict[str, str]:
        port = str(self._api_port)
        extra = {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": _async_url(self.metadata_url),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(self.parallelism),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API__PORT": port,
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # Airflow starts task processes by name (``airflow``): put this venv first.
            "PATH": os.pathsep.join([str(Path(airflow_command()[0]).parent), os.environ.get("PATH", "")]),
        }
        return airflow_env(self.home, self.config_dir, {**extra, **self.extra_env})

    def __post_init__(self) -> None:
        self._api_port = _free_port()
        self._jwt_secret = secrets.token_urlsafe(32)

    def __enter__(self) -> AirflowCluster:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        env = self.env
        ensure_metadata_db(env)
        self._engine = sa.create_engine(self.metadata_url, pool_pre_ping=True)
        services = [
            ("api-server", "--host", "127.0.0.1", "--port", str(self._api_port)),
            ("scheduler",),
            ("dag-processor",),
        ]
        logs = self.home / "service-logs"
        logs.mkdir(parents=True, exist_ok=True)
        for args in services:
            log_file = (logs / f"{'-'.join(args[:2])}.log").open("ab")
            self._processes.append(
                subprocess.Popen(
                    airflow_command(*args), env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        self._wait_for_api()

    def _wait_for_api(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._raise_if_a_service_died()
            try:
                with socket.create_connection(("127.0.0.1", self._api_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"Airflow's API server did not listen on port {self._api_port} within {timeout_s:.0f} s")

    def _raise_if_a_service_died(self) -> None:
        for process in self._processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Airflow service {' '.join(map(str, process.args[1:3]))} exited with {process.returncode}; "
                    f"see {self.home / 'service-logs'}"
                )

    def stop(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self._processes.clear()
        if self._engine is not None:
            self._engine.dispose()

    @property
    def metadata(self) -> sa.Engine:
        """Airflow's metadata database, for reading what the runs recorded."""
        assert self._engine is not None, "start() the cluster first"
        return self._engine

    def trigger(self, dag_id: str) -> None:
        subprocess.run(airflow_command("dags", "trigger", dag_id), env=self.env, check=True, capture_output=True)

    def runs(self, dag_id: str) -> list[tuple[str, str]]:
        """(run_id, state) of every run of ``dag_id``, oldest first."""
        with self.metadata.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT run_id, state FROM dag_run WHERE dag_id = :dag ORDER BY id"), {"dag": dag_id}
            ).all()
        return [(str(run_id), str(state)) for run_id, state in rows]

    def wait_for_runs(self, dag_id: str, count: int, *, timeout_s: float = 900) -> list[tuple[str, str]]:
        """Block until ``count`` runs of ``dag_id`` have finished; their (run_id, state)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._raise_if_a_service_died()
            finished = [run for run in self.runs(dag_id) if run[1] in FINISHED_STATES]
            if len(finished) >= count:
                return finished
            time.sleep(1)
        raise TimeoutError(f"{dag_id}: fewer than {count} runs finished within {timeout_s:.0f} s: {self.runs(dag_id)}")

    def task_states(self, dag_id: str) -> list[tuple[str, str, int, str]]:
        """(run_id, task_id, map_index, state) of every task instance of ``dag_id``."""
        with self.metadata.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT run_id, task_id, map_index, state FROM task_instance WHERE dag_id = :dag"),
                {"dag": dag_id},
            ).all()
        return [(str(r), str(t), int(m), str(s)) for r, t, m, s in rows]

    def retried_tasks(self, dag_id: str) -> list[tuple[str, str, int]]:
        """(run_id, task_id, map_index) of every task instance that needed more than one try."""
        with self.metadata.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT run_id, task_id, map_index FROM task_instance WHERE dag_id = :dag AND try_number > 1"),
                {"dag": dag_id},
            ).all()
        return [(str(r), str(t), int(m)) for r, t, m in rows]

    def max_concurrent_tasks(self, dag_id: str) -> int:
        """The most task instances of ``dag_id`` that were running at the same moment."""
        with self.metadata.connect() as conn:
            spans = conn.execute(
                sa.text(
                    "SELECT start_date, end_date FROM task_instance "
                    "WHERE dag_id = :dag AND start_date IS NOT NULL AND end_date IS NOT NULL"
                ),
                {"dag": dag_id},
            ).all()
        events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
        running = peak = 0
        for _, step in events:
            running += step
            peak = max(peak, running)
        return peak

    def task_logs(self) -> str:
        """Every task log and service log, concatenated (for grepping after a run)."""
        parts = [path.read_text(errors="replace") for path in sorted(self.home.rglob("*.log"))]
        return "\n".join(parts)
