"""docker-compose.yml, the Dockerfile, .env.example and the Kibana objects, checked
without Docker: structure, health checks, mounted files, variables, references."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
ONE_SHOT = {"airflow-init", "seedwatch-init"}
KIBANA_OBJECTS = [
    json.loads(line) for line in (ROOT / "config/kibana/seedwatch.ndjson").read_text().splitlines() if line
]


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
    assert env["SEEDWATCH_INDEX_BACKEND"] == "elasticsearch" and env["SEEDWATCH_ES_URL"] == "http://elasticsearch:9200"
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


# -- Kibana saved objects ---------------------------------------------------------------


def _by_id() -> dict[tuple[str, str], dict]:
    return {(obj["type"], obj["id"]): obj for obj in KIBANA_OBJECTS}


def test_kibana_objects_reference_only_objects_in_the_file() -> None:
    objects = _by_id()
    assert len(objects) == len(KIBANA_OBJECTS)  # ids are unique
    for obj in KIBANA_OBJECTS:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in objects, (obj["id"], ref)


def test_data_views_have_their_time_fields() -> None:
    objects = _by_id()
    assert objects[("index-pattern", "seedwatch-articles")]["attributes"]["timeFieldName"] == "published_at"
    assert objects[("index-pattern", "seedwatch-feeds")]["attributes"]["timeFieldName"] == "checked_at"


def test_saved_searches_cover_relevance_and_every_facet() -> None:
    titles = {obj["attributes"]["title"] for obj in KIBANA_OBJECTS if obj["type"] == "search"}
    assert "Relevant: Libya–Turkey" in titles
    profile = yaml.safe_load((ROOT / "config/topics/libya_turkey.yaml").read_text(encoding="utf-8"))
    facet_ids = [facet["id"] for facet in profile["facets"]]
    assert {"diplomacy", "military", "maritime", "haftar_family", "economy", "opposition"} <= set(facet_ids)
    ids = {obj["id"] for obj in KIBANA_OBJECTS}
    for facet in facet_ids:
        assert f"seedwatch-facet-{facet}" in ids


def _mapped(index: str) -> dict:
    name = "articles-template.json" if index == "seedwatch-articles" else "feeds-template.json"
    return json.loads((ROOT / "config/elasticsearch" / name).read_text())["template"]["mappings"]["properties"]


def test_visualisations_aggregate_on_mapped_keyword_fields() -> None:
    for obj in KIBANA_OBJECTS:
        if obj["type"] != "visualization":
            continue
        state = json.loads(obj["attributes"]["visState"])
        properties = _mapped(obj["references"][0]["id"])
        for agg in state["aggs"]:
            field = agg["params"].get("field")
            if field:
                assert properties[field]["type"] in ("keyword", "date"), (obj["id"], field)


def test_dashboard_has_the_promised_panels() -> None:
    board = _by_id()[("dashboard", "seedwatch-overview")]
    panels = json.loads(board["attributes"]["panelsJSON"])
    refs = {ref["name"]: ref for ref in board["references"]}
    shown = {refs[panel["panelRefName"]]["id"] for panel in panels}
    assert {
        "seedwatch-volume-by-grade", "seedwatch-top-outlets", "seedwatch-top-actors", "seedwatch-facets",
        "seedwatch-languages", "seedwatch-feed-health", "seedwatch-relevant",
    } <= shown  # fmt: skip
    relevant = _by_id()[("search", "seedwatch-relevant")]
    assert "url" in relevant["attributes"]["columns"]  # links to the articles


@pytest.mark.parametrize("obj", KIBANA_OBJECTS, ids=lambda o: o["id"])
def test_embedded_json_strings_parse(obj: dict) -> None:
    for key, value in obj["attributes"].items():
        if key.endswith("JSON") or key in ("visState", "fieldFormatMap"):
            json.loads(value)
    meta = obj["attributes"].get("kibanaSavedObjectMeta")
    if meta:
        json.loads(meta["searchSourceJSON"])


def test_the_ndjson_is_what_the_generator_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("kibana_objects", ROOT / "docker/kibana_objects.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.objects() == KIBANA_OBJECTS, "run: python docker/kibana_objects.py"
