"""seedwatch's Kibana saved objects, rendered for one deployment.

The objects (two data views, saved searches, aggregation-based visualizations and
one dashboard) are generated, not stored: every id, data-view title and index
reference comes from ``index.elasticsearch.index_prefix``, and the saved searches
per topic and facet come from the configured topics (``paths.seeds_dir`` and
``paths.topics_dir``). ``seedwatch-init`` imports them with
``POST /api/saved_objects/_import?overwrite=true``; ids are stable, so a re-import
overwrites instead of duplicating.

Format: Kibana 8.x saved objects (``coreMigrationVersion`` 8.8.0 and a
``typeMigrationVersion`` per type), which Kibana 8.8 or later and 9.x import,
migrating each object forward from its stated version. Only core object types are
used: ``index-pattern`` (data views), ``search``, ``visualization``, ``dashboard``.

Overrides follow :mod:`seedwatch.index.resources`: ``<config dir>/kibana/seedwatch.ndjson``
replaces the rendered objects; any other ``<config dir>/kibana/*.ndjson`` is imported
after them (same id: the later file wins).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedwatch.index.base import ElasticsearchSettings
from seedwatch.index.resources import config_dir as resolve_config_dir

if TYPE_CHECKING:  # seedwatch.settings imports the index package
    from seedwatch.settings import Settings

CORE_MIGRATION_VERSION = "8.8.0"
# The version each object's attributes are written in; Kibana runs the later migrations.
TYPE_MIGRATION_VERSIONS = {
    "index-pattern": "8.0.0",
    "search": "8.0.0",
    "visualization": "8.0.0",
    "dashboard": "8.7.0",
}
RENDERED_FILE = "seedwatch.ndjson"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
ARTICLE_COLUMNS = ["title", "outlet", "language", "grade_name", "score", "facets", "actors", "story_id", "url"]


@dataclass(frozen=True, slots=True)
class TopicView:
    """What the objects need of one topic: its id, its title and its facets (id, label)."""

    name: str
    title: str
    facets: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Names:
    """Ids and data-view titles of one deployment (one index prefix)."""

    prefix: str

    @property
    def articles(self) -> str:  # the read alias, and the articles data view's id and title
        return f"{self.prefix}-articles"

    @property
    def feeds(self) -> str:
        return f"{self.prefix}-feeds"

    def id(self, name: str) -> str:
        return f"{self.prefix}-{name}"


def _object(type_: str, id_: str, attributes: dict[str, Any], references: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "id": id_,
        "type": type_,
        "attributes": attributes,
        "references": references,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "typeMigrationVersion": TYPE_MIGRATION_VERSIONS[type_],
    }


def _search_source(query: str, data_view: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
    return {"searchSourceJSON": json.dumps(source)}, [{"name": INDEX_REF, "type": "index-pattern", "id": data_view}]


def data_view(id_: str, time_field: str, formats: dict[str, Any]) -> dict[str, Any]:
    attributes = {
        "title": id_,  # the index pattern: here the alias or index name itself
        "name": id_,
        "timeFieldName": time_field,
        "fieldFormatMap": json.dumps(formats),
        "allowNoIndex": True,  # importable before the first article is indexed
    }
    return _object("index-pattern", id_, attributes, [])


def saved_search(
    id_: str, title: str, query: str, columns: list[str], *, data_view_id: str, sort: str = "published_at"
) -> dict[str, Any]:
    meta, refs = _search_source(query, data_view_id)
    attributes = {
        "title": title,
        "description": f"Query: {query}",
        "columns": columns,
        "sort": [[sort, "desc"]],
        "isTextBasedQuery": False,
        "kibanaSavedObjectMeta": meta,
    }
    return _object("search", id_, attributes, refs)


# -- aggregation-based visualizations ------------------------------------------------------


def _axes(horizontal: bool) -> dict[str, Any]:
    category = {
        "id": "CategoryAxis-1",
        "type": "category",
        "position": "left" if horizontal else "bottom",
        "show": True,
        "style": {},
        "scale": {"type": "linear"},
        "labels": {"show": True, "filter": not horizontal, "truncate": 100},
        "title": {},
    }
    value = {
        "id": "ValueAxis-1",
        "name": "BottomAxis-1" if horizontal else "LeftAxis-1",
        "type": "value",
        "position": "bottom" if horizontal else "left",
        "show": True,
        "style": {},
        "scale": {"type": "linear", "mode": "normal"},
        "labels": {"show": True, "rotate": 0, "filter": horizontal, "truncate": 100},
        "title": {"text": "Articles"},
    }
    return {"categoryAxes": [category], "valueAxes": [value]}


def bar_params(horizontal: bool, mode: str) -> dict[str, Any]:
    """Bar chart parameters in the shape Kibana 7.12+ stores (the xy chart plugin)."""
    return {
        "type": "histogram",  # horizontal bars are the histogram type with swapped axes
        "grid": {"categoryLines": False},
        **_axes(horizontal),
        "seriesParams": [
            {
                "show": True,
                "type": "histogram",
                "mode": mode,
                "data": {"label": "Articles", "id": "1"},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "showCircles": True,
            }
        ],
        "addTooltip": True,
        "detailedTooltip": True,
        "isVislibVis": True,
        "palette": {"type": "palette", "name": "kibana_palette"},
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }


PIE = {
    "type": "pie",
    "addTooltip": True,
    "addLegend": True,
    "legendPosition": "right",
    "isDonut": True,
    "labels": {"show": True, "values": True, "last_level": True, "truncate": 100},
}
TABLE = {
    "perPage": 10,
    "showPartialRows": False,
    "showMetricsAtAllLevels": False,
    "showTotal": False,
    "totalFunc": "sum",
    "percentageCol": "",
    "showToolbar": True,
}
COUNT = {"id": "1", "enabled": True, "type": "count", "params": {}, "schema": "metric"}


def terms(id_: str, field: str, size: int, schema: str, label: str) -> dict[str, Any]:
    return {
        "id": id_,
        "enabled": True,
        "type": "terms",
        "schema": schema,
        "params": {
            "field": field,
            "size": size,
            "order": "desc",
            "orderBy": "1",
            "otherBucket": False,
            "missingBucket": False,
            "customLabel": label,
        },
    }


def date_histogram(id_: str, interval: str) -> dict[str, Any]:
    return {
        "id": id_,
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {
            "field": "published_at",
            "interval": interval,
            "min_doc_count": 1,
            "extended_bounds": {},
            "drop_partials": False,
            "useNormalizedEsInterval": True,
            "scaleMetricValues": False,
        },
    }


def visualization(
    id_: str, title: str, vis_type: str, params: dict[str, Any], aggs: list[dict[str, Any]], *, data_view_id: str,
    query: str = "",
) -> dict[str, Any]:  # fmt: skip
    meta, refs = _search_source(query, data_view_id)
    state = {"title": title, "type": vis_type, "params": params, "aggs": [COUNT, *aggs]}
    attributes = {
        "title": title,
        "visState": json.dumps(state),
        "uiStateJSON": "{}",
        "description": "",
        "version": 1,
        "kibanaSavedObjectMeta": meta,
    }
    return _object("visualization", id_, attributes, refs)


def dashboard(id_: str, title: str, description: str, panels: list[tuple[str, str, int, int, int, int]]) -> dict:
    """panels: (type, id, x, y, w, h) on Kibana's 48-column grid."""
    panels_json, refs = [], []
    for n, (kind, object_id, x, y, w, h) in enumerate(panels, start=1):
        ref_name = f"{n}:panel_{n}"
        panels_json.append(
            {
                "type": kind,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(n)},
                "panelIndex": str(n),
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{n}",
            }
        )
        refs.append({"name": ref_name, "type": kind, "id": object_id})
    attributes = {
        "title": title,
        "description": description,
        "panelsJSON": json.dumps(panels_json),
        "optionsJSON": json.dumps({"useMargins": True, "syncColors": False, "hidePanelTitles": False}),
        "timeRestore": True,
        "timeFrom": "now-30d",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 300000},
        "version": 1,
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
        },
    }
    return _object("dashboard", id_, attributes, refs)


