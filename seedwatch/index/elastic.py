"""The Elasticsearch article index (Elasticsearch 9.x with the pinned 9.x client).

Layout, all names derived from ``index_prefix`` (default ``seedwatch``)::

    seedwatch-articles-v1, -v2 …   physical indices, created from the composable template
                                   articles-template.json (seedwatch.index.resources)
    seedwatch-articles             read alias (searches, Kibana's data view)
    seedwatch-articles-write       write alias (is_write_index) used by bulk indexing
    seedwatch-feeds                feed health, one document per feed
    seedwatch-alert-rules          percolator index of alert rules (seedwatch.index.percolate)

A mapping change is a new template version, then :func:`reindex_and_swap`
(``seedwatch index reindex --version N``). The templates are package data; a file
``elasticsearch/<name>.json`` in the configuration directory overrides the packaged
one (:mod:`seedwatch.index.resources`). Only core APIs are used (composable
templates, aliases, bulk, search, percolator, reindex): no licensed features.

Failures: :meth:`ElasticArticleIndex.upsert` never raises for the cluster being
down or refusing documents; it returns a retryable outcome for 429, 5xx and
connection errors and a permanent one for documents the mapping rejects (400).
Reads raise :class:`IndexUnavailableError` (a ``SeedwatchError``) when the
cluster cannot answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from seedwatch.errors import SeedwatchError
from seedwatch.index.base import (
    ElasticsearchSettings,
    IndexOutcome,
    IndexSettings,
    SearchHit,
    SearchResults,
    feed_health_to_doc,
    parse_iso,
)
from seedwatch.index.query import check_page, parse, to_elasticsearch
from seedwatch.index.resources import load_json

log = structlog.get_logger(__name__)

_SNIPPET_CHARS = 160


class IndexUnavailableError(SeedwatchError):
    """Elasticsearch could not answer a read (down, refusing credentials, no index)."""


# -- templates (package data, or overrides in the configuration directory) -------------


def _load(name: str, config_dir: Path | None = None) -> dict[str, Any]:
    return load_json(f"elasticsearch/{name}", config_dir)


def _template(name: str, pattern: str, config_dir: Path | None) -> dict[str, Any]:
    body = copy.deepcopy(_load(name, config_dir))
    body["index_patterns"] = [pattern]
    body["meta"] = body.pop("_meta", {})  # the client's keyword for the body's _meta
    return body


def articles_template(es: ElasticsearchSettings, config_dir: Path | None = None) -> dict[str, Any]:
    """Keyword arguments of ``put_index_template`` for the versioned article indices.

    ``config_dir``: where an override may be (default: ``SEEDWATCH_CONFIG_DIR`` or ``./config``)."""
    return _template("articles-template.json", f"{es.index_prefix}-articles-v*", config_dir)


def feeds_template(es: ElasticsearchSettings, config_dir: Path | None = None) -> dict[str, Any]:
    return _template("feeds-template.json", es.feeds_index, config_dir)


def percolator_index_body(config_dir: Path | None = None) -> dict[str, Any]:
    """Settings and mappings of the percolator index: the article mapping plus the
    stored ``query`` (so rules are parsed with the same analyzers as articles)."""
    template = _load("articles-template.json", config_dir)["template"]
    body = {"settings": copy.deepcopy(template["settings"]), "mappings": copy.deepcopy(template["mappings"])}
    body["mappings"]["properties"].update(copy.deepcopy(_load("percolator-mapping.json", config_dir))["properties"])
    return body


# -- the client ---------------------------------------------------------------------


_JSON_MEDIA = re.compile(r"application/(json|x-ndjson)")


def compat_headers(headers: Mapping[str, str] | None, major: int) -> Mapping[str, str] | None:
    """Accept/Content-Type for an older cluster: 8 gets ``compatible-with=8``; 7 gets
    plain JSON, spelt so the 9.x client does not rewrite it (media types are
    case-insensitive to Elasticsearch)."""
    if not headers or major >= 9:
        return headers
    out = dict(headers)
    for key, value in headers.items():
        if key.lower() in ("accept", "content-type"):
            if major == 8:
                out[key] = _JSON_MEDIA.sub(r"application/vnd.elasticsearch+\1; compatible-with=8", value)
            else:
                out[key] = _JSON_MEDIA.sub(r"Application/\1", value)
    return out


class _OlderClusterClient(Elasticsearch):
    """The 9.x client for an 8.x or 7.x cluster (set ``server_major_version``)."""

    server_major = 8

    def perform_request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        return super().perform_request(method, path, headers=compat_headers(headers, self.server_major), **kwargs)


class _Cluster8Client(_OlderClusterClient):
    server_major = 8


class _Cluster7Client(_OlderClusterClient):
    server_major = 7

    # 7.10-7.13 send no X-Elastic-Product header; the 9.x client would refuse them.
    @property
    def _verified_elasticsearch(self) -> bool:
        return True

    @_verified_elasticsearch.setter
    def _verified_elasticsearch(self, value: bool) -> None:
        pass


_CLIENT_CLASSES: dict[int, type[Elasticsearch]] = {9: Elasticsearch, 8: _Cluster8Client, 7: _Cluster7Client}


def make_client(es: ElasticsearchSettings) -> Elasticsearch:
    """A client for ``es``; credentials come from :class:`ElasticsearchSettings` and are
    never logged. Creating it does no I/O."""
    options: dict[str, Any] = {
        "request_timeout": es.request_timeout_s,
        "max_retries": es.max_retries,
        "retry_on_timeout": True,
        "verify_certs": es.verify_certs,
    }
    if es.ca_certs is not None:
        options["ca_certs"] = str(es.ca_certs)
    if not es.verify_certs:
        options["ssl_show_warn"] = False
    api_key = es.resolved_api_key()
    basic = es.resolved_basic_auth()
    if api_key is not None:
        options["api_key"] = api_key.get_secret_value()
    elif basic is not None:
        options["basic_auth"] = (basic[0], basic[1].get_secret_value())
    if es.server_major_version == 7:  # the media types compat_headers spells for 7.x
        from elasticsearch.serializer import JsonSerializer, NdjsonSerializer

        options["serializers"] = {"Application/json": JsonSerializer(), "Application/x-ndjson": NdjsonSerializer()}
    return _CLIENT_CLASSES[es.server_major_version](es.url, **options)


def _es(settings: IndexSettings | ElasticsearchSettings) -> ElasticsearchSettings:
    return settings.elasticsearch if isinstance(settings, IndexSettings) else settings


def _describe(exc: BaseException) -> str:
    """An error message without request bodies or credentials."""
    if isinstance(exc, ApiError):
        reason = exc.body.get("error", {}).get("reason") if isinstance(exc.body, dict) else None
        reason = reason if isinstance(reason, str) else None
        return f"HTTP {exc.status_code}: {exc.message}" + (f" ({reason})" if reason else "")
    return f"{type(exc).__name__}: {exc}"


def install(client: Elasticsearch, es: ElasticsearchSettings) -> None:
    """Install the templates and, if absent, the first article index behind both aliases
    and the feeds index. Idempotent; safe when several processes race."""
    client.indices.put_index_template(name=f"{es.index_prefix}-articles", **articles_template(es))
    client.indices.put_index_template(name=f"{es.index_prefix}-feeds", **feeds_template(es))
    if not client.indices.exists_alias(name=es.articles_alias):
        _create_index(
            client,
            es.articles_index(1),
            aliases={es.articles_alias: {}, es.articles_write_alias: {"is_write_index": True}},
        )
    if not client.indices.exists(index=es.feeds_index):
        _create_index(client, es.feeds_index)


def _create_index(client: Elasticsearch, name: str, **body: Any) -> None:
    try:
        client.indices.create(index=name, **body)
    except ApiError as exc:
        if exc.error != "resource_already_exists_exception":  # another process was first
            raise


# -- the backend ----------------------------------------------------------------------


class ElasticArticleIndex:
    """:class:`seedwatch.index.base.ArticleIndex` on Elasticsearch."""

    def __init__(self, settings: ElasticsearchSettings, client: Elasticsearch | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self._ready = False

    def ensure_ready(self) -> None:
        if not self._ready:
            install(self.client, self.settings)
            self._ready = True

    def upsert(self, docs: Sequence[dict]) -> list[IndexOutcome]:
        latest: dict[str, dict] = {}
        outcomes: dict[str, IndexOutcome] = {}
        for doc in docs:
            article_id = str(doc.get("article_id") or "")
            if not article_id:
                outcomes[article_id] = IndexOutcome(article_id, False, "document lacks article_id", retryable=False)
            else:
                latest[article_id] = doc  # the same article twice in a batch: the last wins
        try:
            self.ensure_ready()
            outcomes.update(self._bulk(latest))
        except Exception as exc:  # noqa: BLE001 - whatever happened, the outbox keeps them
            error = _describe(exc)
            log.warning("index.elasticsearch.unavailable", error=error, documents=len(latest))
            for article_id in latest:
                outcomes.setdefault(article_id, IndexOutcome(article_id, False, error, retryable=True))
        return [outcomes[str(doc.get("article_id") or "")] for doc in docs]

    def _bulk(self, docs: dict[str, dict]) -> Iterable[tuple[str, IndexOutcome]]:
        actions = bulk_actions(docs.values(), self.settings.articles_write_alias)
        results: dict[str, IndexOutcome] = {}
        try:
            for ok, item in helpers.streaming_bulk(
                self.client,
                actions,
                chunk_size=self.settings.chunk_size,
                max_retries=self.settings.bulk_max_retries,
                initial_backoff=self.settings.bulk_initial_backoff_s,
                raise_on_error=False,
                raise_on_exception=False,
            ):
                info = next(iter(item.values()))
                article_id = str(info.get("_id"))
                results[article_id] = _outcome(article_id, ok, info)
        except TransportError as exc:  # the connection dropped part-way: the rest is retryable
            error = _describe(exc)
            log.warning("index.elasticsearch.bulk_interrupted", error=error, done=len(results), documents=len(docs))
            for article_id in docs:
                results.setdefault(article_id, IndexOutcome(article_id, False, error, retryable=True))
        failed = [o for o in results.values() if not o.ok]
        if failed:
            log.warning(
                "index.elasticsearch.rejected",
                documents=len(failed),
                retryable=sum(o.retryable for o in failed),
                first_error=failed[0].error,
            )
        return results.items()

    def search(self, query: str, *, limit: int = 20, offset: int = 0, stories: bool = False) -> SearchResults:
        check_page(limit, offset)
        dsl = to_elasticsearch(parse(query))  # syntax errors before any I/O
        # stories: the newest copy of each story (the sort's first), its matching copies as inner hits.
        collapse = {"field": "story_id", "inner_hits": {"name": "copies", "size": 100, "_source": ["outlet"]}}
        try:
            response = self.client.search(
                index=self.settings.articles_alias,
                query=dsl,
                from_=offset,
                size=limit,
                sort=[{"published_at": {"order": "desc", "missing": "_last"}}, {"article_id": "asc"}],
                track_total_hits=True,
                highlight={"fields": {"body": {"number_of_fragments": 1, "fragment_size": _SNIPPET_CHARS}}},
                **(
                    {"collapse": collapse, "aggs": {"stories": {"cardinality": {"field": "story_id"}}}}
                    if stories
                    else {}
                ),
            )
        except (ApiError, TransportError) as exc:
            raise IndexUnavailableError(f"Elasticsearch search failed: {_describe(exc)}") from None
        hits = [_hit(hit) for hit in response["hits"]["hits"]]
        if stories:
            return SearchResults(total=int(response["aggregations"]["stories"]["value"]), hits=hits)
        return SearchResults(total=response["hits"]["total"]["value"], hits=hits)

    def count(self) -> int:
        try:
            return int(self.client.count(index=self.settings.articles_alias)["count"])
        except (ApiError, TransportError) as exc:
            raise IndexUnavailableError(f"Elasticsearch count failed: {_describe(exc)}") from None

    def get(self, article_id: str) -> dict | None:
        try:
            return dict(self.client.get(index=self.settings.articles_alias, id=article_id)["_source"])
        except NotFoundError:
            return None
        except (ApiError, TransportError) as exc:
            raise IndexUnavailableError(f"Elasticsearch get failed: {_describe(exc)}") from None

    def upsert_feed_health(self, records: Sequence[dict]) -> None:
        """Index one document per feed; raises on failure (feed health is re-sent every run)."""
        self.ensure_ready()
        actions = [
            {"_op_type": "index", "_index": self.settings.feeds_index, "_id": doc["feed_id"], "_source": doc}
            for doc in (feed_health_to_doc(record) for record in records)
        ]
        helpers.bulk(
            self.client, actions, chunk_size=self.settings.chunk_size, max_retries=self.settings.bulk_max_retries
        )

    def refresh(self) -> None:
        """Make recent writes searchable now (tests and the init script; normal runs wait ~1 s)."""
        self.client.indices.refresh(index=[self.settings.articles_alias, self.settings.feeds_index])

    def close(self) -> None:
        self.client.close()


def bulk_actions(docs: Iterable[dict], index: str) -> Iterator[dict[str, Any]]:
    """``streaming_bulk`` actions: index (replace) each document under its ``article_id``."""
    for doc in docs:
        yield {"_op_type": "index", "_index": index, "_id": doc["article_id"], "_source": doc}


def _outcome(article_id: str, ok: bool, info: dict[str, Any]) -> IndexOutcome:
    if ok:
        return IndexOutcome(article_id, True)
    status = info.get("status")
    error = info.get("error")
    if isinstance(error, dict):
        message = f"{error.get('type')}: {error.get('reason')}"
    else:
        message = str(error)
    # No status means the request never got an answer; 429 and 5xx pass; other 4xx are the document's fault.
    retryable = not isinstance(status, int) or status == 429 or status >= 500
    return IndexOutcome(article_id, False, f"HTTP {status}: {message}" if status else message, retryable=retryable)


def _hit(hit: dict[str, Any]) -> SearchHit:
    doc = hit["_source"]
    fragments = hit.get("highlight", {}).get("body") or []
    body = doc.get("body") or doc.get("summary") or ""
    if fragments:  # plain text, like the SQLite backend's snippets
        snippet = " ".join(fragments[0].replace("<em>", "").replace("</em>", "").split())
    else:
        snippet = " ".join(body[:_SNIPPET_CHARS].split())
    return SearchHit(
        article_id=doc["article_id"],
        title=doc.get("title") or "",
        url=doc.get("url") or "",
        outlet=doc.get("outlet") or "",
        language=doc.get("language"),
        published_at=parse_iso(doc.get("published_at")),
        grade=int(doc.get("grade") or 0),
        score=float(doc.get("score") or 0.0),
        facets=tuple(doc.get("facets") or ()),
        snippet=snippet,
        actors=tuple(doc.get("actors") or ()),
        story_id=doc.get("story_id"),
        **_story_copies(hit, doc.get("outlet")),
    )


def _story_copies(hit: dict[str, Any], outlet: str | None) -> dict[str, Any]:
    """``story_hits`` and ``other_outlets`` of a collapsed hit (nothing for a plain one)."""
    copies = hit.get("inner_hits", {}).get("copies", {}).get("hits")
    if copies is None:
        return {}
    outlets = {c["_source"].get("outlet") for c in copies["hits"]} - {outlet, None}
    return {"story_hits": int(copies["total"]["value"]), "other_outlets": tuple(sorted(outlets))}


# -- reindex with an alias swap ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReindexReport:
    old_index: str | None
    new_index: str
    source_documents: int
    copied_documents: int
    late_documents: int  # written to the old index during the copy, copied after the swap
    swapped: bool


def current_article_index(client: Elasticsearch, es: ElasticsearchSettings) -> str | None:
    """The physical index behind the write alias (or the read alias), if any."""
    for alias in (es.articles_write_alias, es.articles_alias):
        try:
            found = client.indices.get_alias(name=alias)
        except NotFoundError:
            continue
        names = sorted(found.body)
        for name in names:
            info = found.body[name]["aliases"].get(alias, {})
            if alias == es.articles_write_alias and info.get("is_write_index", len(names) == 1):
                return name
        if names:
            return names[-1]
    return None


def reindex_and_swap(settings: IndexSettings | ElasticsearchSettings, new_version: int) -> ReindexReport:
    """Create ``<prefix>-articles-v<new_version>`` from the current template, copy every
    document into it, then move both aliases to it in one atomic alias update.

    Documents written to the old index while the copy ran are copied again after
    the swap (``op_type: create``, conflicts skipped), so none is lost. The old
    index is kept; delete it once the new one is checked.
    """
    es = _es(settings)
    client = make_client(es)
    try:
        client.indices.put_index_template(name=f"{es.index_prefix}-articles", **articles_template(es))
        old = current_article_index(client, es)
        new = es.articles_index(new_version)
        if old == new:
            raise SeedwatchError(f"{new} is already the current index; choose a higher version")
        if client.indices.exists(index=new):
            raise SeedwatchError(f"{new} exists already; delete it or choose another version")
        client.indices.create(index=new)
        source = copied = late = 0
        if old is not None:
            client.indices.refresh(index=old)
            source = int(client.count(index=old)["count"])
            result = client.reindex(
                source={"index": old}, dest={"index": new}, wait_for_completion=True, refresh=True
            ).body
            copied = int(result.get("created", 0)) + int(result.get("updated", 0))
            if result.get("failures"):
                raise SeedwatchError(f"reindex {old} -> {new} failed: {result['failures'][:3]}; aliases not moved")
        actions: list[dict[str, Any]] = []
        if old is not None:
            actions += [
                {"remove": {"index": old, "alias": es.articles_alias}},
                {"remove": {"index": old, "alias": es.articles_write_alias}},
            ]
        actions += [
            {"add": {"index": new, "alias": es.articles_alias}},
            {"add": {"index": new, "alias": es.articles_write_alias, "is_write_index": True}},
        ]
        client.indices.update_aliases(actions=actions)
        if old is not None:  # catch up with writes that landed in the old index during the copy
            client.indices.refresh(index=old)
            result = client.reindex(
                source={"index": old},
                dest={"index": new, "op_type": "create"},
                conflicts="proceed",
                wait_for_completion=True,
                refresh=True,
            ).body
            late = int(result.get("created", 0))
        log.info("index.elasticsearch.reindexed", old=old, new=new, source=source, copied=copied, late=late)
        return ReindexReport(old, new, source, copied, late, swapped=True)
    finally:
        client.close()
