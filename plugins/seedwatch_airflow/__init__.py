"""Airflow glue for seedwatch: settings for a task, its run time, the SMTP connection.

Airflow puts ``plugins/`` on ``sys.path``; this package is imported by the DAG
files at parse time, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from seedwatch.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
SMTP_CONNECTION_ID = "seedwatch_smtp"


def config_dir() -> Path:
    return Path(os.environ.get("SEEDWATCH_CONFIG_DIR", PROJECT_DIR / "config"))


def monitor_schedule() -> str:
    """The monitoring DAG's cron, read cheaply at parse time (``pipeline.schedule``)."""
    import yaml

    path = config_dir() / "seedwatch.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return str((data.get("pipeline") or {}).get("schedule") or "*/15 * * * *")
    except (OSError, yaml.YAMLError, AttributeError):
        return "*/15 * * * *"  # an invalid file is reported by the first task, not at parse time


def run_time() -> datetime:
    """The run's reference time: the end of its data interval, else when it was queued."""
    from datetime import UTC, datetime

    from airflow.sdk import get_current_context

    context = get_current_context()
    moment = context.get("data_interval_end") or context["dag_run"].run_after
    # The one place pendulum enters seedwatch: hand every stage a plain aware datetime,
    # since a pendulum DateTime's astimezone(UTC) plus a timedelta comes out naive.
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def settings_for_task(*, smtp_connection: bool = False) -> Settings:
    """The validated settings; with ``smtp_connection``, SMTP from the Airflow connection if defined."""
    from seedwatch.settings import load_settings

    settings = load_settings(config_dir())
    if smtp_connection:
        from seedwatch_airflow.smtp import smtp_from_connection

        smtp = smtp_from_connection(SMTP_CONNECTION_ID)
        if smtp is not None:
            settings.smtp = smtp
    return settings
