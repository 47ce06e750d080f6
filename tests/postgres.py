"""Throw-away PostgreSQL databases for tests (the fixtures in conftest.py and the Airflow tests)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def fresh_postgres_database(server, prefix: str, drivername: str | None = None) -> Iterator[str]:  # noqa: ANN001
    """Create an empty database on ``server`` and yield its URL; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with server.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = server.url.set(database=name)
    if drivername:
        url = url.set(drivername=drivername)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
