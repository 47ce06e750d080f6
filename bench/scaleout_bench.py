"""The pipeline benchmark's workload through a real Airflow with 1, 2 and 4 parallel workers.

Same local site as ``pipeline_bench.py`` (AEB pages under distinct URLs, ``--feeds`` x
``--items`` articles). For each worker count: a fresh PostgreSQL state store, a fresh
Airflow metadata database on PostgreSQL, and an :class:`~seedwatch.airflow_cluster.
AirflowCluster` (scheduler, DAG processor, API server, LocalExecutor with
``parallelism`` = workers). Each processing task analyses its batch in one process
(``pipeline.processes = 1``), so every bit of parallelism comes from Airflow running
mapped tasks side by side. The time is the DAG run's own (its start to its end in
Airflow's metadata), so start-up and database migration are excluded.

    .venv/bin/python bench/scaleout_bench.py --feeds 40 --items 50 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_bench import TreeRss, bench_site, make_config  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DAG_ID = "seedwatch_monitor"


def _create_database(admin: sa.Engine, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return admin.url.set(database=name).render_as_string(hide_password=False)


def _drop_database(admin: sa.Engine, url: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}" WITH (FORCE)'))


def run_with_workers(
    workers: int, bases: list[str], args: argparse.Namespace, work: Path, exclude: set[int]
) -> dict[str, Any]:
    from seedwatch.airflow_cluster import AirflowCluster

    admin = sa.create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    state_url = _create_database(admin, "seedwatch_bench_state")
    metadata_url = _create_database(admin, "seedwatch_bench_airflow")
    try:
        config_dir = make_config(work / f"w{workers}", bases, args.feeds, args.items, args.batch)
        env = {
            "SEEDWATCH__STATE__URL": state_url,
            "SEEDWATCH__PIPELINE__PROCESSES": "1",
            "SEEDWATCH__PIPELINE__FEED_BATCH_SIZE": str(args.feed_batch),
        }
        cluster = AirflowCluster(
            work / f"w{workers}" / "airflow", config_dir, metadata_url, parallelism=workers, extra_env=env
        )
        with cluster, TreeRss(exclude, include_root=False) as rss:
            (run_id, state), *_ = cluster.wait_for_runs(DAG_ID, 1, timeout_s=7200)
            with cluster.metadata.connect() as conn:  # Airflow's own record of the run
                started, ended = conn.execute(
                    sa.text("SELECT start_date, end_date FROM dag_run WHERE dag_id = :d AND run_id = :r"),
                    {"d": DAG_ID, "r": run_id},
                ).one()
            overlap = cluster.max_concurrent_tasks(DAG_ID)
        with sa.create_engine(state_url).connect() as conn:
            processed = conn.execute(sa.text("SELECT count(*) FROM articles WHERE status = 'processed'")).scalar_one()
        seconds = (ended - started).total_seconds()
        return {
            "workers": workers,
            "state": state,
            "seconds": seconds,
            "articles": processed,
            "rate": processed / seconds,
            "peak_mb": rss.peak_mb,
            "overlap": overlap,
        }
    finally:
        _drop_database(admin, state_url)
        _drop_database(admin, metadata_url)
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100, help="articles per mapped processing task")
    parser.add_argument("--feed-batch", type=int, default=5, help="feeds per mapped polling task")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="seedwatch-scaleout-"))
    results = []
    try:
        with bench_site(args.feeds, args.items, args.hosts, args.latency) as (_, bases, server_pid):
            for workers in args.workers:
                results.append(run_with_workers(workers, bases, args, work, {server_pid}))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(results, args, multiprocessing.cpu_count())


def print_table(results: list[dict[str, Any]], args: argparse.Namespace, cores: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"seedwatch_monitor on Airflow (LocalExecutor, PostgreSQL state): {args.feeds} feeds x {args.items} "
        f"items, batches of {args.batch}, {cores} cores"
    )
    for column in (
        "workers",
        "run state",
        "DAG run s",
        "articles",
        "articles/s",
        "speed-up",
        "max tasks at once",
        "peak MB",
    ):
        table.add_column(column, justify="left" if column == "run state" else "right")
    base = results[0]["rate"] if results else 1.0
    for row in results:
        table.add_row(
            str(row["workers"]),
            row["state"],
            f"{row['seconds']:.1f}",
            str(row["articles"]),
            f"{row['rate']:.1f}",
            f"{row['rate'] / base:.2f}x",
            str(row["overlap"]),
            f"{row['peak_mb']:.0f}",
        )
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
