"""A small multilingual corpus of tagged articles shared by the index tests (no tests here).

Written for these tests (English, Turkish, Arabic, French); each article states
the facts the expected search results below rely on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from seedwatch.index import article_to_doc
from seedwatch.models import Article, TopicTag, stable_id

TOPIC = "libya_turkey"


def _article(
    key: str,
    *,
    outlet: str,
    language: str,
    title: str,
    text: str,
    published: datetime | None,
    grade: int,
    facets: tuple[str, ...] = (),
    actors: tuple[str, ...] = (),
    story: str | None = None,
    country: str = "TR",
) -> Article:
    url = f"https://news.example/{key}"
    return Article(
        article_id=stable_id(url),
        url=url,
        canonical_url=url,
        feed_id=stable_id(f"https://news.example/{outlet}/feed"),
        outlet=outlet,
        title=title,
        text=text,
        summary=text[:80],
        language=language,
        country=country,
        published_at=published,
        first_seen_at=datetime(2025, 10, 1, 8, 0, tzinfo=UTC),
        story_id=story,
        tags=(
            TopicTag(
                topic=TOPIC,
                grade=grade,
                score=[0.1, 0.45, 0.8][grade],
                facets=facets,
                actors=actors,
                explanation={"summary": f"grade {grade}", "evidence": list(actors), "similarity": 0.5},
            ),
        ),
    )


ARTICLES = {
    "maritime": _article(
        "maritime",
        outlet="Anadolu Agency",
        language="en",
        title="Turkey and Libya sign maritime deal",
        text="Ankara and the Tripoli government signed a maritime memorandum on the Eastern Mediterranean.",
        published=datetime(2025, 9, 10, 9, 30, tzinfo=UTC),
        grade=2,
        facets=("maritime", "diplomacy"),
        actors=("dbeibah",),
        story="S1",
    ),
    "turkish": _article(
        "turkish",
        outlet="Hürriyet",
        language="tr",
        title="Erdoğan, Hafter'i Ankara'da ağırladı",
        text="Cumhurbaşkanı Erdoğan, Libya'nın doğusundaki Hafter'i kabul etti. Türkiye ile ilişkiler gelişiyor.",
        published=datetime(2025, 9, 15, 12, 0, tzinfo=UTC),
        grade=2,
        facets=("diplomacy", "haftar_family"),
        actors=("erdogan", "haftar"),
    ),
    "arabic": _article(
        "arabic",
        outlet="Al Wasat",
        language="ar",
        title="أردوغان يستقبل حفتر في أنقرة",
        text="استقبل الرئيس التركي رجب طيب أردوغان المشير خليفة حفتر لبحث العلاقات الليبية التركية.",
        published=datetime(2025, 9, 20, 18, 45, tzinfo=UTC),
        grade=1,
        facets=("diplomacy",),
        actors=("erdogan", "haftar"),
        country="LY",
    ),
    "french": _article(
        "french",
        outlet="Le Monde",
        language="fr",
        title="La Turquie renforce sa présence militaire en Libye",
        text="Des drones turcs ont été déployés près de Tripoli, selon des sources sécuritaires.",
        published=datetime(2025, 8, 30, 7, 0, tzinfo=UTC),
        grade=2,
        facets=("military",),
        country="FR",
    ),
    "oil": _article(
        "oil",
        outlet="Reuters",
        language="en",
        title="Oil prices rise",
        text="Brent crude rose on Friday as Libya's output fell after a pipeline outage.",
        published=datetime(2025, 9, 5, 16, 0, tzinfo=UTC),
        grade=0,
        country="GB",
    ),
    "lebanon": _article(
        "lebanon",
        outlet="Reuters",
        language="en",
        title="Tripoli port reopens in Lebanon",
        text="The port of Tripoli, Lebanon, reopened after repairs.",
        published=None,  # no date: the index falls back to first_seen_at (2025-10-01)
        grade=0,
        country="GB",
    ),
}
DOCS = {key: article_to_doc(article) for key, article in ARTICLES.items()}
KEY_OF = {doc["article_id"]: key for key, doc in DOCS.items()}

# query -> the corpus keys it must find (set semantics, the same on every backend)
EXPECTED: dict[str, set[str]] = {
    "maritime": {"maritime"},
    '"maritime memorandum"': {"maritime"},
    '"memorandum maritime"': set(),
    "MARITIME Deal": {"maritime"},
    "tripoli": {"maritime", "french", "lebanon"},
    "tripoli -lebanon": {"maritime", "french"},
    'tripoli -"port of tripoli"': {"maritime", "french"},
    "drones OR memorandum": {"maritime", "french"},
    "libya tripoli OR ankara": {"maritime", "turkish"},
    "(oil crude) OR hafter": {"oil", "turkish"},
    "erdogan": {"turkish"},
    "erdoğan": {"turkish"},
    "ERDOĞAN": {"turkish"},
    "hafter": {"turkish"},
    "turkiye": {"turkish"},
    "Türkiye": {"turkish"},
    "Libya'nın": {"turkish"},
    '"libya nin dogusundaki"': {"turkish"},
    "cumhurbaskani": {"turkish"},
    "اردوغان": {"arabic"},
    "أردوغان": {"arabic"},
    '"خليفة حفتر"': {"arabic"},
    "التركيه": {"arabic"},
    "presence militaire": {"french"},
    '"présence militaire"': {"french"},
    "deployes": {"french"},
    "grade:2": {"maritime", "turkish", "french"},
    "grade:relevant": {"maritime", "turkish", "french"},
    "grade:>=1": {"maritime", "turkish", "arabic", "french"},
    "grade:<1": {"oil", "lebanon"},
    "grade:>1": {"maritime", "turkish", "french"},
    "grade:<=1": {"arabic", "oil", "lebanon"},
    'outlet:"anadolu agency"': {"maritime"},
    "outlet:hurriyet": {"turkish"},
    "outlet:Reuters -lebanon": {"oil"},
    "lang:tr": {"turkish"},
    "lang:ar OR lang:fr": {"arabic", "french"},
    "country:ly": {"arabic"},
    "facet:diplomacy": {"maritime", "turkish", "arabic"},
    "facet:diplomacy -lang:ar": {"maritime", "turkish"},
    "actor:haftar": {"turkish", "arabic"},
    "actor:HAFTAR facet:haftar_family": {"turkish"},
    "topic:libya_turkey": {"maritime", "turkish", "arabic", "french"},
    "story:s1": {"maritime"},
    "date:2025-09-01..2025-09-15": {"maritime", "turkish", "oil"},
    "date:2025-09-16..": {"arabic", "lebanon"},
    "date:..2025-08-31": {"french"},
    "date:2025-10-01": {"lebanon"},
    "libya date:2025-09-01..2025-09-30 grade:>=1": {"maritime", "turkish"},
    "-tripoli -libya": {"arabic"},
    "NOT grade:0 -facet:diplomacy": {"french"},
    "": set(DOCS),
}
