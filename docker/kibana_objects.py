"""Write config/kibana/seedwatch.ndjson: seedwatch's Kibana saved objects.

Run ``python docker/kibana_objects.py`` after changing the objects below; the
NDJSON is what ``seedwatch-init`` imports (``POST /api/saved_objects/_import``).
Objects are written in the 7.10 saved-object format with their migration
versions, which Kibana 8 and 9 migrate on import. Ids are stable, so a re-import
overwrites instead of duplicating. Facet ids come from config/topics/libya_turkey.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "config" / "kibana" / "seedwatch.ndjson"
ARTICLES, FEEDS = "seedwatch-articles", "seedwatch-feeds"  # aliases/indices with the default prefix
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
FALLBACK_FACETS = ["diplomacy", "military", "maritime", "haftar_family", "economy", "opposition"]


def facets() -> list[tuple[str, str]]:
    path = ROOT / "config" / "topics" / "libya_turkey.yaml"
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [(f["id"], f.get("label", f["id"])) for f in profile["facets"]]
    except (OSError, KeyError, TypeError):
        return [(f, f) for f in FALLBACK_FACETS]


def source(query: str, index: str) -> tuple[dict, list[dict]]:
    meta = {
        "searchSourceJSON": json.dumps(
            {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
        )
    }
    return meta, [{"name": INDEX_REF, "type": "index-pattern", "id": index}]


def index_pattern(id_: str, time_field: str, formats: dict) -> dict:
    return {
        "id": id_,
        "type": "index-pattern",
        "attributes": {"title": id_, "timeFieldName": time_field, "fieldFormatMap": json.dumps(formats)},
        "references": [],
        "migrationVersion": {"index-pattern": "7.6.0"},
    }


def saved_search(
    id_: str, title: str, query: str, columns: list[str], *, index: str = ARTICLES, sort: str = "published_at"
) -> dict:
    meta, refs = source(query, index)
    return {
        "id": id_,
        "type": "search",
        "attributes": {
            "title": title,
            "description": f"Query: {query}",
            "columns": columns,
            "sort": [[sort, "desc"]],
            "kibanaSavedObjectMeta": meta,
        },
        "references": refs,
        "migrationVersion": {"search": "7.9.3"},
    }


def _axes(horizontal: bool) -> dict:
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
        "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
        "title": {"text": "Articles"},
    }
    return {"categoryAxes": [category], "valueAxes": [value]}


def bar_params(horizontal: bool, mode: str) -> dict:
    return {
        "type": "horizontal_bar" if horizontal else "histogram",
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
}
COUNT = {"id": "1", "enabled": True, "type": "count", "params": {}, "schema": "metric"}


def terms(id_: str, field: str, size: int, schema: str, label: str) -> dict:
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


def visualization(
    id_: str, title: str, vis_type: str, params: dict, aggs: list[dict], query: str = "", index: str = ARTICLES
) -> dict:
    meta, refs = source(query, index)
    state = {"title": title, "type": vis_type, "params": params, "aggs": [COUNT, *aggs]}
    return {
        "id": id_,
        "type": "visualization",
        "attributes": {
            "title": title,
            "visState": json.dumps(state),
            "uiStateJSON": "{}",
            "description": "",
            "version": 1,
            "kibanaSavedObjectMeta": meta,
        },
        "references": refs,
        "migrationVersion": {"visualization": "7.10.0"},
    }


def dashboard(id_: str, title: str, panels: list[tuple[str, str, int, int, int, int]]) -> dict:
    """panels: (type, id, x, y, w, h) on Kibana's 48-column grid."""
    panels_json, refs = [], []
    for n, (kind, object_id, x, y, w, h) in enumerate(panels):
        panels_json.append(
            {
                "version": "7.10.0",
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(n + 1)},
                "panelIndex": str(n + 1),
                "embeddableConfig": {},
                "panelRefName": f"panel_{n}",
            }
        )
        refs.append({"name": f"panel_{n}", "type": kind, "id": object_id})
    return {
        "id": id_,
        "type": "dashboard",
        "attributes": {
            "title": title,
            "description": "Volume by grade, outlets, actors, facets, languages, feed health and the latest relevant articles.",
            "panelsJSON": json.dumps(panels_json),
            "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}),
            "timeRestore": True,
            "timeFrom": "now-30d",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 300000},
            "version": 1,
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": refs,
        "migrationVersion": {"dashboard": "7.9.3"},
    }


