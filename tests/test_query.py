"""The search query language: parsing, errors, translations and in-memory matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedwatch.errors import QueryError
from seedwatch.index.query import (
    MAX_DEPTH,
    MAX_LIMIT,
    MAX_TERMS,
    All,
    And,
    DateRange,
    Grade,
    Keyword,
    Not,
    Or,
    QuerySyntaxError,
    Text,
    check_page,
    expand_actor_aliases,
    fold,
    matches,
    parse,
    to_elasticsearch,
    to_sqlite,
    tokens,
    word_run,
)


def test_words_phrases_and_exclusions() -> None:
    assert parse('haftar "maritime deal" -tripoli') == And(
        (Text(("haftar",)), Text(("maritime", "deal")), Not(Text(("tripoli",))))
    )


def test_or_binds_tighter_than_the_implicit_and() -> None:
    assert parse("haftar fidan OR erdogan") == And((Text(("haftar",)), Or((Text(("fidan",)), Text(("erdogan",))))))
    assert parse("(a b) OR c") == Or((And((Text(("a",)), Text(("b",)))), Text(("c",))))
    assert parse("a AND b") == And((Text(("a",)), Text(("b",))))
    assert parse("NOT a") == Not(Text(("a",)))
    assert parse("or and") == And((Text(("or",)), Text(("and",))))  # lower case: plain words


def test_field_filters() -> None:
    assert parse('outlet:"Anadolu  Agency"') == Keyword("outlet", "anadolu agency")
    assert parse("lang:TR") == Keyword("language", "tr")
    assert parse("facet:maritime actor:haftar topic:libya_turkey story:ABC") == And(
        (
            Keyword("facets", "maritime"),
            Keyword("actors", "haftar"),
            Keyword("topics", "libya_turkey"),
            Keyword("story_id", "abc"),
        )
    )
    assert parse("grade:2") == Grade("=", 2)
    assert parse("grade:>=1") == Grade(">=", 1)
    assert parse("grade:partial") == Grade("=", 1)
    assert parse("-grade:0") == Not(Grade("=", 0))


def test_date_ranges_are_inclusive_utc_days_open_on_either_side() -> None:
    day = lambda d: datetime(2025, 9, d, tzinfo=UTC)  # noqa: E731
    assert parse("date:2025-09-01..2025-09-30") == DateRange(day(1), datetime(2025, 10, 1, tzinfo=UTC))
    assert parse("date:2025-09-01..") == DateRange(day(1), None)
    assert parse("date:..2025-09-03") == DateRange(None, day(4))
    assert parse("date:2025-09-02") == DateRange(day(2), day(3))


def test_empty_and_punctuation_only_queries_match_everything() -> None:
    assert parse("") == All()
    assert parse("  !!! * ") == All()
    assert parse('haftar ""') == Text(("haftar",))


@pytest.mark.parametrize(
    ("query", "position", "words"),
    [
        ('haftar "maritime deal', 7, "unterminated"),
        ("colour:red", 0, "unknown field 'colour'"),
        ("haftar outlet:", 14, "needs a value"),
        ("grade:3", 0, "grade:"),
        ("grade:>=x", 0, "grade:"),
        ("date:2025-13-01", 0, "YYYY-MM-DD"),
        ("date:..", 0, "at least one end"),
        ("date:2025-09-30..2025-09-01", 0, "ends before it starts"),
        ("(haftar fidan", 0, "never closed"),
        ("haftar)", 6, "unexpected ')'"),
        ("haftar OR", 7, "OR needs a term"),
        ("OR haftar", 0, "OR needs a term"),
        ("NOT", 0, "needs a term"),
        ("a OR OR b", 2, "OR needs a term"),
    ],
)
def test_bad_queries_name_the_problem_and_position(query: str, position: int, words: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert caught.value.position == position
    assert words in str(caught.value)
    assert isinstance(caught.value, QueryError)


def test_folding_covers_turkish_arabic_and_latin_diacritics() -> None:
    assert tokens("İSTANBUL'da Erdoğan ılık") == ["istanbul", "da", "erdogan", "ilik"]
    assert fold("أردوغان") == fold("اردوغان") == fold("إردوغان")
    assert fold("العلاقة") == fold("العلاقه")  # taa marbuta
    assert fold("مُحَمَّد") == fold("محمد")  # harakat
    assert fold("حفـــتر") == "حفتر"  # tatweel
    assert tokens("présence, déployés") == ["presence", "deployes"]


def test_sqlite_translation_uses_one_fts_subquery_per_text_term() -> None:
    sql, params = to_sqlite('"maritime deal" -tripoli outlet:AA grade:>=1 date:2025-09-01..', docs="d")
    assert sql.count("articles_fts MATCH ?") == 2
    assert "NOT (d.rowid IN" in sql
    assert params == [
        '{title summary body} : "maritime deal"',
        '{title summary body} : "tripoli"',
        "aa",
        1,
        "2025-09-01T00:00:00Z",
    ]


def test_elasticsearch_translation() -> None:
    dsl = to_elasticsearch('"maritime deal" fidan OR erdogan -lang:ar grade:>=1 date:..2025-09-30 facet:Maritime')
    phrase = {"multi_match": {"query": "maritime deal", "type": "phrase", "fields": ["title", "summary", "body"]}}
    assert dsl["bool"]["filter"][0] == phrase
    assert dsl["bool"]["filter"][1]["bool"]["minimum_should_match"] == 1
    assert len(dsl["bool"]["filter"][1]["bool"]["should"]) == 2
    assert dsl["bool"]["filter"][2] == {"bool": {"must_not": [{"term": {"language.folded": "ar"}}]}}
    assert dsl["bool"]["filter"][3] == {"range": {"grade": {"gte": 1}}}
    assert dsl["bool"]["filter"][4] == {"range": {"published_at": {"lt": "2025-10-01T00:00:00Z"}}}
    assert dsl["bool"]["filter"][5] == {"term": {"facets.folded": "maritime"}}
    assert to_elasticsearch("") == {"match_all": {}}
    assert to_elasticsearch("grade:1") == {"term": {"grade": 1}}


def test_matches_on_a_document() -> None:
    doc = {
        "title": "Erdoğan meets Haftar",
        "summary": "",
        "body": "The two discussed the maritime memorandum. Tripoli was not invited.",
        "outlet": "Anadolu Agency",
        "language": "en",
        "grade": 2,
        "facets": ["diplomacy", "maritime"],
        "actors": ["erdogan", "haftar"],
        "topics": ["libya_turkey"],
        "story_id": "S9",
        "published_at": "2025-09-10T09:30:00Z",
    }
    assert matches("erdogan haftar", doc)
    assert matches('"maritime memorandum"', doc)
    assert not matches('"memorandum maritime"', doc)
    assert not matches('"haftar the"', doc)  # a phrase does not cross fields
    assert not matches("haftar -tripoli", doc)
    assert matches("fidan OR erdogan", doc)
    assert matches('outlet:"ANADOLU agency" lang:en facet:maritime actor:haftar topic:libya_turkey story:s9', doc)
    assert not matches("outlet:anadolu", doc)  # field values compare whole
    assert matches("grade:relevant date:2025-09-10", doc)
    assert not matches("date:2025-09-11..", doc)
    assert matches(parse("grade:>1"), doc)
    assert not matches("date:2025-09-01..", {**doc, "published_at": None})


# -- properties -------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list("ab Çç\"()-:.*OR NOT AND grade date outlet lang facet 2025-09-01 >=<ıİأة'ـ\t"))
_PIECES = st.sampled_from(
    [
        "haftar",
        '"a b"',
        "-",
        "OR",
        "NOT",
        "(",
        ")",
        "grade:",
        ">=1",
        "date:",
        "2025-09-01",
        "..",
        "outlet:",
        '"',
        " ",
        "x:",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(_ALPHABET, max_size=40), st.lists(_PIECES, max_size=12).map("".join)))
def test_parser_never_crashes(query: str) -> None:
    try:
        node = parse(query)
    except QuerySyntaxError as exc:
        assert 0 <= exc.position <= len(query)
        return
    # whatever parses translates for both stores and evaluates in memory
    to_sqlite(node)
    to_elasticsearch(node)
    assert isinstance(matches(node, {"title": query, "body": "", "summary": ""}), bool)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), min_size=1, max_size=4))
def test_a_document_matches_a_phrase_of_its_own_words(words: list[str]) -> None:
    text = " ".join(words)
    if not tokens(text):
        return
    assert matches('"' + text + '"', {"title": "", "summary": "", "body": f"before {text} after"})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("date:9999-12-31", DateRange(datetime(9999, 12, 31, tzinfo=UTC), None)),
        ("date:2025-01-01..9999-12-31", DateRange(datetime(2025, 1, 1, tzinfo=UTC), None)),
        ("date:..9999-12-31", All()),
    ],
)
def test_the_last_representable_day_is_an_open_end_not_an_overflow(query: str, expected: object) -> None:
    assert parse(query) == expected
    to_sqlite(query)
    to_elasticsearch(query)


def test_early_years_keep_four_digits_so_string_order_is_time_order() -> None:
    _, params = to_sqlite("date:0001-01-01..0099-12-31")
    assert params == ["0001-01-01T00:00:00Z", "0100-01-01T00:00:00Z"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("(" * 40 + "a" + ")" * 40, "nested too deeply"),
        ("(" * 5000 + "a" + ")" * 5000, "too long"),
        ("-(" * 40 + "a" + ")" * 40, "nested too deeply"),
        (" ".join(f"w{i}" for i in range(500)), "too many terms"),
        (" OR ".join(f"w{i}" for i in range(500)), "too many terms"),
        ("x" * 5000, "too long"),
    ],
)
def test_queries_beyond_the_bounds_are_query_errors_not_crashes(query: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        parse(query)


def test_queries_at_the_bounds_run_on_sqlite(tmp_path) -> None:  # noqa: ANN001
    from seedwatch.index.sqlite_fts import SqliteArticleIndex

    index = SqliteArticleIndex(tmp_path / "a.db")
    index.ensure_ready()
    try:
        for query in (
            " ".join(f"w{i}" for i in range(MAX_TERMS)),
            " OR ".join(f"w{i}" for i in range(MAX_TERMS)),
            "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH,
        ):
            assert index.search(query).total == 0
    finally:
        index.close()


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (MAX_LIMIT + 1, 0), (10, -1), (MAX_LIMIT, 1)])
def test_a_page_out_of_bounds_is_a_query_error(limit: int, offset: int) -> None:
    with pytest.raises(QueryError, match="limit must be between 1 and"):
        check_page(limit, offset)


def test_actor_matches_whole_words_of_a_name_in_order() -> None:
    doc = {"actors": ["Khalifa Haftar", "Recep Tayyip Erdoğan"]}
    assert matches("actor:Haftar", doc) and matches("actor:KHALIFA", doc) and matches('actor:"tayyip erdogan"', doc)
    assert not matches("actor:haft", doc)  # a part of a word is no name
    assert not matches('actor:"haftar khalifa"', doc)  # words in another order
    assert not matches('actor:"haftar recep"', doc)  # never across two names
    where, params = to_sqlite("actor:Haftar")
    assert "sw_words" in where and params == [" haftar "]
    assert to_elasticsearch("actor:Haftar") == {"match_phrase": {"actors.words": {"query": "haftar"}}}
    assert to_elasticsearch("facet:maritime") == {"term": {"facets.folded": "maritime"}}  # other fields: whole values


def test_an_actor_alias_expands_to_the_name_the_profile_gives() -> None:
    aliases = {word_run("حفتر"): {"Khalifa Haftar"}, word_run("Khalifa Haftar"): {"Khalifa Haftar"}}
    node = expand_actor_aliases(parse("actor:حفتر -actor:nobody grade:2"), aliases)
    assert node == And(
        (
            Or((Keyword("actors", "حفتر"), Keyword("actors", "khalifa haftar"))),
            Not(Keyword("actors", "nobody")),
            Grade("=", 2),
        )
    )
    assert matches(node, {"actors": ["Khalifa Haftar"], "grade": 2})
    assert expand_actor_aliases(parse('actor:"khalifa haftar"'), aliases) == Keyword("actors", "khalifa haftar")


def test_the_fields_actor_queries_use_are_mapped_with_the_folded_analyzer(tmp_path) -> None:  # noqa: ANN001
    from seedwatch.index.base import ElasticsearchSettings
    from seedwatch.index.elastic import articles_template, percolator_index_body

    ((field, _),) = to_elasticsearch("actor:haftar")["match_phrase"].items()
    name, _, sub = field.partition(".")
    for mappings in (articles_template(ElasticsearchSettings(), tmp_path)["template"]["mappings"],
                     percolator_index_body(tmp_path)["mappings"]):  # fmt: skip
        assert mappings["properties"][name]["fields"][sub] == {"type": "text", "analyzer": "folded"}
