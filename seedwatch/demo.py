"""The offline demo: a local news site, a local SMTP server, one real DAG run.

Everything it needs is in this checkout (``demo/site``, built from real pages,
feeds and labelled news items; ``seeds/``; ``config/topics``). State is kept in
``var/demo`` between runs, so running the demo again shows what a second
scheduled run does: nothing new, no email. ``--fresh`` starts over.
"""

from __future__ import annotations

import shutil
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from rich.console import Console
from rich.text import Text

from seedwatch.airflow_runner import PROJECT_DIR, airflow_env, run_dag_test
from seedwatch.localsite import LocalSite
from seedwatch.mailsink import MailSink

SITE_DIR = PROJECT_DIR / "demo" / "site"
DEMO_DIR = PROJECT_DIR / "var" / "demo"
# The site's preferred port. Article ids hash the canonical URL, so the site keeps the port
# of the previous run when it can (a new port makes every article new); SMTP takes any port.
SITE_PORT = 8765
ANALYST = "analyst@example.org"


class DemoError(Exception):
    """The demo cannot start (a port asked for is taken); the message says what to do."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def previous_site_port(demo_dir: Path) -> int | None:
    """The port the site had in the demo's last run (from the feeds it wrote), if any."""
    try:
        feeds = yaml.safe_load((demo_dir / "config" / "feeds.yaml").read_text(encoding="utf-8"))["feeds"]
        return urlsplit(str(feeds[0]["url"])).port
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        return None


def choose_site_port(demo_dir: Path, requested: int | None) -> tuple[int, str]:
    """The site's port and, when it is not the usual one, why (to tell the user)."""
    if requested is not None:
        if not port_is_free(requested):
            raise DemoError(f"--site-port {requested} is in use; pick another, or drop the option to choose a free one")
        return requested, ""
    previous = previous_site_port(demo_dir)
    for port in dict.fromkeys(p for p in (previous, SITE_PORT) if p):
        if port_is_free(port):
            moved = previous is not None and port != previous
            return port, (f"port {previous} is in use: the site moved, so its articles count as new" if moved else "")
    busy = previous or SITE_PORT
    port = free_port()
    note = f"port {busy} is in use, so the site is on {port}"
    if previous is not None:
        note += ": the site moved, so its articles count as new (--site-port keeps it fixed)"
    return port, note


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def demo_feeds(site_url: str) -> list[dict[str, object]]:
    return [
        {
            "name": "Regional Wire",
            "url": f"{site_url}/feeds/wire.xml",
            "outlet": "regional-wire.example",
            "language": "en",
            "country": "GB",
            "timezone": "Europe/London",
        },
        {
            "name": "Regional Press",
            "url": f"{site_url}/feeds/regional.xml",
            "outlet": "regional-press.example",
            "language": "fr",
            "country": "FR",
            "timezone": "Europe/Paris",
        },
        {
            "name": "World News",
            "url": f"{site_url}/feeds/world.xml",
            "outlet": "world-news.example",
            "language": "en",
            "country": "US",
            "timezone": "UTC",
        },
        {
            "name": "Broken Feed",
            "url": f"{site_url}/feeds/broken.xml",
            "outlet": "broken.example",
            "language": "en",
            "country": "US",
            "timezone": "UTC",
        },
    ]


def demo_alerts() -> list[dict[str, object]]:
    """One immediate desk rule per topic of the project's seeds (no topic is named in code)."""
    topics = sorted(p.name for p in (PROJECT_DIR / "seeds").iterdir() if p.is_dir())
    return [
        {
            "name": f"{topic.replace('_', '-')}-desk",
            "recipients": [ANALYST],
            "topic": topic,
            "min_grade": 2,
            "mode": "immediate",
            "timezone": "UTC",
        }
        for topic in topics
    ]


def write_config(
    demo_dir: Path,
    *,
    site_url: str,
    smtp_port: int,
    feeds: list[dict[str, object]] | None = None,
    alerts: list[dict[str, object]] | None = None,
    state_url: str | None = None,
) -> Path:
    """A configuration directory for the demo (and tests): local feeds, local SMTP, loopback allowed."""
    config_dir = demo_dir / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "state": {"url": state_url or f"sqlite:///{demo_dir / 'state.db'}"},
        "index": {"backend": "sqlite", "sqlite_path": str(demo_dir / "articles.db")},
        "http": {"allow_networks": ["127.0.0.1/32"], "per_host_concurrency": 8},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "seedwatch@localhost"},
        "paths": {
            "topics_dir": str(PROJECT_DIR / "config" / "topics"),
            "seeds_dir": str(PROJECT_DIR / "seeds"),
            "var_dir": str(demo_dir),
        },
    }
    feeds_file = {"feeds": demo_feeds(site_url) if feeds is None else feeds}
    alerts_file = {"rules": demo_alerts() if alerts is None else alerts}
    for name, data in (("seedwatch.yaml", settings), ("feeds.yaml", feeds_file), ("alerts.yaml", alerts_file)):
        (config_dir / name).write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return config_dir


