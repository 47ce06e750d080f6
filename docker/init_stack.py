"""One-shot initialisation of the docker-compose stack (the ``seedwatch-init`` service).

1. renders everything it will install, from the installed package and the
   configuration directory (no network): the index templates and percolator
   mapping (package data, or overrides in ``<config>/elasticsearch/``), the alert
   rules with a query, and the Kibana saved objects for the configured
   ``index_prefix`` and topics (or ``<config>/kibana/*.ndjson``);
2. waits for Elasticsearch, sets the ``kibana_system`` password (when
   ``KIBANA_SYSTEM_PASSWORD`` is set);
3. installs the index templates, the versioned article index behind its aliases,
   the feeds index, and the alert rules (percolator);
4. waits for Kibana and imports the saved objects.

``--dry-run`` stops after step 1 (it is what the installed-package test runs);
``--skip-kibana`` stops after step 3. Idempotent: run it again after changing
alerts.yaml, the topics or the Kibana objects. Secrets come from the environment
and are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ES_URL = os.environ.get("SEEDWATCH_ES_URL", "http://elasticsearch:9200").rstrip("/")
KIBANA_URL = os.environ.get("KIBANA_URL", "http://kibana:5601").rstrip("/")
WAIT_S = float(os.environ.get("INIT_WAIT_S", "600"))


def say(message: str) -> None:
    print(f"seedwatch-init: {message}", flush=True)


def wait_for(name: str, probe: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            if probe():
                say(f"{name} is up")
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"seedwatch-init: {name} did not come up within {WAIT_S:.0f} s")
        time.sleep(3)


@dataclass(frozen=True)
class Plan:
    """Everything the init installs, rendered before it talks to any service."""

    settings: Any  # seedwatch.settings.Settings
    templates: dict[str, dict]
    percolator_body: dict
    rules: list[tuple[str, str]]
    kibana_files: list[tuple[str, bytes]]


def prepare(config_dir: Path | None) -> Plan:
    from seedwatch.index.elastic import articles_template, feeds_template, percolator_index_body
    from seedwatch.index.kibana import import_files
    from seedwatch.index.query import parse, to_elasticsearch
    from seedwatch.settings import load_settings

    settings = load_settings(config_dir)
    es, where = settings.index.elasticsearch, settings.config_dir
    rules = [(rule.name, rule.query) for rule in settings.alerts if getattr(rule, "query", None)]
    for _, query in rules:  # a bad rule stops the init before anything is changed
        to_elasticsearch(parse(query))
    return Plan(
        settings=settings,
        templates={
            f"{es.index_prefix}-articles": articles_template(es, where),
            f"{es.index_prefix}-feeds": feeds_template(es, where),
        },
        percolator_body=percolator_index_body(where),
        rules=rules,
        kibana_files=import_files(settings),
    )


def describe(plan: Plan) -> None:
    import seedwatch

    say(f"seedwatch {seedwatch.__file__}, configuration {plan.settings.config_dir}")
    for name, body in plan.templates.items():
        say(f"template {name}: {body['index_patterns']}, {len(body['template']['mappings']['properties'])} fields")
    say(f"percolator mapping: {len(plan.percolator_body['mappings']['properties'])} fields; {len(plan.rules)} rule(s)")
    for name, data in plan.kibana_files:
        say(f"Kibana objects {name}: {len(data.splitlines())} object(s)")


def _verify(ca_env: str) -> str | bool:
    """httpx's ``verify``: a private CA's PEM for https:// URLs, else the system store."""
    return os.environ.get(ca_env) or True


def es_credentials() -> dict[str, Any]:
    """httpx options for the ``elastic`` superuser (the compose stack), else seedwatch's own
    credentials (an existing cluster): ``SEEDWATCH_ES_API_KEY`` or user and password."""
    if os.environ.get("ELASTIC_PASSWORD"):
        return {"auth": ("elastic", os.environ["ELASTIC_PASSWORD"])}
    if os.environ.get("SEEDWATCH_ES_API_KEY"):
        return {"headers": {"Authorization": f"ApiKey {os.environ['SEEDWATCH_ES_API_KEY']}"}}
    if os.environ.get("SEEDWATCH_ES_USERNAME") and os.environ.get("SEEDWATCH_ES_PASSWORD"):
        return {"auth": (os.environ["SEEDWATCH_ES_USERNAME"], os.environ["SEEDWATCH_ES_PASSWORD"])}
    return {}


def install_elasticsearch(plan: Plan) -> None:
    from seedwatch.index.elastic import ElasticArticleIndex
    from seedwatch.index.percolate import install_percolator_rules

    with httpx.Client(timeout=30, verify=_verify("SEEDWATCH_ES_CA_CERTS"), **es_credentials()) as es:
        wait_for("Elasticsearch", lambda: es.get(f"{ES_URL}/_cluster/health").status_code == 200)
        kibana_password = os.environ.get("KIBANA_SYSTEM_PASSWORD")
        if kibana_password:
            response = es.post(f"{ES_URL}/_security/user/kibana_system/_password", json={"password": kibana_password})
            response.raise_for_status()
            say("kibana_system password set")

    settings = plan.settings
    index = ElasticArticleIndex(settings.index.elasticsearch)
    index.ensure_ready()
    index.close()
    say(f"index templates, {settings.index.elasticsearch.articles_index(1)} (or later) and aliases ready")
    install_percolator_rules(settings.index, plan.rules)
    say(f"{len(plan.rules)} alert rule(s) installed in the percolator index")


def import_kibana_objects(plan: Plan) -> None:
    options = es_credentials()  # Kibana takes the same users as Elasticsearch
    options["headers"] = {**options.get("headers", {}), "kbn-xsrf": "seedwatch-init"}
    with httpx.Client(timeout=60, verify=_verify("KIBANA_CA_CERTS"), **options) as kibana:
        wait_for(
            "Kibana",
            lambda: (
                kibana.get(f"{KIBANA_URL}/api/status").json().get("status", {}).get("overall", {}).get("level")
                == "available"
            ),
        )
        for name, data in plan.kibana_files:
            response = kibana.post(
                f"{KIBANA_URL}/api/saved_objects/_import",
                params={"overwrite": "true"},
                files={"file": (name, data, "application/ndjson")},
            )
            response.raise_for_status()
            result = response.json()
            if not result.get("success"):
                sys.exit(f"seedwatch-init: importing {name} failed: {result.get('errors')}")
            say(f"imported {result.get('successCount')} Kibana object(s) from {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="configuration directory (default: as settings)")
    parser.add_argument("--dry-run", action="store_true", help="render and check everything; contact nothing")
    parser.add_argument("--skip-kibana", action="store_true", help="install in Elasticsearch only")
    args = parser.parse_args(argv)

    plan = prepare(args.config)
    describe(plan)
    if args.dry_run:
        return 0
    install_elasticsearch(plan)
    if not args.skip_kibana:
        import_kibana_objects(plan)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
