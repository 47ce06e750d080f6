"""One-shot initialisation of the docker-compose stack (the ``seedwatch-init`` service).

1. waits for Elasticsearch, sets the ``kibana_system`` password;
2. installs seedwatch's index templates, the versioned article index behind its
   aliases, the feeds index, and the alert rules that have a query (percolator);
3. waits for Kibana and imports the saved objects of ``config/kibana/*.ndjson``.

Idempotent: run it again after changing alerts.yaml or the Kibana objects.
Secrets come from the environment and are never printed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

CONFIG_DIR = Path(os.environ.get("SEEDWATCH_CONFIG_DIR", "/opt/seedwatch/config"))
ES_URL = os.environ.get("SEEDWATCH_ES_URL", "http://elasticsearch:9200").rstrip("/")
KIBANA_URL = os.environ.get("KIBANA_URL", "http://kibana:5601").rstrip("/")
WAIT_S = float(os.environ.get("INIT_WAIT_S", "600"))


def say(message: str) -> None:
    print(f"seedwatch-init: {message}", flush=True)


def wait_for(name: str, probe) -> None:  # noqa: ANN001
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


def main() -> int:
    elastic = ("elastic", os.environ["ELASTIC_PASSWORD"])
    with httpx.Client(auth=elastic, timeout=30) as es:
        wait_for("Elasticsearch", lambda: es.get(f"{ES_URL}/_cluster/health").status_code == 200)
        kibana_password = os.environ.get("KIBANA_SYSTEM_PASSWORD")
        if kibana_password:
            response = es.post(f"{ES_URL}/_security/user/kibana_system/_password", json={"password": kibana_password})
            response.raise_for_status()
            say("kibana_system password set")

    from seedwatch.index.elastic import ElasticArticleIndex
    from seedwatch.index.percolate import install_percolator_rules
    from seedwatch.settings import load_settings

    settings = load_settings(CONFIG_DIR)
    index = ElasticArticleIndex(settings.index.elasticsearch)
    index.ensure_ready()
    index.close()
    say(f"index templates, {settings.index.elasticsearch.articles_index(1)} (or later) and aliases ready")
    rules = [(rule.name, rule.query) for rule in settings.alerts if getattr(rule, "query", None)]
    install_percolator_rules(settings.index, rules)
    say(f"{len(rules)} alert rule(s) installed in the percolator index")

    with httpx.Client(auth=elastic, timeout=60, headers={"kbn-xsrf": "seedwatch-init"}) as kibana:
        wait_for(
            "Kibana",
            lambda: (
                kibana.get(f"{KIBANA_URL}/api/status").json().get("status", {}).get("overall", {}).get("level")
                == "available"
            ),
        )
        for path in sorted((CONFIG_DIR / "kibana").glob("*.ndjson")):
            response = kibana.post(
                f"{KIBANA_URL}/api/saved_objects/_import",
                params={"overwrite": "true"},
                files={"file": (path.name, path.read_bytes(), "application/ndjson")},
            )
            response.raise_for_status()
            result = response.json()
            if not result.get("success"):
                sys.exit(f"seedwatch-init: importing {path.name} failed: {result.get('errors')}")
            say(f"imported {result.get('successCount')} Kibana object(s) from {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