def serve_site(site: LocalSite, site_dir: Path = SITE_DIR) -> None:
    """Serve the demo site; a page that answers 500 shows an article kept from its feed."""
    for path in sorted(site_dir.rglob("*")):
        if path.is_file() and path.suffix in (".xml", ".html"):
            body = path.read_text(encoding="utf-8", errors="replace").replace("{BASE_URL}", site.base_url)
            kind = "application/rss+xml; charset=utf-8" if path.suffix == ".xml" else "text/html; charset=utf-8"
            site.add("/" + path.relative_to(site_dir).as_posix(), body, content_type=kind)
    site.add("/articles/server-error.html", "<h1>Internal Server Error</h1>", status=500)
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")


def run_demo(
    console: Console,
    *,
    fresh: bool = False,
    through_airflow: bool = True,
    demo_dir: Path = DEMO_DIR,
    site_port: int | None = None,
    smtp_port: int | None = None,
) -> int:
    """Run the demo in ``demo_dir``; ports are chosen free unless given. Returns an exit code."""
    from seedwatch.report import print_demo_summary

    if missing := [path for path in (SITE_DIR, PROJECT_DIR / "seeds", PROJECT_DIR / "dags") if not path.is_dir()]:
        console.print(
            Text(
                f"seedwatch demo runs from a checkout of the repository: it serves demo/site/ and reads seeds/ "
                f"and dags/ beside the code, which the installed package does not carry ({missing[0]} not found). "
                "Clone the repository and run `make demo` there; an installed seedwatch runs your own "
                "configuration with `seedwatch run --once -c DIR`.",
                style="red",
            ),
            soft_wrap=True,
        )
        return 2
    if fresh and demo_dir.exists():
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True)
    try:
        port, note = choose_site_port(demo_dir, site_port)
        if smtp_port is not None and not port_is_free(smtp_port):
            raise DemoError(f"--smtp-port {smtp_port} is in use; pick another, or drop the option to choose a free one")
    except DemoError as exc:
        console.print(Text(str(exc), style="red"), soft_wrap=True)
        return 2
    started = datetime.now(UTC)
    with LocalSite(port=port) as site, MailSink(port=smtp_port or 0, save_dir=demo_dir / "mail") as sink:
        serve_site(site)
        config_dir = write_config(demo_dir, site_url=site.base_url, smtp_port=sink.port)
        console.print(
            f"[bold]seedwatch demo[/]  news site {site.base_url}  ·  SMTP 127.0.0.1:{sink.port}"
            f"  ·  state {display_path(demo_dir)}",
            soft_wrap=True,
        )
        if note:
            console.print(f"[yellow]{note}[/]", soft_wrap=True)
        clock = time.perf_counter()
        if through_airflow:
            env = airflow_env(demo_dir / "airflow", config_dir)
            with console.status(
                "Airflow: airflow dags test seedwatch_monitor (first run also creates Airflow's database)"
            ):
                result = run_dag_test("seedwatch_monitor", env)
            if result.returncode != 0:
                console.print(result.stdout[-4000:], result.stderr[-4000:], markup=False)
                console.print(
                    f"[red]The DAG run failed (exit {result.returncode}); "
                    f"Airflow's logs are under {display_path(demo_dir / 'airflow')}[/]"
                )
                return 1
        else:
            from seedwatch.pipeline import run_once
            from seedwatch.settings import load_settings

            with console.status("running the pipeline in-process"):
                run_once(load_settings(config_dir), now=started)
        elapsed = time.perf_counter() - clock
        from seedwatch.settings import load_settings

        print_demo_summary(
            console,
            load_settings(config_dir),
            since=started,
            mails=sink.received,
            elapsed_s=elapsed,
            runner="Airflow (airflow dags test seedwatch_monitor)" if through_airflow else "in-process",
        )
    return 0


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (short, copyable)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
