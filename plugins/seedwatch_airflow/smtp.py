"""SMTP settings from an Airflow connection (``seedwatch_smtp``), when one is defined."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from seedwatch.alerting import SmtpSettings

log = structlog.get_logger(__name__)


def smtp_from_connection(conn_id: str) -> SmtpSettings | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException, AirflowRuntimeError

    from seedwatch.alerting import smtp_settings_from_airflow_connection

    try:
        connection = BaseHook.get_connection(conn_id)
    except (AirflowNotFoundException, AirflowRuntimeError):  # 3.x raises either, by version
        log.info("smtp.connection_absent", conn_id=conn_id, using="seedwatch settings")
        return None
    return smtp_settings_from_airflow_connection(connection)
