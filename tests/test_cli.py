"""The `seedwatch` CLI as a user runs it: the same core as the DAG, readable output, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seedwatch.cli import app
from seedwatch.index import open_index
from seedwatch.mailsink import MailSink
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
    assert len(mail_sink.messages) == 1

    found = invoke(runner, "search", "-c", str(demo_config), "Haftar grade:2")
    assert "result(s) for 'Haftar grade:2'" in found and "Haftar plans to visit" in found

    health = invoke(runner, "feeds", "check", "-c", str(demo_config))
    assert "Broken Feed" in health and "Wire" in health


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
