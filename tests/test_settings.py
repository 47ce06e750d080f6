from __future__ import annotations

from pathlib import Path

import pytest

from seedwatch.errors import ConfigError
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
    with pytest.raises(ConfigError, match=r"seedwatch.yaml: line \d+: not valid YAML"):
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