def objects() -> list[dict]:
    relevant = 'topics : "libya_turkey" and grade >= 2'
    columns = ["title", "outlet", "language", "grade_name", "score", "facets", "actors", "url"]
    out = [
        index_pattern(
            ARTICLES,
            "published_at",
            {
                "url": {"id": "url"},
                "canonical_url": {"id": "url"},
                "score": {"id": "number", "params": {"pattern": "0.00"}},
            },
        ),
        index_pattern(FEEDS, "checked_at", {"url": {"id": "url"}}),
        saved_search("seedwatch-relevant", "Relevant: Libya–Turkey", relevant, columns),
        saved_search(
            "seedwatch-partial", "Partly relevant: Libya–Turkey", 'topics : "libya_turkey" and grade = 1', columns
        ),
    ]
    for facet_id, label in facets():
        out.append(
            saved_search(
                f"seedwatch-facet-{facet_id}",
                f"Facet: {label} ({facet_id})",
                f'facets : "{facet_id}" and grade >= 1',
                columns,
            )
        )
    out.append(
        saved_search(
            "seedwatch-feeds-attention",
            "Feeds: failing or quiet",
            'not status : "ok"',
            ["name", "outlet", "status", "reason", "last_success_at", "consecutive_failures", "url"],
            index=FEEDS,
            sort="checked_at",
        )
    )
    date_histogram = {
        "id": "2",
        "enabled": True,
        "type": "date_histogram",
        "schema": "segment",
        "params": {
            "field": "published_at",
            "interval": "auto",
            "min_doc_count": 1,
            "extended_bounds": {},
            "drop_partials": False,
            "useNormalizedEsInterval": True,
            "scaleMetricValues": False,
        },
    }
    out += [
        visualization(
            "seedwatch-volume-by-grade",
            "Volume over time by grade",
            "histogram",
            bar_params(False, "stacked"),
            [date_histogram, terms("3", "grade_name", 3, "group", "Grade")],
        ),
        visualization(
            "seedwatch-top-outlets",
            "Top outlets (relevant or partial)",
            "horizontal_bar",
            bar_params(True, "normal"),
            [terms("2", "outlet", 15, "segment", "Outlet")],
            query="grade >= 1",
        ),
        visualization(
            "seedwatch-top-actors",
            "Top actors",
            "horizontal_bar",
            bar_params(True, "normal"),
            [terms("2", "actors", 15, "segment", "Actor")],
            query="grade >= 1",
        ),
        visualization(
            "seedwatch-facets", "Facets", "pie", PIE, [terms("2", "facets", 10, "segment", "Facet")], query="grade >= 1"
        ),
        visualization(
            "seedwatch-languages", "Languages", "pie", PIE, [terms("2", "language", 10, "segment", "Language")]
        ),
        visualization(
            "seedwatch-feed-health",
            "Feed health",
            "table",
            TABLE,
            [terms("2", "status", 5, "bucket", "Status"), terms("3", "name", 200, "bucket", "Feed")],
            index=FEEDS,
        ),
    ]
    out.append(
        dashboard(
            "seedwatch-overview",
            "seedwatch: Libya–Turkey monitoring",
            [
                ("visualization", "seedwatch-volume-by-grade", 0, 0, 48, 13),
                ("visualization", "seedwatch-top-outlets", 0, 13, 16, 15),
                ("visualization", "seedwatch-top-actors", 16, 13, 16, 15),
                ("visualization", "seedwatch-facets", 32, 13, 16, 15),
                ("visualization", "seedwatch-languages", 0, 28, 16, 15),
                ("visualization", "seedwatch-feed-health", 16, 28, 32, 15),
                ("search", "seedwatch-relevant", 0, 43, 48, 20),
                ("search", "seedwatch-feeds-attention", 0, 63, 48, 12),
            ],
        )
    )
    return out


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects()), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
