"""The `seedwatch` CLI as a user runs it: the same core as the DAG, readable output, clear errors."""

from __future__ import annotations

import email
import email.policy
import io
import json
import os
import re
import shlex
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from seedwatch.alerting.compose import topic_titles
from seedwatch.cli import app
from seedwatch.demo import SITE_PORT, choose_site_port, run_demo, write_config
from seedwatch.index import open_index
from seedwatch.mailsink import MailSink
from seedwatch.pipeline import run_once
from seedwatch.report import RunProgress, check_feed
from seedwatch.settings import load_settings

PROJECT = Path(__file__).resolve().parents[1]
AEB_PAGE = next((PROJECT / "tests" / "fixtures" / "extraction" / "aeb" / "html").glob("*.html.gz"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_run_once_then_search_and_feed_health(runner: CliRunner, demo_config: Path, mail_sink: MailSink) -> None:
    output = invoke(runner, "run", "--once", "-c", str(demo_config))
    assert "new articles" in output and "30" in output
    assert "polling feeds" not in output and "\x1b" not in output  # not a terminal: the report alone
    assert len(mail_sink.messages) == 1

    found = invoke(runner, "search", "-c", str(demo_config), "Haftar grade:2")
    assert "results for 'Haftar grade:2'" in found and "Haftar plans to visit" in found

    health = invoke(runner, "feeds", "check", "-c", str(demo_config))
    assert "Broken Feed" in health and "Wire" in health


def test_run_once_on_a_terminal_shows_the_stage_and_counts_as_it_goes(demo_config: Path, mail_sink: MailSink) -> None:
    screen = io.StringIO()
    settings = load_settings(demo_config, environ={})
    now = datetime.now(UTC)
    with RunProgress(Console(file=screen, force_terminal=True, width=100), settings, now) as progress:
        report = run_once(settings, now=now, on_stage=progress.stage)
    assert report.poll.new_articles == 30
    shown = screen.getvalue()
    assert re.search(r"fetching, extracting and tagging: \d+/30 articles", shown), shown[-2000:]
    assert "sending alerts" in shown


def test_titles_from_the_web_are_printed_as_text_not_markup(
    runner: CliRunner, demo_config: Path, mail_sink: MailSink
) -> None:
    invoke(runner, "run", "--once", "-c", str(demo_config))
    index = open_index(load_settings(demo_config, environ={}).index)
    try:
        (hit,) = index.search('"Haftar plans to visit"').hits[:1]
        doc = index.get(hit.article_id) | {"article_id": "hostile", "title": "[/bold] Haftar [red]visit[/red] [link=x]"}
        assert index.upsert([doc])[0].ok
    finally:
        index.close()
    found = invoke(runner, "search", "-c", str(demo_config), "outlet:" + doc["outlet"] + " visit")
    assert "[/bold] Haftar [red]visit[/red]" in found


def test_a_bad_query_is_an_error_with_exit_code_2(runner: CliRunner, demo_config: Path) -> None:
    result = runner.invoke(app, ["search", "-c", str(demo_config), '"unterminated'])
    assert result.exit_code == 2 and "quote" in result.output.lower()


def test_a_bad_configuration_names_the_file_and_the_key(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "seedwatch.yaml").write_text("pipeline:\n  feed_batch_size: 0\n")
    (config / "feeds.yaml").write_text("feeds: []\n")
    result = runner.invoke(app, ["run", "--once", "-c", str(config)], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Configuration error" in result.output and "seedwatch.yaml" in result.output
    assert "pipeline.feed_batch_size" in result.output


def test_extract_prints_one_json_line_per_page(runner: CliRunner) -> None:
    output = invoke(runner, "extract", str(AEB_PAGE), "--url", "https://example.org/news/1")
    (line,) = output.strip().splitlines()
    article = json.loads(line)
    assert article["title"] and len(article["text"]) > 200 and article["language"]


def test_tag_and_eval_read_the_dev_set_format(runner: CliRunner, tmp_path: Path) -> None:
    everything = [json.loads(line) for line in (PROJECT / "tests/fixtures/relevance/dev.jsonl").open()]
    items = [item for grade in (2, 1, 0) for item in [i for i in everything if i["grade"] == grade][:4]]
    sample = tmp_path / "sample.jsonl"
    sample.write_text("".join(json.dumps(item) + "\n" for item in items))
    tagged = [json.loads(line) for line in invoke(runner, "tag", str(sample)).strip().splitlines()]
    assert [t["id"] for t in tagged] == [item["id"] for item in items]
    assert all(t["grade"] in (0, 1, 2) and 0 <= t["score"] <= 1 for t in tagged)

    figures = json.loads(invoke(runner, "eval", "relevance", str(sample), "--json"))
    assert figures["items"] == 12
    relevant = figures["relevant"]
    assert relevant["tp"] + relevant["fn"] == 4  # the four grade-2 items, found or missed
    assert 0 <= relevant["precision"] <= 1
    assert sum(map(sum, figures["confusion"]["rows_gold_cols_predicted"])) == 12


def test_profile_show_lists_actors_with_their_aliases(runner: CliRunner) -> None:
    output = invoke(runner, "profile", "show", "libya_turkey")
    assert "Haftar" in output and "حفتر" in output


def test_logging_outlives_the_streams_of_a_finished_command(runner: CliRunner, demo_config: Path, capsys) -> None:  # noqa: ANN001
    # The CLI configures logging while CliRunner has swapped stderr; later log lines must
    # go to the stderr of their own moment, not to the closed one.
    import structlog

    invoke(runner, "profile", "show", "-c", str(demo_config))
    structlog.get_logger("after").warning("still.logging", where="after the command")
    assert "still.logging" in capsys.readouterr().err


# -- a newcomer's first hour: the README, the demo, then every command of the CLI table -----

README = (PROJECT / "README.md").read_text(encoding="utf-8")
ANSI_OR_C1 = re.compile(r"[\x1b\x9b\x9d\x07]")


@dataclass
class Demo:
    dir: Path
    config: Path
    output: str  # what the demo printed, on an 80-column terminal


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The README's demo, in-process (tests/test_dags.py runs the same through Airflow),
    with the README's own Mailpit port and the site's usual port taken by someone else."""
    holders = [_hold(port) for port in (SITE_PORT, 8025)]
    checkout = tmp_path_factory.mktemp("newcomer")
    demo_dir = checkout / "var" / "demo"
    screen = io.StringIO()
    here = Path.cwd()
    os.chdir(checkout)  # as from a checkout: the demo shows paths relative to it
    try:
        code = run_demo(Console(file=screen, width=80), through_airflow=False, demo_dir=demo_dir)
    finally:
        os.chdir(here)
        for holder in holders:
            if holder is not None:
                holder.close()
    assert code == 0, screen.getvalue()
    yield Demo(demo_dir, demo_dir / "config", screen.getvalue())


def _hold(port: int) -> socket.socket | None:
    """Listen on ``port`` as another program would (None if one already does)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", port))
    except OSError:
        holder.close()
        return None
    holder.listen()
    return holder


def cli(*args: str, columns: int = 80, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The command as a user runs it: (exit code, stdout, stderr), on an 80-column terminal."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns), **(env or {})})
    if result.exception and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback from {args}: {result.exception!r}\n{result.output}")
    return result.exit_code, result.stdout, result.stderr


def test_the_demo_takes_free_ports_and_says_which(demo: Demo) -> None:
    header = demo.output.splitlines()[0]
    assert "news site http://127.0.0.1:" in header and "SMTP 127.0.0.1:" in header
    assert f":{SITE_PORT} " not in header and "SMTP 127.0.0.1:8025" not in header  # both were taken
    assert f"port {SITE_PORT} is in use" in demo.output
    assert "Traceback" not in demo.output


def test_a_port_asked_for_that_is_taken_is_one_sentence(tmp_path: Path) -> None:
    holder = _hold(0) or pytest.fail("no free port")
    port = holder.getsockname()[1]
    screen = io.StringIO()
    try:
        code = run_demo(Console(file=screen, width=80), through_airflow=False, demo_dir=tmp_path, smtp_port=port)
    finally:
        holder.close()
    assert code == 2 and screen.getvalue().strip() == (
        f"--smtp-port {port} is in use; pick another, or drop the option to choose a free one"
    )


def test_the_site_keeps_its_port_between_runs(tmp_path: Path) -> None:
    holder = _hold(0) or pytest.fail("no free port")
    previous = holder.getsockname()[1]
    holder.close()
    write_config(tmp_path, site_url=f"http://127.0.0.1:{previous}", smtp_port=1)
    assert choose_site_port(tmp_path, None) == (previous, "")


def test_the_demo_prints_commands_that_reach_its_results_and_fit_80_columns(demo: Demo) -> None:
    commands = [line.strip() for line in demo.output.splitlines() if line.strip().startswith(".venv/bin/seedwatch")]
    assert len(commands) >= 3
    for line in demo.output.splitlines():
        if ".venv/bin/seedwatch" in line:
            assert len(line) <= 80, line
    for command in commands:
        args = shlex.split(command)[1:]
        args[args.index("-c") + 1] = str(demo.config)  # the demo ran in a temporary directory
        code, out, err = cli(*args)
        assert code == 0 and out.strip() and not err, (command, out, err)
    assert "var/demo/sent-mail" in README and "-c var/demo/config" in README


def test_every_command_of_the_readme_table_is_useful_after_the_demo(demo: Demo, tmp_path: Path) -> None:
    table = re.findall(r"^\| `seedwatch ([a-z]+(?: [a-z]+)?)", README, flags=re.MULTILINE)
    sample = tmp_path / "sample.jsonl"
    dev = [json.loads(line) for line in (PROJECT / "tests/fixtures/relevance/dev.jsonl").open()]
    sample.write_text("".join(json.dumps(item) + "\n" for item in dev[:6]))
    events = tmp_path / "events.jsonl"
    deal = "Turkey and Libya signed a maritime boundary deal in Istanbul on Wednesday."
    events.write_text(
        "".join(
            json.dumps({"id": key, "title": title, "text": text, "date": "2025-09-01", "cluster_id": event}) + "\n"
            for key, title, text, event in (
                ("a", "Ankara and Tripoli sign maritime deal", deal, "deal"),
                ("b", "Turkey, Libya sign maritime boundary deal", deal, "deal"),
                ("c", "Floods hit northern Italy", "Heavy rain flooded towns in northern Italy.", "flood"),
            )
        )
    )
    config = str(demo.config)
    expectations: dict[str, tuple[list[str], Callable[[str], bool]]] = {
        "cluster": (
            ["cluster", str(events)],
            lambda out: [json.loads(line)["story"] for line in out.splitlines()] == ["a", "a", "c"],
        ),
        "eval stories": (["eval", "stories", str(events)], lambda out: "B-cubed" in out and "precision" in out),
        "run": (["run", "--once", "-c", config], lambda out: "new articles" in out and "emails sent" in out),
        "search": (
            ["search", "-c", config, "actor:Haftar"],
            lambda out: "Haftar" in out and "http://127.0.0.1:" in out,
        ),
        "feeds check": (["feeds", "check", "-c", config], lambda out: "Broken Feed" in out and "never worked" in out),
        "profile show": (["profile", "show", "-c", config], lambda out: "Haftar" in out and "curated" in out),
        "profile draft": (["profile", "draft", "libya_turkey", "-c", config], lambda out: "actors:" in out),
        "tag": (["tag", str(sample), "-c", config], lambda out: len(out.splitlines()) == 6),
        "eval relevance": (["eval", "relevance", str(sample), "-c", config], lambda out: "precision" in out),
        "extract": (["extract", str(AEB_PAGE)], lambda out: json.loads(out)["title"]),
    }
    for command in table:
        if command in ("demo",):
            continue  # the fixture ran it
        if command == "index reindex":  # Elasticsearch only: on SQLite, one sentence says so
            code, out, err = cli("index", "reindex", "--version", "2", "-c", config)
            assert code == 2 and "index.backend: elasticsearch" in err and len(err.strip().splitlines()) <= 2
            continue
        assert command in expectations, f"README lists `seedwatch {command}`: add it to this test"
        args, useful = expectations[command]
        code, out, err = cli(*args)
        assert code == 0, (command, out, err)
        assert useful(out), (command, out)
        assert "Traceback" not in out + err and not ANSI_OR_C1.search(out), command


def test_the_readme_says_which_commands_take_a_configuration_directory() -> None:
    said = re.search(r"Every command but (.+?) reads the\s+configuration", README, flags=re.DOTALL)
    assert said, "README: the sentence on -c DIR"
    without = {name.strip("`") for name in re.findall(r"`[a-z ]+`", said.group(1))}
    for command in re.findall(r"^\| `seedwatch ([a-z]+(?: [a-z]+)?)", README, flags=re.MULTILINE):
        _, out, _ = cli(*command.split(), "--help", columns=200)
        assert ("--config" in out) == (command not in without), command


def test_read_only_commands_create_no_store_and_say_what_to_run(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text(
        "feeds:\n  - {name: A, url: 'https://a.example/feed.xml', outlet: a.example, language: en, country: US}\n"
    )
    for args in (["search", "x"], ["feeds", "check"]):
        code, out, err = cli(*args, "-c", str(config))
        assert code == 1 and "seedwatch run --once" in err, (args, out, err)
        assert len(err.strip().splitlines()) == 1, err  # one sentence, not wrapped
    cli("profile", "show", "-c", str(config))
    assert not list(tmp_path.rglob("*.db")), list(tmp_path.rglob("*"))


def test_feeds_check_is_what_an_operator_acts_on_at_80_columns(demo: Demo) -> None:
    code, out, _ = cli("feeds", "check", "-c", str(demo.config))
    assert code == 0
    assert all(len(line) <= 80 for line in out.splitlines()), out
    broken = " ".join(out[out.index("Broken Feed") :].split())
    assert "never worked" in broken and "not an RSS/Atom/RDF feed" in broken
    assert " 0.0 " not in out  # 30 items were just read: their dates give a rate
    assert "items/day" in out and "one every" in out


def test_feed_health_from_the_record() -> None:
    now = datetime(2026, 1, 10, 12, tzinfo=UTC)
    hours = lambda n: now - timedelta(hours=n)  # noqa: E731
    row = {"name": "F", "last_status": "ok", "last_success_at": hours(1), "consecutive_failures": 0}
    daily = [hours(24 * d + 2) for d in range(10)]
    ok = check_feed(row, daily, now=now, quiet_factor=4)
    assert ok.status == "ok" and ok.items_per_day == pytest.approx(1.0) and ok.cadence_s == 86400

    failing = check_feed(
        row | {"consecutive_failures": 2, "last_error": "HTTP 503", "last_status": "http-error"},
        daily,
        now=now,
        quiet_factor=4,
    )
    assert failing.status == "failing" and "since 2026-01-10 11:00" in failing.detail and "2 failures" in failing.detail
    assert failing.last_error == "HTTP 503"

    quiet = check_feed(row, [hours(24 * 9 + d) for d in range(10)], now=now, quiet_factor=4)
    assert quiet.status == "quiet" and "216× its usual gap" in quiet.detail

    never = check_feed(
        {"name": "B", "last_status": "soft", "consecutive_failures": 1, "last_error": "not a feed\x1b[2J"},
        [],
        now=now,
        quiet_factor=4,
    )
    assert never.status == "never worked" and never.last_error == "not a feed[2J"
    assert never.items_per_day is None and never.cadence_s is None  # no history: no figure, no fallback
    assert check_feed({"name": "N"}, [], now=now, quiet_factor=4).status == "not polled yet"
    assert check_feed(row | {"quarantined_articles": 3}, daily, now=now, quiet_factor=4).quarantined == 3


def test_search_for_scripts_and_pipes(demo: Demo) -> None:
    config = str(demo.config)
    code, out, _ = cli("search", "-c", config, "--json", "grade:2", "--limit", "3")
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(hits) == 3
    assert set(hits[0]) >= {"url", "title", "outlet", "language", "grade", "score", "facets", "actors", "story"}
    assert all(hit["url"].startswith("http://127.0.0.1:") and hit["grade"] == 2 for hit in hits)

    code, out, _ = cli("search", "-c", config, "grade:2", columns=40)  # piped, or a narrow terminal
    assert code == 0 and all(hit["url"] in out and hit["outlet"] in out for hit in hits)

    for bad in ("0", "-1", "100000"):
        code, out, err = cli("search", "-c", config, "x", "--limit", bad)
        assert code == 2 and "--limit" in out + err


def test_search_actor_finds_an_alias_from_the_profile(demo: Demo) -> None:
    _, by_name, _ = cli("search", "-c", str(demo.config), "actor:Haftar", "--json")
    code, by_alias, _ = cli("search", "-c", str(demo.config), "actor:حفتر", "--json")
    assert code == 0 and by_alias == by_name and len(by_name.splitlines()) >= 2


def test_search_stories_collapse_copies(demo: Demo) -> None:
    code, plain, _ = cli("search", "-c", str(demo.config), "grade:>=1", "--limit", "100")
    code, stories, _ = cli("search", "-c", str(demo.config), "grade:>=1", "--stories", "--limit", "100")
    assert code == 0
    hits = int(plain.split()[0])
    story_count = int(stories.split()[0])
    assert "stories for" in stories and 0 < story_count < hits  # the demo has copies of a story


def test_search_prints_no_escape_sequences_from_article_fields(demo: Demo) -> None:
    index = open_index(load_settings(demo.config, environ={}).index)
    try:
        doc = index.search("grade:2").hits[0]
        hostile = index.get(doc.article_id) | {
            "article_id": "f" * 40,
            "title": "Zebra \x1b]8;;http://evil.example\x07click\x1b]8;;\x07 \x1b[2J\u202eafed\x9b31m",
            "outlet": "evil\x1b[31m.example",
            "url": "javascript:alert(1)",
        }
        assert index.upsert([hostile])[0].ok
    finally:
        index.close()
    for args in (["zebra"], ["zebra", "--json"]):
        code, out, _ = cli("search", "-c", str(demo.config), *args)
        assert code == 0 and "Zebra" in out
        assert not ANSI_OR_C1.search(out) and "\u202e" not in out and "javascript:" not in out, repr(out)


def test_bad_queries_are_one_sentence_not_tracebacks(demo: Demo) -> None:
    for query in (
        "date:9999-12-30..9999-12-31",
        "(" * 3000 + "a" + ")" * 3000,
        " ".join(["w"] * 3000),
        "NOT " * 500 + "a",
    ):
        code, out, err = cli("search", "-c", str(demo.config), query)
        assert code in (0, 2) and "Traceback" not in out + err
        if code == 2:  # one sentence, the query quoted only in part
            assert len(err.strip().splitlines()) == 1 and len(err) < 300, err


def test_tag_names_bad_lines_and_tags_the_rest(tmp_path: Path) -> None:
    good = {"id": "ok", "title": "Weather", "text": "Rain in the north."}
    items = tmp_path / "items.jsonl"
    items.write_bytes(
        b"\n".join([json.dumps(good).encode(), b'["x"]', b'{"id": "t", "title": 7}', b"\xff\xfe not utf-8", b"{oops"])
        + b"\n"
    )
    code, out, err = cli("tag", str(items))
    assert code == 1
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["ok"]
    for number, words in ((2, "JSON object"), (3, "'title' must be a string"), (4, "not UTF-8"), (5, "not valid JSON")):
        assert f"items.jsonl:{number}: " in err and words in err, err
    code, out, err = cli("eval", "relevance", str(items))
    assert code == 1 and "items.jsonl:1: field 'grade'" in err and "Traceback" not in err


def test_help_shows_no_type_after_flags_and_there_is_a_version() -> None:
    code, out, _ = cli("search", "--help", columns=120)
    assert code == 0 and "<bool>" not in out and "--json" in out
    code, out, _ = cli("--version")
    assert code == 0 and re.fullmatch(r"seedwatch \d+\.\d+\.\d+\S*\n", out)


def test_the_demo_email_names_the_topic_by_title_and_links_no_kibana(demo: Demo) -> None:
    (raw,) = [path.read_bytes() for path in sorted((demo.dir / "mail").glob("*.eml"))]
    assert re.search(rb"^Subject: \[seedwatch\] \S", raw, flags=re.MULTILINE), raw[:300]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    assert "libya_turkey" not in text and "Kibana" not in text and "5601" not in text
    assert "stories: Libya–Turkey relations" in text.splitlines()[0], text[:200]
    titles = topic_titles(PROJECT / "config" / "topics", ["libya_turkey", "north_sea_fisheries"])
    assert titles == {"libya_turkey": "Libya–Turkey relations"}  # no profile file: the tags' title, then the id


def test_the_demo_has_one_story_per_event_and_no_story_of_two_events(demo: Demo) -> None:
    """The demo site's articles are named by their event (plane-crash-…, greece-expel-…):
    each event's reports by different outlets are one story, and no story mixes events."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{demo.dir / 'state.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT url, story_id FROM articles")).all()
    engine.dispose()
    event_of = {"apa-haftar-turkiye-visit": "haftar-visit", "mee-haftar-turkiye-visit": "haftar-visit"}
    stories_of: dict[str, set[str]] = {}
    events_in: dict[str, set[str]] = {}
    for url, story in rows:
        name = url.rsplit("/", 1)[-1].removesuffix(".html")
        event = event_of.get(name) or re.sub(r"-[0-9a-f]{10,}$", "", name)
        if event in ("aeb", "negatives-en"):
            continue  # unrelated pages, one per event
        stories_of.setdefault(event, set()).add(story)
        events_in.setdefault(story, set()).add(event)
    # (The Sirte reports join in most article orders, not all: their third report is far
    # from the first two; a recall miss, which this test does not pin.)
    for event in ("plane-crash", "greece-expel", "haftar-visit", "arabic", "french"):
        assert len(stories_of[event]) == 1, (event, stories_of)
    mixed = [sorted(events) for events in events_in.values() if len(events) > 1]
    assert mixed == [], mixed
