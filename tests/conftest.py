"""Shared fixtures: a local news site, a loopback SMTP server, configurations, stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedwatch.demo import serve_site, write_config
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from tests.postgres import fresh_postgres_database

PG_ADMIN_URL = os.environ.get("SEEDWATCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def news_site() -> Iterator[LocalSite]:
    """The demo's news site (real pages and feeds) on an ephemeral loopback port."""
    with LocalSite() as site:
        serve_site(site)
        yield site


@pytest.fixture
def mail_sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(save_dir=tmp_path / "mail") as sink:
        yield sink


@pytest.fixture
def demo_config(tmp_path: Path, news_site: LocalSite, mail_sink: MailSink) -> Path:
    """A configuration directory pointing at the local site and SMTP server."""
    return write_config(tmp_path / "run", site_url=news_site.base_url, smtp_port=mail_sink.port)


def _postgres_admin_engine():  # noqa: ANN202
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return engine


@pytest.fixture(scope="session")
def postgres_server():  # noqa: ANN201
    try:
        return _postgres_admin_engine()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        pytest.skip(
            f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set SEEDWATCH_PG_URL to run these tests"
        )


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:  # noqa: ANN001
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database(postgres_server, "seedwatch_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The state store contract runs on SQLite always and on PostgreSQL when a server answers."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return request.getfixturevalue("postgres_url")
