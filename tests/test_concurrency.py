"""Several pipeline processes on one PostgreSQL state store at the same moment.

No Airflow here: N real processes run ``run_once`` against the same store and the
same local news site; what they leave behind must equal what one run leaves.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seedwatch.demo import write_config
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink
from tests.postgres import fresh_postgres_database
from tests.run_outcome import run_outcome

RUN = """
import sys
from datetime import datetime, UTC
from pathlib import Path
from seedwatch.pipeline import run_once
from seedwatch.settings import load_settings
run_once(load_settings(Path(sys.argv[1]), environ={}), now=datetime(2025, 9, 10, 12, tzinfo=UTC))
"""


def test_concurrent_runs_equal_a_single_run(
    tmp_path: Path, news_site: LocalSite, postgres_url: str, postgres_server
) -> None:  # noqa: ANN001
    with fresh_postgres_database(postgres_server, "seedwatch_single") as single_db:
        with MailSink() as single_mail, MailSink() as shared_mail:
            single = write_config(
                tmp_path / "single", site_url=news_site.base_url, smtp_port=single_mail.port, state_url=single_db
            )
            shared = write_config(
                tmp_path / "shared", site_url=news_site.base_url, smtp_port=shared_mail.port, state_url=postgres_url
            )
            subprocess.run([sys.executable, "-c", RUN, str(single)], check=True, timeout=300, capture_output=True)
            workers = [
                subprocess.Popen([sys.executable, "-c", RUN, str(shared)], stderr=subprocess.PIPE, text=True)
                for _ in range(3)
            ]
            for worker in workers:
                _, err = worker.communicate(timeout=300)
                assert worker.returncode == 0, err[-3000:]
            alone, together = run_outcome(single), run_outcome(shared)
            assert together["articles"] == alone["articles"]
            assert len(together["articles"]) == 30
            assert together["stories"] == alone["stories"]
            assert together["outbox"] == alone["outbox"] == 0
            assert len(shared_mail.messages) == len(single_mail.messages) == 1
            assert shared_mail.messages[0]["subject"] == single_mail.messages[0]["subject"]
