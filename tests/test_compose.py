"""docker-compose.yml, the Dockerfile, .env.example and the Kibana objects, checked
without Docker: structure, health checks, mounted files, variables, references."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from seedwatch.index.base import ElasticsearchSettings
from seedwatch.index.kibana import TYPE_MIGRATION_VERSIONS, saved_objects, topics_from_settings
from seedwatch.index.resources import packaged_text
from seedwatch.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
ONE_SHOT = {"airflow-init", "seedwatch-init"}


def test_every_part_of_the_product_is_a_service() -> None:
    expected = {
        "elasticsearch", "kibana", "postgres", "mailpit", "airflow-init", "seedwatch-init",
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
        "redis", "airflow-worker", "flower",
    }  # fmt: skip
    assert set(SERVICES) == expected
    assert {name for name, s in SERVICES.items() if "celery" in s.get("profiles", [])} == {
        "redis",
        "airflow-worker",
        "flower",
    }
    assert SERVICES["elasticsearch"]["image"].startswith(
        "docker.elastic.co/elasticsearch/elasticsearch:${STACK_VERSION:-9."
    )
    assert SERVICES["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:${STACK_VERSION:-9.")
    for name in (
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
    ):
        assert SERVICES[name]["build"] == "."
        assert SERVICES[name]["image"] == "seedwatch-airflow:latest"


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
        else:
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "unless-stopped", name


def test_dependencies_exist_and_wait_for_health() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES, (name, dependency)
            wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            assert rule["condition"] == wanted, (name, dependency)


def test_executor_and_security_settings() -> None:
    env = SERVICES["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "postgres" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    defaults = parse_dotenv((ROOT / ".env.example").read_text())
    assert env["SEEDWATCH_INDEX_BACKEND"] == "elasticsearch"
    assert interpolate(env["SEEDWATCH_ES_URL"], defaults) == "http://elasticsearch:9200"
    assert interpolate(env["SEEDWATCH_ES_URL"], {}) == "http://elasticsearch:9200"  # also without .env
    assert "FabAuthManager" in env["AIRFLOW__CORE__AUTH_MANAGER"]  # the UI needs a login
    es = SERVICES["elasticsearch"]["environment"]
    assert es["xpack.security.enabled"] == "true" and es["discovery.type"] == "single-node"
    assert "-Xmx" in es["ES_JAVA_OPTS"] and SERVICES["elasticsearch"]["mem_limit"]
    assert SERVICES["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert SERVICES["mailpit"]["environment"]["MP_UI_AUTH"].startswith("admin:")
    for service in SERVICES.values():  # nothing listens beyond this machine
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_every_mounted_file_exists_and_volumes_are_declared() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert used == declared


# -- .env: Compose's dotenv rules and ${VAR} interpolation ---------------------------------


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads them: a value runs to the end of the line; in an
    unquoted value, ``#`` starts a comment only after whitespace (leading whitespace is
    dropped first, so ``KEY=   # note`` gives the value ``# note``)."""
    values = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, raw = stripped.removeprefix("export ").partition("=")
        assert sep and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()), line
        raw = raw.lstrip()
        if raw[:1] in ("'", '"'):
            value = raw[1 : raw.index(raw[0], 1)]
        else:
            value = re.split(r"\s#", raw, maxsplit=1)[0].rstrip()
        values[key.strip()] = value
    return values


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` (``$$`` is a literal ``$``)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if env.get(name):
            return env[name]
        assert op != ":?", f"{name} must be set: {arg}"
        return arg if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value.replace("$$", "\0")).replace("\0", "$")


def test_env_example_parses_to_what_it_says() -> None:
    text = (ROOT / ".env.example").read_text()
    for line in text.splitlines():  # comments on their own lines only
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"[A-Z0-9_]+=[^\s#]*", line), f"value and comment on one line: {line!r}"
    values = parse_dotenv(text)
    assert values["AIRFLOW_FERNET_KEY"] == ""
    assert values["AIRFLOW_EXECUTOR"] == "LocalExecutor"
    assert not [key for key, value in values.items() if value.startswith("#")]
    for key in ("KIBANA_ENCRYPTION_KEY", "KIBANA_SECURITY_KEY", "KIBANA_REPORTING_KEY"):
        assert len(values[key]) >= 32, key


def test_the_dotenv_parser_reads_a_trailing_comment_after_blanks_as_the_value() -> None:
    # The bug this guards against: Compose took the comment for the Fernet key.
    assert parse_dotenv("AIRFLOW_FERNET_KEY=            # generated")["AIRFLOW_FERNET_KEY"] == "# generated"
    assert parse_dotenv("A=value   # comment")["A"] == "value"


def test_make_env_writes_a_dotenv_compose_parses(tmp_path: Path) -> None:
    import base64
    import shutil
    import subprocess

    (tmp_path / "docker").mkdir()
    shutil.copy2(ROOT / "docker/make-env.sh", tmp_path / "docker/make-env.sh")
    shutil.copy2(ROOT / ".env.example", tmp_path / ".env.example")
    subprocess.run(
        ["bash", str(tmp_path / "docker/make-env.sh")], check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"}
    )
    text = (tmp_path / ".env").read_text()
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    values = parse_dotenv(text)
    example = parse_dotenv((ROOT / ".env.example").read_text())
    assert set(values) == set(example)
    assert len(base64.urlsafe_b64decode(values["AIRFLOW_FERNET_KEY"])) == 32
    for key, value in example.items():
        if "PASSWORD" in key or "SECRET" in key or key.endswith("_KEY"):
            assert value != values[key] and "change-me" not in values[key] and len(values[key]) >= 32, key
    for key in ("KIBANA_ENCRYPTION_KEY", "KIBANA_SECURITY_KEY", "KIBANA_REPORTING_KEY"):
        assert len(values[key]) >= 32
    assert len({values[k] for k in ("KIBANA_ENCRYPTION_KEY", "KIBANA_SECURITY_KEY", "KIBANA_REPORTING_KEY")}) == 3
    for service in SERVICES.values():  # every variable the stack needs resolves from this file
        for value in (service.get("environment") or {}).values():
            interpolate(str(value), values)


def test_kibana_keeps_its_keys_across_restarts() -> None:
    env = SERVICES["kibana"]["environment"]
    assert env["XPACK_SECURITY_ENCRYPTIONKEY"] == "${KIBANA_SECURITY_KEY:?set in .env}"
    assert env["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"] == "${KIBANA_ENCRYPTION_KEY:?set in .env}"
    assert env["XPACK_REPORTING_ENCRYPTIONKEY"] == "${KIBANA_REPORTING_KEY:?set in .env}"


def test_service_addresses_come_from_env() -> None:
    env = SERVICES["airflow-worker"]["environment"]
    remote = {
        "POSTGRES_HOST": "10.0.0.5", "REDIS_HOST": "10.0.0.5", "AIRFLOW_API_URL": "https://airflow.internal:8443",
        "ELASTICSEARCH_URL": "https://es.internal:9200", "SMTP_HOST": "smtp.internal",
        "POSTGRES_PASSWORD": "p", "SEEDWATCH_DB_PASSWORD": "s", "ELASTIC_PASSWORD": "e",
        "AIRFLOW_JWT_SECRET": "j", "AIRFLOW_API_SECRET_KEY": "k",
    }  # fmt: skip
    resolved = {key: interpolate(str(value), remote) for key, value in env.items()}
    assert "@10.0.0.5:5432/airflow" in resolved["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert "@10.0.0.5:5432/airflow" in resolved["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert resolved["AIRFLOW__CELERY__BROKER_URL"] == "redis://:@10.0.0.5:6379/0"
    assert resolved["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "https://airflow.internal:8443/execution/"
    assert "@10.0.0.5:5432/seedwatch" in resolved["SEEDWATCH_STATE_URL"]
    assert resolved["SEEDWATCH_ES_URL"] == "https://es.internal:9200"
    assert resolved["SEEDWATCH_SMTP_HOST"] == "smtp.internal"
    hard_coded = [
        v
        for v in resolved.values()
        if re.search(r"(@|//)(postgres|redis|elasticsearch|airflow-apiserver|mailpit)\b", v)
    ]
    assert not hard_coded, hard_coded
    assert interpolate(SERVICES["kibana"]["environment"]["ELASTICSEARCH_HOSTS"], remote) == "https://es.internal:9200"


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's ``!reset`` tag (an override that clears an attribute)."""


_ComposeLoader.add_constructor("!reset", lambda loader, node: {"!reset": True})


def test_the_worker_override_starts_only_the_worker() -> None:
    override = yaml.load((ROOT / "docker-compose.worker.yml").read_text(), Loader=_ComposeLoader)  # noqa: S506
    assert set(override["services"]) == {"airflow-worker"}
    worker = override["services"]["airflow-worker"]
    assert worker["depends_on"] == {"!reset": True}  # nothing else starts on the worker machine
    assert worker["profiles"] == {"!reset": True}
    assert "airflow-worker" in SERVICES  # what it overrides


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".env", ".git", "var/", ".venv"} <= ignored
    for source in ("seedwatch", "extractors", "config", "seeds", "docker", "dags", "plugins", "README.md"):
        assert source not in ignored and f"{source}/" not in ignored, source


def test_the_image_checks_its_own_install() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip check" in text
    assert "import seedwatch_airflow" in text and "/opt/airflow/dags/seedwatch_monitor.py" in text
    assert "init_stack.py --dry-run" in text


def test_every_required_variable_is_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    required = set(re.findall(r"\$\{(\w+):\?", text))
    optional = set(re.findall(r"\$\{(\w+):-", text))
    assert required and required <= example, required - example
    assert optional - {"AIRFLOW_UID"} <= example | {"AIRFLOW_UID"}, optional - example


def test_dockerfile_installs_the_project_on_the_airflow_image() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM apache/airflow:3.3.2-python3.11"
    assert any("pip install" in line and "-c requirements.lock" in line for line in lines)
    for line in lines:
        if line.startswith("COPY"):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), source
    assert "dags /opt/airflow/dags" in (ROOT / "Dockerfile").read_text()


def test_init_scripts_are_present() -> None:
    compile((ROOT / "docker/init_stack.py").read_text(), "init_stack.py", "exec")
    assert (ROOT / "docker/postgres/10-seedwatch-db.sh").stat().st_mode & 0o111
    assert SERVICES["seedwatch-init"]["command"] == ["python", "/opt/seedwatch/docker/init_stack.py"]


# -- Kibana saved objects (rendered for the configured prefix and topics) ---------------

SETTINGS = load_settings(ROOT / "config", environ={})
TOPICS = topics_from_settings(SETTINGS)
KIBANA_OBJECTS = saved_objects(SETTINGS.index.elasticsearch, TOPICS)
OTHER_PREFIX = saved_objects(ElasticsearchSettings(index_prefix="acme"), TOPICS)


def _by_id(objects: list[dict] = KIBANA_OBJECTS) -> dict[tuple[str, str], dict]:
    return {(obj["type"], obj["id"]): obj for obj in objects}


@pytest.mark.parametrize("objects", [KIBANA_OBJECTS, OTHER_PREFIX], ids=["default-prefix", "acme"])
def test_kibana_objects_reference_only_objects_in_the_set(objects: list[dict]) -> None:
    by_id = _by_id(objects)
    assert len(by_id) == len(objects)  # ids are unique
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in by_id, (obj["id"], ref)
        if obj["type"] == "dashboard":  # every panel names a reference
            names = {ref["name"] for ref in obj["references"]}
            for panel in json.loads(obj["attributes"]["panelsJSON"]):
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_objects_are_in_the_8x_format_kibana_9_imports() -> None:
    for obj in KIBANA_OBJECTS:
        assert "migrationVersion" not in obj, obj["id"]  # the 7.x field
        assert obj["coreMigrationVersion"] == "8.8.0"
        assert obj["typeMigrationVersion"] == TYPE_MIGRATION_VERSIONS[obj["type"]]
        assert (8, 0, 0) <= _version(obj["typeMigrationVersion"]) < (9, 0, 0), obj["id"]
    assert {obj["type"] for obj in KIBANA_OBJECTS} == {"index-pattern", "search", "visualization", "dashboard"}


def test_objects_follow_the_index_prefix() -> None:
    for obj in OTHER_PREFIX:
        assert obj["id"].startswith("acme-"), obj["id"]
        for ref in obj["references"]:
            assert ref["id"].startswith("acme-"), (obj["id"], ref)
        assert "seedwatch-" not in json.dumps(obj), obj["id"]
    views = {obj["id"]: obj["attributes"]["title"] for obj in OTHER_PREFIX if obj["type"] == "index-pattern"}
    assert views == {"acme-articles": "acme-articles", "acme-feeds": "acme-feeds"}


def test_data_views_have_their_time_fields() -> None:
    objects = _by_id()
    assert objects[("index-pattern", "seedwatch-articles")]["attributes"]["timeFieldName"] == "published_at"
    assert objects[("index-pattern", "seedwatch-feeds")]["attributes"]["timeFieldName"] == "checked_at"


def test_saved_searches_cover_relevance_and_every_facet_of_every_topic() -> None:
    assert TOPICS and all(topic.facets for topic in TOPICS)
    ids = {obj["id"] for obj in KIBANA_OBJECTS if obj["type"] == "search"}
    for topic in TOPICS:
        assert f"seedwatch-{topic.name}-relevant" in ids
        for facet_id, _ in topic.facets:
            assert f"seedwatch-{topic.name}-facet-{facet_id}" in ids


def _mapped(data_view_id: str) -> dict:
    name = "articles-template.json" if data_view_id.endswith("-articles") else "feeds-template.json"
    return json.loads(packaged_text(f"elasticsearch/{name}"))["template"]["mappings"]["properties"]


def _field(properties: dict, path: str) -> dict:
    """The mapping of ``title.keyword`` or ``outlet``."""
    name, _, sub = path.partition(".")
    spec = properties[name]
    return spec["fields"][sub] if sub else spec


def test_every_field_an_object_uses_is_in_the_index_template() -> None:
    for obj in KIBANA_OBJECTS:
        refs = [ref for ref in obj["references"] if ref["type"] == "index-pattern"]
        if not refs:
            continue
        properties = _mapped(refs[0]["id"])
        attributes = obj["attributes"]
        if obj["type"] == "visualization":
            for agg in json.loads(attributes["visState"])["aggs"]:
                field = agg["params"].get("field")
                if field:  # aggregations need keyword or date fields
                    assert _field(properties, field)["type"] in ("keyword", "date"), (obj["id"], field)
        if obj["type"] == "search":
            for column in attributes["columns"]:
                assert column in properties, (obj["id"], column)
            for field, _ in attributes["sort"]:
                assert properties[field]["type"] in ("date", "keyword", "float", "integer"), (obj["id"], field)
        query = json.loads(attributes["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        for field in re.findall(r"(\w+) *(?::|>=|<=|=|<|>)", query):
            assert field in properties, (obj["id"], field)


def test_dashboard_has_the_promised_panels_including_stories() -> None:
    board = _by_id()[("dashboard", "seedwatch-overview")]
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {ref["name"]: ref for ref in board["references"]}
    shown = {refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]["id"] for panel in panels}
    assert {
        "seedwatch-volume-by-grade", "seedwatch-top-outlets", "seedwatch-top-actors", "seedwatch-facets",
        "seedwatch-languages", "seedwatch-feed-health", "seedwatch-stories-articles", "seedwatch-stories-per-day",
    } <= shown  # fmt: skip
    assert {f"seedwatch-{topic.name}-relevant" for topic in TOPICS} <= shown
    for topic in TOPICS:
        assert "url" in _by_id()[("search", f"seedwatch-{topic.name}-relevant")]["attributes"]["columns"]


def test_stories_view_groups_articles_by_story_and_day() -> None:
    per_story = json.loads(_by_id()[("visualization", "seedwatch-stories-articles")]["attributes"]["visState"])
    assert [agg["params"].get("field") for agg in per_story["aggs"]] == [None, "story_id", "title.keyword"]
    per_day = json.loads(_by_id()[("visualization", "seedwatch-stories-per-day")]["attributes"]["visState"])
    buckets = {agg["type"]: agg["params"] for agg in per_day["aggs"]}
    assert buckets["date_histogram"]["interval"] == "d" and buckets["terms"]["field"] == "story_id"


@pytest.mark.parametrize("obj", KIBANA_OBJECTS, ids=lambda o: o["id"])
def test_embedded_json_strings_parse(obj: dict) -> None:
    for key, value in obj["attributes"].items():
        if key.endswith("JSON") or key in ("visState", "fieldFormatMap"):
            json.loads(value)
    meta = obj["attributes"].get("kibanaSavedObjectMeta")
    if meta:
        json.loads(meta["searchSourceJSON"])


def test_the_cli_prints_the_rendered_objects() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(ROOT / "docker/kibana_objects.py"), "--config", str(ROOT / "config"), "--prefix", "acme"],
        capture_output=True, check=True, env={k: v for k, v in os.environ.items() if not k.startswith("SEEDWATCH")},
    ).stdout  # fmt: skip
    assert [json.loads(line) for line in out.splitlines()] == json.loads(json.dumps(OTHER_PREFIX))