# -- the objects of one deployment ------------------------------------------------------------


def _topic_searches(names: _Names, topic: TopicView) -> list[dict[str, Any]]:
    where = f'topics : "{topic.name}"'
    out = [
        saved_search(
            names.id(f"{topic.name}-relevant"), f"Relevant: {topic.title}", f"{where} and grade >= 2",
            ARTICLE_COLUMNS, data_view_id=names.articles,
        ),
        saved_search(
            names.id(f"{topic.name}-partial"), f"Partly relevant: {topic.title}", f"{where} and grade = 1",
            ARTICLE_COLUMNS, data_view_id=names.articles,
        ),
    ]  # fmt: skip
    for facet_id, label in topic.facets:
        out.append(
            saved_search(
                names.id(f"{topic.name}-facet-{facet_id}"),
                f"Facet: {label} ({topic.title})",
                f'{where} and facets : "{facet_id}" and grade >= 1',
                ARTICLE_COLUMNS,
                data_view_id=names.articles,
            )
        )
    return out


def _visualizations(names: _Names) -> list[dict[str, Any]]:
    articles = {"data_view_id": names.articles}
    return [
        visualization(
            names.id("volume-by-grade"), "Volume over time by grade", "histogram", bar_params(False, "stacked"),
            [date_histogram("2", "auto"), terms("3", "grade_name", 3, "group", "Grade")], **articles,
        ),
        visualization(
            names.id("top-outlets"), "Top outlets (relevant or partial)", "horizontal_bar", bar_params(True, "normal"),
            [terms("2", "outlet", 15, "segment", "Outlet")], query="grade >= 1", **articles,
        ),
        visualization(
            names.id("top-actors"), "Top actors", "horizontal_bar", bar_params(True, "normal"),
            [terms("2", "actors", 15, "segment", "Actor")], query="grade >= 1", **articles,
        ),
        visualization(
            names.id("facets"), "Facets", "pie", PIE, [terms("2", "facets", 10, "segment", "Facet")],
            query="grade >= 1", **articles,
        ),
        visualization(
            names.id("languages"), "Languages", "pie", PIE, [terms("2", "language", 10, "segment", "Language")],
            **articles,
        ),
        # Stories (story_id groups the articles of one event): the biggest, with a headline each...
        visualization(
            names.id("stories-articles"), "Stories: articles per story", "table", TABLE,
            [terms("2", "story_id", 25, "bucket", "Story"), terms("3", "title.keyword", 1, "bucket", "A headline")],
            query="grade >= 1", **articles,
        ),
        # ... and which stories led each day.
        visualization(
            names.id("stories-per-day"), "Stories: top stories per day", "histogram", bar_params(False, "stacked"),
            [date_histogram("2", "d"), terms("3", "story_id", 5, "group", "Story")],
            query="grade >= 1", **articles,
        ),
        visualization(
            names.id("feed-health"), "Feed health", "table", TABLE,
            [terms("2", "status", 5, "bucket", "Status"), terms("3", "name", 200, "bucket", "Feed")],
            data_view_id=names.feeds,
        ),
    ]  # fmt: skip


