"""Alert rules as stored Elasticsearch queries (the percolator).

Each rule ``(name, query)`` in the seedwatch query language is translated with
:func:`seedwatch.index.query.to_elasticsearch` and stored in
``<prefix>-alert-rules``; :func:`percolate` asks which rules a new document
matches. With the SQLite backend, :func:`seedwatch.index.query.matches` gives
the same answer in memory (:func:`matching_rules` picks the right one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from seedwatch.index.base import ElasticsearchSettings, IndexSettings
from seedwatch.index.query import matches, parse, to_elasticsearch

log = structlog.get_logger(__name__)


def install_percolator_rules(settings: IndexSettings | ElasticsearchSettings, rules: Sequence[tuple[str, str]]) -> None:
    """Make the percolator index hold exactly ``rules`` (name, query). Idempotent.

    Every query is parsed first, so one bad rule raises ``QuerySyntaxError`` before
    anything is changed.
    """
    from elasticsearch import helpers

    from seedwatch.index.elastic import _create_index, _es, make_client, percolator_index_body

    es = _es(settings)
    compiled = [(name, to_elasticsearch(parse(query))) for name, query in rules]
    client = make_client(es)
    try:
        if not client.indices.exists(index=es.percolator_index):
            _create_index(client, es.percolator_index, **percolator_index_body())
        else:  # a newer article mapping: new fields must be known before queries use them
            client.indices.put_mapping(index=es.percolator_index, **percolator_index_body()["mappings"])
        helpers.bulk(
            client,
            (
                {
                    "_op_type": "index",
                    "_index": es.percolator_index,
                    "_id": name,
                    "_source": {"rule": name, "query": dsl},
                }
                for name, dsl in compiled
            ),
            refresh="wait_for",
        )
        names = [name for name, _ in compiled]
        client.delete_by_query(
            index=es.percolator_index,
            query={"bool": {"must_not": [{"terms": {"rule": names}}]}} if names else {"match_all": {}},
            refresh=True,
            conflicts="proceed",
        )
        log.info("index.percolator.installed", rules=len(names))
    finally:
        client.close()


def percolate(settings: IndexSettings | ElasticsearchSettings, doc: dict[str, Any]) -> list[str]:
    """Names of the stored rules that ``doc`` (an indexed article document) matches, sorted."""
    # Imported here: on SQLite the alert stage never loads the Elasticsearch client (0.4 s).
    from seedwatch.index.elastic import _es, make_client

    es = _es(settings)
    client = make_client(es)
    try:
        response = client.search(
            index=es.percolator_index,
            query={"percolate": {"field": "query", "document": doc}},
            source=["rule"],
            size=10_000,
        )
        return sorted(hit["_source"]["rule"] for hit in response["hits"]["hits"])
    finally:
        client.close()


def matching_rules(settings: IndexSettings, rules: Sequence[tuple[str, str]], doc: dict[str, Any]) -> list[str]:
    """The rules ``doc`` matches: percolated by Elasticsearch, or evaluated in memory on SQLite."""
    if settings.backend == "elasticsearch":
        return percolate(settings, doc)
    return sorted(name for name, query in rules if matches(query, doc))


def rule_query_matcher(settings: IndexSettings, rules: Sequence[tuple[str, str]]) -> Callable[[str, dict], bool]:
    """A ``(query, doc) -> bool`` for the alert rules: one percolation per document on
    Elasticsearch, :func:`matches` in memory on SQLite or while the cluster is down.

    Both answer the same question; the percolator is the production path because the
    rules live next to the articles and Kibana can show them.
    """
    if settings.backend != "elasticsearch":
        return matches
    rules_by_query: dict[str, set[str]] = {}
    for name, query in rules:
        rules_by_query.setdefault(query, set()).add(name)
    percolated: dict[str, set[str] | None] = {}

    def matcher(query: str, doc: dict[str, Any]) -> bool:
        key = json.dumps(doc, sort_keys=True, default=str)
        if key not in percolated:
            try:
                percolated[key] = set(percolate(settings, doc))
            except Exception as exc:  # noqa: BLE001 - the same answer is computed in memory
                log.warning("alerts.percolator_unavailable", error=type(exc).__name__, fallback="in-memory match")
                percolated[key] = None
        names = percolated[key]
        return matches(query, doc) if names is None else bool(names & rules_by_query.get(query, set()))

    return matcher
