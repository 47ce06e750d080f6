"""The product as a user installs it: the built wheel in a fresh virtual environment.

Every other test imports seedwatch from the checkout, so none of them can see a file
the wheel does not ship. This one builds the wheel, installs it (not editable) with
the pinned dependencies of ``requirements.lock`` into a new virtual environment, and
runs it from an empty working directory with ``SEEDWATCH_CONFIG_DIR`` pointing at a
configuration written here, so no ``config/`` of the checkout is in reach:

1. what ``seedwatch-init`` runs before it talks to a cluster (``docker/init_stack.py
   --dry-run``, the script the image runs, importing the installed package): index
   templates, percolator mapping, alert rules, Kibana objects for the configured
   prefix; with ``SEEDWATCH_ES_URL`` set it really installs them in that cluster;
2. a whole pipeline run (``seedwatch run --once``) over the local news site, then a search of
   the article index: articles stored, the relevant ones tagged, an alert email
   received by the local SMTP server.

Slow-ish (a wheel build and a virtual environment from uv's cache): deselect with
``-m "not installed"``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from seedwatch.demo import demo_feeds
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink

pytestmark = pytest.mark.installed

ROOT = Path(__file__).resolve().parents[1]
ES_URL = os.environ.get("SEEDWATCH_ES_URL")
ANALYST = "analyst@example.org"
PREFIX = f"swinst-{uuid.uuid4().hex[:8]}"  # its own index prefix, so a shared cluster is safe


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def _uv() -> str:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (make install puts it in .venv)")
    return uv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding the built wheel and the locked dependencies."""
    uv, base = _uv(), tmp_path_factory.mktemp("installed")
    # Build from a copy of the tracked files, so nothing the checkout holds besides them
    # (var/, .venv, egg-info) can slip into the wheel.
    source = base / "source"
    files = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT).split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    _run([uv, "build", "--wheel", "--out-dir", str(base / "dist"), str(source)], cwd=base)
    (wheel,) = (base / "dist").glob("seedwatch-*.whl")
    venv = base / "venv"
    _run([uv, "venv", "--python", sys.executable, str(venv)], cwd=base)
    python = venv / "bin" / "python"
    _run([uv, "pip", "install", "--python", str(python), "-r", str(ROOT / "requirements.lock")], cwd=base)
    _run([uv, "pip", "install", "--python", str(python), "--no-deps", "--reinstall", str(wheel)], cwd=base)
    return venv


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    from seedwatch.demo import serve_site

    with LocalSite() as local_site:
        serve_site(local_site)
        yield local_site


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, site: LocalSite, mail: MailSink) -> Path:
    """A user's project directory: config/ (settings, feeds, alerts, topic profiles) and seeds/.

    Relative paths in seedwatch.yaml resolve against it (the parent of the configuration
    directory), as they do in the Docker image's /opt/seedwatch."""
    base = tmp_path_factory.mktemp("project")
    config = base / "config"
    shutil.copytree(ROOT / "config" / "topics", config / "topics")
    shutil.copytree(ROOT / "seeds", base / "seeds")
    topics = sorted(p.name for p in (base / "seeds").iterdir() if p.is_dir())
    settings = {
        "index": {"backend": "sqlite", "elasticsearch": {"index_prefix": PREFIX}},
        "http": {"allow_networks": ["127.0.0.1/32"], "per_host_concurrency": 8},
        "smtp": {"host": "127.0.0.1", "port": mail.port, "security": "none", "sender": "seedwatch@localhost"},
    }
    alerts = [
        {"name": f"{topic}-desk", "recipients": [ANALYST], "topic": topic, "min_grade": 2, "mode": "immediate"}
        for topic in topics
    ]
    alerts.append({"name": "query-rule", "recipients": [ANALYST], "topic": topics[0], "query": "grade:2"})
    files = {
        "seedwatch.yaml": settings,
        "feeds.yaml": {"feeds": demo_feeds(site.base_url)},
        "alerts.yaml": {"rules": alerts},
    }
    for name, data in files.items():
        (config / name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return base


@pytest.fixture
def run_installed(installed: Path, project: Path, tmp_path: Path):  # noqa: ANN201 - a small helper
    """Run a command of the installed environment from an empty directory outside the checkout."""
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {
        "PATH": f"{installed / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SEEDWATCH_CONFIG_DIR": str(project / "config"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    for name, value in os.environ.items():  # a cluster's address, credentials and CA, if the run has one
        if name.startswith(("SEEDWATCH_ES_", "SEEDWATCH__INDEX__ELASTICSEARCH__")):
            env[name] = value

    def run(*args: str, timeout: float = 300) -> str:
        return _run([str(a) for a in args], cwd=workdir, env=env, timeout=timeout)

    return run


def test_seedwatch_is_imported_from_the_installed_wheel(installed: Path, run_installed) -> None:  # noqa: ANN001
    where = run_installed(installed / "bin" / "python", "-c", "import seedwatch; print(seedwatch.__file__)")
    assert Path(where.strip()).is_relative_to(installed), where
    assert not Path(where.strip()).is_relative_to(ROOT)


def test_templates_percolator_and_kibana_objects_load_from_the_package(installed: Path, run_installed) -> None:  # noqa: ANN001
    python = installed / "bin" / "python"
    probe = (
        "import json; from seedwatch.settings import load_settings; "
        "from seedwatch.index.elastic import articles_template, feeds_template, percolator_index_body; "
        "es = load_settings().index.elasticsearch; "
        "print(json.dumps({'articles': articles_template(es)['index_patterns'], "
        "'feeds': feeds_template(es)['index_patterns'], "
        "'query': percolator_index_body()['mappings']['properties']['query']['type']}))"
    )
    loaded = json.loads(run_installed(python, "-c", probe))
    assert loaded == {"articles": [f"{PREFIX}-articles-v*"], "feeds": [f"{PREFIX}-feeds"], "query": "percolator"}

    # What seedwatch-init runs in the image: the script beside the installed package.
    init = ROOT / "docker" / "init_stack.py"
    out = run_installed(python, init, "--dry-run")
    assert f"template {PREFIX}-articles: ['{PREFIX}-articles-v*']" in out
    assert "1 rule(s)" in out  # the query rule, parsed for the percolator
    assert "Kibana objects seedwatch.ndjson" in out
    kibana = run_installed(python, ROOT / "docker" / "kibana_objects.py")
    objects = [json.loads(line) for line in kibana.splitlines()]
    assert {obj["id"] for obj in objects if obj["type"] == "index-pattern"} == {f"{PREFIX}-articles", f"{PREFIX}-feeds"}
    assert all(obj["coreMigrationVersion"] == "8.8.0" for obj in objects)
    if ES_URL:  # a real cluster: install the templates, index, aliases and rules in it, then look
        from test_index_contract import delete_es_prefix, es_settings

        from seedwatch.index.elastic import make_client

        settings = es_settings(PREFIX)
        try:
            out = run_installed(python, init, "--skip-kibana")
            assert "1 alert rule(s) installed" in out, out
            client = make_client(settings.elasticsearch)
            assert client.indices.exists_index_template(name=f"{PREFIX}-articles")
            assert client.indices.exists_alias(name=f"{PREFIX}-articles")
            assert client.indices.exists(index=f"{PREFIX}-feeds")
            client.indices.refresh(index=f"{PREFIX}-alert-rules")
            assert client.count(index=f"{PREFIX}-alert-rules")["count"] == 1
            client.close()
        finally:
            delete_es_prefix(settings)


def test_the_demo_from_an_installed_wheel_says_it_needs_a_checkout(installed: Path, tmp_path: Path) -> None:
    env = {"PATH": f"{installed / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [str(installed / "bin" / "seedwatch"), "demo", "--no-airflow"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "runs from a checkout" in done.stdout and "make demo" in done.stdout, done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert not list(installed.rglob("var/demo"))  # nothing written into the installed package


# The configured article index, searched through the installed package's public API.
SEARCH = (
    "import json, sys; from seedwatch.settings import load_settings; from seedwatch.index import open_index; "
    "index = open_index(load_settings().index); hits = index.search(sys.argv[1], limit=500).hits; "
    "print(json.dumps([{'url': h.url, 'grade': h.grade, 'facets': list(h.facets)} for h in hits]))"
)


def test_a_whole_run_over_the_local_site(installed: Path, run_installed, mail: MailSink) -> None:  # noqa: ANN001
    seedwatch = installed / "bin" / "seedwatch"
    report = run_installed(seedwatch, "run", "--once", timeout=600)
    assert "new articles" in report, report

    python = installed / "bin" / "python"
    hits = json.loads(run_installed(python, "-c", SEARCH, "grade:>=0"))
    assert len(hits) >= 20, report  # the demo site's articles, stored and indexed
    relevant = json.loads(run_installed(python, "-c", SEARCH, "grade:relevant"))
    assert relevant and all(hit["grade"] == 2 for hit in relevant), relevant
    assert any(hit["facets"] for hit in relevant)  # tagged, not only graded

    received = mail.received
    assert received, "no alert email received"
    assert all(mail_.envelope_to == [ANALYST] for mail_ in received)
    bodies = " ".join(m.message.get_body(preferencelist=("plain", "html")).get_content() for m in received)
    assert any(hit["url"] in bodies for hit in relevant)  # the email names relevant articles