def saved_objects(es: ElasticsearchSettings, topics: Sequence[TopicView]) -> list[dict[str, Any]]:
    """Every saved object of the deployment whose indices start with ``es.index_prefix``."""
    names = _Names(es.index_prefix)
    out = [
        data_view(
            names.articles,
            "published_at",
            {
                "url": {"id": "url"},
                "canonical_url": {"id": "url"},
                "score": {"id": "number", "params": {"pattern": "0.00"}},
            },
        ),
        data_view(names.feeds, "checked_at", {"url": {"id": "url"}}),
    ]
    for topic in topics:
        out += _topic_searches(names, topic)
    out.append(
        saved_search(
            names.id("feeds-attention"),
            "Feeds: failing or quiet",
            'not status : "ok"',
            ["name", "outlet", "status", "reason", "last_success_at", "consecutive_failures", "url"],
            data_view_id=names.feeds,
            sort="checked_at",
        )
    )
    visualizations = _visualizations(names)
    out += visualizations
    panels = [
        ("visualization", names.id("volume-by-grade"), 0, 0, 48, 13),
        ("visualization", names.id("top-outlets"), 0, 13, 16, 15),
        ("visualization", names.id("top-actors"), 16, 13, 16, 15),
        ("visualization", names.id("facets"), 32, 13, 16, 15),
        ("visualization", names.id("stories-per-day"), 0, 28, 32, 15),
        ("visualization", names.id("stories-articles"), 32, 28, 16, 15),
        ("visualization", names.id("languages"), 0, 43, 16, 15),
        ("visualization", names.id("feed-health"), 16, 43, 32, 15),
    ]
    y = 58
    for topic in topics:
        panels.append(("search", names.id(f"{topic.name}-relevant"), 0, y, 48, 20))
        y += 20
    panels.append(("search", names.id("feeds-attention"), 0, y, 48, 12))
    titles = ", ".join(topic.title for topic in topics) or "news monitoring"
    out.append(
        dashboard(
            names.id("overview"),
            f"seedwatch: {titles}",
            "Volume by grade, outlets, actors, facets, stories, languages, feed health and the latest relevant articles.",
            panels,
        )
    )
    return out


def topics_from_settings(settings: Settings) -> list[TopicView]:
    """The configured topics (seed directories, with their profile files), as the objects need them."""
    from seedwatch.relevance import load_profiles

    profiles = load_profiles(settings.paths.topics_dir, settings.paths.seeds_dir)
    return [
        TopicView(profile.name, profile.title, tuple((facet.id, facet.label) for facet in profile.facets))
        for profile in profiles.values()
    ]


def to_ndjson(objects: Sequence[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(obj, ensure_ascii=False, sort_keys=True) + "\n" for obj in objects).encode("utf-8")


def import_files(settings: Settings, config_dir: Path | None = None) -> list[tuple[str, bytes]]:
    """The NDJSON files ``seedwatch-init`` imports, in order: the rendered objects (or
    their override ``<config dir>/kibana/seedwatch.ndjson``), then every other
    ``<config dir>/kibana/*.ndjson``."""
    kibana_dir = resolve_config_dir(config_dir or settings.config_dir) / "kibana"
    override = kibana_dir / RENDERED_FILE
    if override.is_file():
        files = [(RENDERED_FILE, override.read_bytes())]
    else:
        objects = saved_objects(settings.index.elasticsearch, topics_from_settings(settings))
        files = [(RENDERED_FILE, to_ndjson(objects))]
    extra = sorted(p for p in kibana_dir.glob("*.ndjson") if p.name != RENDERED_FILE) if kibana_dir.is_dir() else []
    return files + [(path.name, path.read_bytes()) for path in extra]
