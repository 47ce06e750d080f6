from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from seedwatch.errors import ConfigError, ConfigErrors
from seedwatch.settings import load_settings

PROJECT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, main: str = "", feeds: str = "feeds: []\n") -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "seedwatch.yaml").write_text(main, encoding="utf-8")
    (config / "feeds.yaml").write_text(feeds, encoding="utf-8")
    return config


def test_the_shipped_configuration_is_valid() -> None:
    settings = load_settings(PROJECT / "config", environ={})
    assert settings.feeds, "config/feeds.yaml lists real sources"
    assert {feed.language for feed in settings.feeds} >= {"en", "ar", "tr", "fr"}
    assert settings.paths.topics_dir == PROJECT / "config" / "topics"
    assert settings.state.url == f"sqlite:///{PROJECT / 'var' / 'state.db'}"


def test_unknown_key_names_file_key_and_fix(tmp_path: Path) -> None:
    config = _config(tmp_path, "pipeline:\n  feed_batchsize: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    message = str(caught.value)
    assert "seedwatch.yaml" in message
    assert "pipeline.feed_batchsize" in message
    assert "remove this key or correct its spelling" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    feeds = (
        "feeds:\n"
        "  - {name: A, url: 'ftp://x', outlet: a.example, language: en, country: GB}\n"
        "  - {name: B, url: 'https://b.example/rss', outlet: b.example, language: english, country: GB, timezone: Mars/Base}\n"
    )
    config = _config(tmp_path, "pipeline:\n  article_batch_size: zero\n", feeds)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    message = str(caught.value)
    assert "pipeline.article_batch_size" in message and "give a whole number" in message
    assert "feeds.0.url" in message and "http:// or https://" in message
    assert "feeds.1.language" in message
    assert "feeds.1.timezone" in message and "IANA" in message


def test_duplicate_feeds_are_refused(tmp_path: Path) -> None:
    feed = "  - {name: A, url: 'https://a.example/rss', outlet: a.example, language: en, country: GB}\n"
    config = _config(tmp_path, "", "feeds:\n" + feed + feed)
    with pytest.raises(ConfigError, match=r"feeds\.1\.name: duplicate feed name"):
        load_settings(config, environ={})


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "state:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match=r"seedwatch.yaml: line \d+, column \d+: not valid YAML"):
        load_settings(config, environ={})


def test_environment_overrides_files(tmp_path: Path) -> None:
    config = _config(tmp_path, "pipeline:\n  feed_batch_size: 5\n")
    settings = load_settings(
        config,
        environ={
            "SEEDWATCH__PIPELINE__FEED_BATCH_SIZE": "7",
            "SEEDWATCH_STATE_URL": "postgresql+psycopg://db/seedwatch",
        },
    )
    assert settings.pipeline.feed_batch_size == 7
    assert settings.state.url == "postgresql+psycopg://db/seedwatch"


def test_bad_state_url_is_explained(tmp_path: Path) -> None:
    config = _config(tmp_path, "state:\n  url: mysql://db\n")
    with pytest.raises(ConfigError, match=r"state.url: .*sqlite:/// or postgresql://"):
        load_settings(config, environ={})


def test_a_bad_schedule_is_refused_at_load_not_at_parse_time(tmp_path: Path) -> None:
    config = _config(tmp_path, 'pipeline:\n  schedule: "every 15 minutes"\n')
    with pytest.raises(ConfigError, match=r"pipeline.schedule: .*not a cron expression"):
        load_settings(config, environ={})


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SEEDWATCH_CONFIG_DIR"):
        load_settings(tmp_path / "nowhere", environ={})


# --- checked at load what would fail later (issue 16.8, 19.5) ----------------------------


def _with_rules(tmp_path: Path, rules: str, main: str = "") -> Path:
    """A configuration whose paths point at the project's topics and seeds (libya_turkey)."""
    paths = f"paths:\n  topics_dir: {PROJECT / 'config' / 'topics'}\n  seeds_dir: {PROJECT / 'seeds'}\n"
    config = _config(tmp_path, paths + main)
    (config / "alerts.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    return config


RULE = "  - {name: desk, recipients: [a@example.org], topic: libya_turkey"


def test_a_rule_query_that_does_not_parse_is_refused_at_load(tmp_path: Path) -> None:
    config = _with_rules(tmp_path, RULE + ", query: 'lang:tr OR'}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    error = caught.value
    assert error.file.endswith("alerts.yaml") and error.key == "rules.0.query"
    assert "OR needs a term on both sides" in error.problem and "docs/elasticsearch.md" in error.fix


def test_an_unknown_topic_or_facet_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    config = _with_rules(
        tmp_path,
        "  - {name: a, recipients: [a@example.org], topic: nosuch}\n"
        + RULE.replace("desk", "b")
        + ", facets: [maritime, nofacet]}\n",
    )
    with pytest.raises(ConfigErrors) as caught:
        load_settings(config, environ={})
    topic, facets = caught.value.errors
    assert topic.file.endswith("alerts.yaml") and topic.key == "rules.0.topic"
    assert "unknown topic 'nosuch'" in topic.problem and "libya_turkey" in topic.fix
    assert facets.key == "rules.1.facets" and "nofacet" in facets.problem and "maritime" not in facets.problem
    assert "diplomacy" in facets.fix  # a facet of the lexicon and of the profile


def test_the_shipped_topic_and_facets_are_accepted(tmp_path: Path) -> None:
    config = _with_rules(tmp_path, RULE + ", facets: [maritime, opposition, sanctions], query: 'lang:tr'}\n")
    assert load_settings(config, environ={}).alerts[0].facets == ["maritime", "opposition", "sanctions"]


def test_names_longer_than_the_store_columns_are_refused(tmp_path: Path) -> None:
    from seedwatch.alerting.ledger import alert_ledger
    from seedwatch.store.schema import feeds

    name_limit, outlet_limit = feeds.c.name.type.length, feeds.c.outlet.type.length
    rule_limit = alert_ledger.c.rule.type.length
    feed = "  - {{name: {name}, url: 'https://a.example/rss', outlet: {outlet}, language: en, country: GB}}\n"
    config = _with_rules(tmp_path, RULE.replace("desk", "r" * rule_limit) + "}\n")
    (config / "feeds.yaml").write_text(
        "feeds:\n" + feed.format(name="n" * (name_limit + 1), outlet="o" * (outlet_limit + 1)), encoding="utf-8"
    )
    with pytest.raises(ConfigErrors) as caught:
        load_settings(config, environ={})
    keys = {e.key: e for e in caught.value.errors}
    assert set(keys) == {"feeds.0.name", "feeds.0.outlet", "rules.0.name"}
    assert "shorten it" in keys["feeds.0.name"].fix
    assert "the store holds at most" in keys["rules.0.name"].problem


def test_names_at_the_store_limits_fit_postgresql(tmp_path: Path, postgres_url: str) -> None:
    """What load accepts, PostgreSQL stores: the longest names, through the real schema."""
    from seedwatch.alerting.rules import rule_name_max_length
    from seedwatch.store import StateStore

    feed = "  - {{name: {name}, url: 'https://a.example/rss', outlet: {outlet}, language: en, country: GB}}\n"
    config = _with_rules(tmp_path, RULE.replace("desk", "r" * rule_name_max_length()) + "}\n")
    (config / "feeds.yaml").write_text("feeds:\n" + feed.format(name="n" * 200, outlet="o" * 200), encoding="utf-8")
    settings = load_settings(config, environ={})
    store = StateStore.open(postgres_url)
    try:
        store.sync_feeds(settings.enabled_feeds(), now=datetime.now(UTC))
        lease = f"alerts:{settings.alerts[0].name}"
        assert store.acquire_lease(lease, owner="o", now=datetime.now(UTC), lease_s=60)
        store.release_lease(lease, owner="o")
    finally:
        store.close()


def test_a_feed_url_with_credentials_is_refused_and_not_repeated(tmp_path: Path) -> None:
    feeds = "feeds:\n  - {name: A, url: 'https://reader:s3cret@a.example/rss', outlet: a, language: en, country: GB}\n"
    config = _config(tmp_path, "", feeds)
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})
    assert caught.value.key == "feeds.0.url" and "user:password@" in caught.value.fix
    assert "s3cret" not in str(caught.value)


def test_a_bad_environment_override_names_the_variable_not_the_file(tmp_path: Path) -> None:
    config = _config(tmp_path, "pipeline:\n  feed_batch_size: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={"SEEDWATCH__PIPELINE__FEED_BATCH_SIZE": "abc"})
    error = caught.value
    assert error.file == "environment variable SEEDWATCH__PIPELINE__FEED_BATCH_SIZE"
    assert error.key == "pipeline.feed_batch_size" and "seedwatch.yaml" not in str(error)
    assert "unset SEEDWATCH__PIPELINE__FEED_BATCH_SIZE" in error.fix
    with pytest.raises(ConfigError, match=r"^environment variable SEEDWATCH_SMTP_PORT: smtp.port"):
        load_settings(config, environ={"SEEDWATCH_SMTP_PORT": "twenty-five"})
    (tmp_path / "2").mkdir()
    with pytest.raises(ConfigError, match=r"seedwatch.yaml: pipeline.feed_batch_size"):  # the file's own mistake
        load_settings(_config(tmp_path / "2", "pipeline:\n  feed_batch_size: abc\n"), environ={})


@pytest.mark.parametrize(
    ("text", "where", "fix"),
    [
        ('pipeline:\n  schedule: "@hourly"\n\tfeed_batch_size: 3\n', "line 3, column 1", "indent with spaces"),
        ("http:\n  user_agent: seedwatch: news\n", "line 2, column 24", "quote a value that contains ': '"),
        ("pipeline:\n  schedule: '@hourly\n", "line 3", "correct the YAML at that line"),
    ],
)
def test_a_yaml_mistake_names_the_line_shows_it_and_says_what_to_do(
    tmp_path: Path, text: str, where: str, fix: str
) -> None:
    (tmp_path / "seedwatch.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert f"seedwatch.yaml: {where}" in message and f"Fix: {fix}" in message, message
    assert "fix the YAML syntax" not in message


def test_a_config_file_that_is_not_utf8_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_bytes("feeds: []  # é\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"feeds.yaml: byte \d+: not UTF-8 text. Fix: save the file as UTF-8"):
        load_settings(tmp_path, environ={})


def test_a_seeded_topic_no_rule_emails_is_named_in_the_run_report(tmp_path: Path) -> None:
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from seedwatch.report import print_run_report
    from seedwatch.settings import topics_without_alerts

    seeds = tmp_path / "seeds"
    for topic in ("libya_turkey", "chile_peru"):
        (seeds / topic).mkdir(parents=True)
        (seeds / topic / "seed.txt").write_text("A seed.\n", encoding="utf-8")
    config = _with_rules(tmp_path, RULE + "}\n")  # a rule for libya_turkey only
    (config / "seedwatch.yaml").write_text(
        f"paths:\n  topics_dir: {PROJECT / 'config' / 'topics'}\n  seeds_dir: {seeds}\n", encoding="utf-8"
    )
    settings = load_settings(config, environ={})
    assert topics_without_alerts(settings) == ["chile_peru"]

    summary = SimpleNamespace(feeds_polled=0, feeds_ok=0, feeds_not_modified=0, feeds_failed=0, entries_seen=0)
    summary.__dict__.update(new_articles=0, fetched=0, extracted=0, fallback=0, relevant=0, partial=0, errors=[])
    summary.__dict__.update(new_stories=0, exact_duplicates=0, near_duplicates=0, indexed=0, backlog=0)
    screen = io.StringIO()
    report = SimpleNamespace(poll=summary, process=summary, dedup=summary, index=summary, alerts=None)
    print_run_report(Console(file=screen, width=200), settings, report)
    assert "topic 'chile_peru' has no alert rule" in screen.getvalue()
    assert "topic: chile_peru" in screen.getvalue() and "libya_turkey' has" not in screen.getvalue()
