"""The search query language, parsed once and translated for every store.

Syntax (``seedwatch search``, alert rules)::

    lorenzo morales           words: all must occur (title, summary or body)
    "maritime deal"           a phrase: these words, in this order, in one field
    -lima  -"oil price"       exclusion (also NOT x)
    rojas OR quispe           either; OR binds tighter than the implicit AND,
                              so  morales rojas OR quispe  is  morales (rojas OR quispe)
    (a b) OR c                parentheses group
    outlet:"Anadolu Agency"   lang:tr  country:TR  facet:maritime  actor:morales
                              (actor: matches whole words of a name: actor:morales
                              finds "Lorenzo Morales"; the other fields the whole value)
    topic:chile_peru  story:<id>
    grade:2  grade:>=1  grade:relevant
    date:2025-09-01..2025-09-30   date:2025-09-01..   date:..2025-09-30   date:2025-09-01

Text is folded the same way everywhere: case, diacritics (Turkish ı/İ too),
Arabic hamza forms, taa marbuta, alef maqsura, harakat and tatweel; apostrophes
split words (``Şili'nin`` is ``sili nin``). Field values compare folded and whole.
Dates are UTC days, both ends inclusive.

Bounds (a :class:`QueryError`, never a crash deeper down): at most
``MAX_QUERY_CHARS`` characters, ``MAX_TERMS`` terms and ``MAX_DEPTH`` levels of
parentheses or negations; pages of at most ``MAX_LIMIT`` hits (:func:`check_page`).

Translation: :func:`to_sqlite` (FTS5 MATCH sub-queries inside a SQL WHERE),
:func:`to_elasticsearch` (a bool query) and :func:`matches` (in memory, for
alert rules), with the same semantics.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from seedwatch.errors import QueryError

# SQLite refuses expressions deeper than 1000 and Elasticsearch bool queries with more than
# a few thousand clauses; a query far inside these bounds is still far beyond a person's.
MAX_QUERY_CHARS = 4000
MAX_TERMS = 200
MAX_DEPTH = 32
MAX_LIMIT = 10_000  # Elasticsearch's default max_result_window (from + size)


def check_page(limit: int, offset: int = 0) -> None:
    """Raise :class:`QueryError` for a page no backend can serve."""
    if limit < 1 or offset < 0 or limit + offset > MAX_LIMIT:
        raise QueryError(
            f"limit must be between 1 and {MAX_LIMIT} (and offset + limit at most {MAX_LIMIT}); "
            f"got limit {limit}, offset {offset}"
        )


class QuerySyntaxError(QueryError):
    """A query that cannot be parsed; ``position`` is the 0-based character offset."""

    def __init__(self, message: str, position: int, query: str) -> None:
        self.message = message
        self.position = position
        self.query = query
        super().__init__(f"{message} at position {position}: {_excerpt(query, position)!r}")


def _excerpt(query: str, position: int, width: int = 60) -> str:
    """The part of a long query around ``position``, for a message that stays one line."""
    if len(query) <= width:
        return query
    start = max(0, min(position - width // 2, len(query) - width))
    return ("…" if start else "") + query[start : start + width] + ("…" if start + width < len(query) else "")


# -- folding and tokens -----------------------------------------------------------

_ARABIC_LETTERS = {"ة": "ه", "ى": "ي", "ٱ": "ا", "ـ": None, "ı": "i"}
_TOKEN = re.compile(r"[^\W_]+")
_APOSTROPHES = re.compile(r"['’ʼ`´]")


class _FoldTable(dict[int, str | int | None]):
    """``str.translate`` table for decomposed text: drops combining marks, maps Arabic letter forms.

    Filled per character on first sight. A table that lacks a character makes
    ``translate`` raise and catch a LookupError for it, on every occurrence: that was
    most of the cost of folding an article body.
    """

    def __missing__(self, code: int) -> str | int | None:
        char = chr(code)
        folded = None if unicodedata.combining(char) else _ARABIC_LETTERS.get(char, code)
        self[code] = folded
        return folded


_FOLD_TABLE = _FoldTable()


def fold_keyword(text: str) -> str:
    """A keyword value folded for comparison: case, diacritics, Arabic letter forms,
    runs of spaces (the Elasticsearch ``folded`` normalizer does the same)."""
    # Case-folded again after NFKD: compatibility forms (𝑨, Ａ, Ⅻ) decompose to capitals.
    decomposed = unicodedata.normalize("NFKD", text.casefold()).casefold()
    if decomposed.isascii():
        stripped = decomposed
    elif len(decomposed.encode("ascii", "ignore")) < len(decomposed) // 2:
        stripped = decomposed.translate(_FOLD_TABLE)  # mostly Arabic, Cyrillic...: one pass is cheaper
    else:  # mostly ASCII (curly quotes, a few accents): only the runs that need it
        stripped = _NON_ASCII_RUN.sub(_fold_run, decomposed)
    return " ".join(unicodedata.normalize("NFC", stripped).split())


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _fold_run(match: re.Match[str]) -> str:
    return match.group().translate(_FOLD_TABLE)


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form of ``text`` (see the module docstring)."""
    return _APOSTROPHES.sub(" ", fold_keyword(text))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


def word_run(text: str) -> str:
    """``text``'s tokens between single spaces, with a space at each end: ``instr`` of one
    such run in another finds whole words in order (the ``sw_words`` SQL function)."""
    return " " + " ".join(tokens(text)) + " "


# -- the AST ----------------------------------------------------------------------

TEXT_FIELDS = ("title", "summary", "body")
KEYWORD_FIELDS = {  # query field -> document field
    "outlet": "outlet",
    "lang": "language",
    "language": "language",
    "country": "country",
    "facet": "facets",
    "actor": "actors",
    "topic": "topics",
    "story": "story_id",
}
# Fields matched by whole words of a value (a name and its parts), not by the whole value.
WORD_FIELDS = frozenset({"actors"})
GRADES = {"relevant": 2, "partial": 1, "irrelevant": 0, "none": 0}
Comparison = Literal["=", ">", ">=", "<", "<="]


@dataclass(frozen=True, slots=True)
class All:
    """Matches every document (the empty query)."""


@dataclass(frozen=True, slots=True)
class Text:
    """Folded tokens that must occur consecutively in one text field."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Keyword:
    field: str  # document field
    value: str  # folded


@dataclass(frozen=True, slots=True)
class Grade:
    op: Comparison
    value: int


@dataclass(frozen=True, slots=True)
class DateRange:
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive


@dataclass(frozen=True, slots=True)
class Not:
    child: Query


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Query, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Query, ...]


Query = All | Text | Keyword | Grade | DateRange | Not | And | Or


# -- the lexer and parser ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["word", "phrase", "field", "lparen", "rparen", "or", "not", "minus"]
    text: str
    pos: int
    field: str = ""


_FIELD = re.compile(r"([A-Za-z]+):")
_BREAK = set(' \t\r\n()"')


def _lex(query: str) -> Iterator[_Token]:
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            yield _Token("lparen", ch, i)
            i += 1
        elif ch == ")":
            yield _Token("rparen", ch, i)
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unterminated quoted phrase", i, query)
            yield _Token("phrase", query[i + 1 : end], i)
            i = end + 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace():
            yield _Token("minus", ch, i)
            i += 1
        else:
            field = _FIELD.match(query, i)
            if field:
                name = field.group(1).lower()
                start = field.end()
                if name not in KEYWORD_FIELDS and name not in ("grade", "date"):
                    known = ", ".join(sorted([*KEYWORD_FIELDS, "grade", "date"]))
                    raise QuerySyntaxError(f"unknown field {name!r} (known: {known})", i, query)
                if start < n and query[start] == '"':
                    end = query.find('"', start + 1)
                    if end < 0:
                        raise QuerySyntaxError("unterminated quoted value", start, query)
                    value, stop = query[start + 1 : end], end + 1
                else:
                    stop = start
                    while stop < n and query[stop] not in _BREAK:
                        stop += 1
                    value = query[start:stop]
                if not value.strip():
                    raise QuerySyntaxError(f"{name}: needs a value", start, query)
                yield _Token("field", value, i, name)
                i = stop
                continue
            stop = i
            while stop < n and query[stop] not in _BREAK:
                stop += 1
            word = query[i:stop]
            kind = {"OR": "or", "NOT": "not", "AND": None}.get(word, "word")
            if kind:
                yield _Token(kind, word, i)  # type: ignore[arg-type]
            i = stop


class _Parser:
    def __init__(self, query: str) -> None:
        if len(query) > MAX_QUERY_CHARS:
            raise QuerySyntaxError(f"query too long ({len(query)} characters; at most {MAX_QUERY_CHARS})", 0, query)
        self.query = query
        self.tokens = list(_lex(query))
        terms = sum(token.kind in ("word", "phrase", "field") for token in self.tokens)
        if terms > MAX_TERMS:
            raise QuerySyntaxError(f"too many terms ({terms}; at most {MAX_TERMS})", 0, query)
        self.i = 0
        self.depth = 0

    def nested(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested too deeply (at most {MAX_DEPTH} levels of parentheses or negations)", token)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def error(self, message: str, token: _Token | None) -> QuerySyntaxError:
        return QuerySyntaxError(message, token.pos if token else len(self.query), self.query)

    def parse(self) -> Query:
        node = self.and_expr()
        token = self.peek()
        if token is not None:
            raise self.error("unexpected ')'" if token.kind == "rparen" else f"unexpected {token.text!r}", token)
        return node

    def and_expr(self) -> Query:
        children: list[Query] = []
        while (token := self.peek()) is not None and token.kind != "rparen":
            children.append(self.or_expr())
        return _and(children)

    def or_expr(self) -> Query:
        children = [self.unary()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.i += 1
            if self.peek() is None or self.peek().kind in ("rparen", "or"):  # type: ignore[union-attr]
                raise self.error("OR needs a term on both sides", token)
            children.append(self.unary())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def unary(self) -> Query:
        token = self.peek()
        if token is not None and token.kind in ("minus", "not"):
            self.i += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("rparen", "or", "minus", "not"):
                raise self.error(f"{token.text!r} needs a term after it", token)
            self.nested(token)
            node = Not(self.primary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Query:
        token = self.peek()
        if token is None:
            raise self.error("a term is missing", token)
        self.i += 1
        if token.kind == "lparen":
            self.nested(token)
            inner = self.and_expr()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.error("'(' is never closed", token)
            self.i += 1
            self.depth -= 1
            return inner
        if token.kind in ("word", "phrase"):
            words = tuple(tokens(token.text))
            return Text(words) if words else All()
        if token.kind == "field":
            return self.field(token)
        if token.kind == "or":
            raise self.error("OR needs a term on both sides", token)
        raise self.error(f"unexpected {token.text!r}", token)

    def field(self, token: _Token) -> Query:
        value = token.text.strip()
        if token.field == "grade":
            match = re.fullmatch(r"(>=|<=|>|<|=)?\s*(\w+)", value)
            number = match and (
                GRADES.get(match.group(2).lower()) if not match.group(2).isdigit() else int(match.group(2))
            )
            if not match or number is None or not 0 <= number <= 2:
                raise self.error(
                    f"grade: wants 0, 1, 2 (or relevant, partial), with an optional >=, >, <=, <; got {value!r}", token
                )
            return Grade(match.group(1) or "=", number)  # type: ignore[arg-type]
        if token.field == "date":
            return self.date_range(token, value)
        folded = fold_keyword(value)
        if not folded:
            raise self.error(f"{token.field}: needs a value", token)
        return Keyword(KEYWORD_FIELDS[token.field], folded)

    def date_range(self, token: _Token, value: str) -> Query:
        def day(text: str) -> date | None:
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise self.error(f"date: wants YYYY-MM-DD, got {text!r}", token) from None

        start_text, sep, end_text = value.partition("..")
        start, end = day(start_text), day(end_text if sep else start_text)
        if start is None and end is None:
            raise self.error("date: needs at least one end (date:A..B, date:A.., date:..B)", token)
        if start and end and end < start:
            raise self.error(f"date: range ends before it starts ({value})", token)
        as_dt = lambda d: datetime(d.year, d.month, d.day, tzinfo=UTC)  # noqa: E731
        if end == date.max:  # the day after does not exist: up to the last day is up to any day
            end = None
            if start is None:
                return All()
        return DateRange(as_dt(start) if start else None, as_dt(end) + timedelta(days=1) if end else None)


def _and(children: list[Query]) -> Query:
    kept = [c for c in children if not isinstance(c, All)]
    if not kept:
        return All()
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def parse(query: str | Query) -> Query:
    """Parse ``query``; raise :class:`QuerySyntaxError` (with the position) if it is malformed."""
    if not isinstance(query, str):
        return query
    return _Parser(query).parse()


def expand_actor_aliases(node: Query, names_by_alias: Mapping[str, Iterable[str]]) -> Query:
    """``node`` where ``actor:X`` also finds the actors that have X as an alias.

    ``names_by_alias``: an alias's :func:`word_run` → the canonical names it stands for
    (from the topic profiles). ``actor:X`` then also finds the canonical name of the
    actor X stands for, as the profile spells it, whichever script the article used.
    """
    if isinstance(node, Keyword) and node.field in WORD_FIELDS:
        names = sorted({fold_keyword(name) for name in names_by_alias.get(word_run(node.value), ())} - {node.value})
        return Or((node, *(Keyword(node.field, name) for name in names))) if names else node
    if isinstance(node, Not):
        return Not(expand_actor_aliases(node.child, names_by_alias))
    if isinstance(node, And | Or):
        return type(node)(tuple(expand_actor_aliases(child, names_by_alias) for child in node.children))
    return node


def positive_words(node: Query) -> list[tuple[str, ...]]:
    """The text terms that are not negated (for snippets and highlighting)."""
    if isinstance(node, Text):
        return [node.words]
    if isinstance(node, And | Or):
        return [w for child in node.children for w in positive_words(child)]
    return []


# -- in memory --------------------------------------------------------------------


def _contains(haystack: list[str], needle: tuple[str, ...]) -> bool:
    size = len(needle)
    first = needle[0]
    for i, token in enumerate(haystack):
        if token == first and tuple(haystack[i : i + size]) == needle:
            return True
    return False


def _values(doc: dict[str, Any], field: str) -> list[str]:
    value = doc.get(field)
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    return [fold_keyword(str(v)) for v in items]


def _published(doc: dict[str, Any]) -> datetime | None:
    value = doc.get("published_at") or doc.get("first_seen_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


_COMPARE = {
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def matches(query: str | Query, doc: dict[str, Any]) -> bool:
    """Whether the indexed document ``doc`` (see ``article_to_doc``) satisfies ``query``."""
    node = parse(query)
    cache: dict[str, list[str]] = {}

    def field_tokens(name: str) -> list[str]:
        if name not in cache:
            cache[name] = tokens(str(doc.get(name) or ("" if name != "body" else doc.get("text") or "")))
        return cache[name]

    def evaluate(node: Query) -> bool:
        if isinstance(node, All):
            return True
        if isinstance(node, Text):
            return any(_contains(field_tokens(name), node.words) for name in TEXT_FIELDS)
        if isinstance(node, Keyword) and node.field in WORD_FIELDS:
            words = tuple(tokens(node.value))
            return bool(words) and any(_contains(tokens(name), words) for name in _values(doc, node.field))
        if isinstance(node, Keyword):
            return node.value in _values(doc, node.field)
        if isinstance(node, Grade):
            return _COMPARE[node.op](int(doc.get("grade") or 0), node.value)
        if isinstance(node, DateRange):
            published = _published(doc)
            if published is None:
                return False
            return (node.start is None or published >= node.start) and (node.end is None or published < node.end)
        if isinstance(node, Not):
            return not evaluate(node.child)
        if isinstance(node, And):
            return all(evaluate(child) for child in node.children)
        if isinstance(node, Or):
            return any(evaluate(child) for child in node.children)
        raise TypeError(f"unknown query node {node!r}")

    return evaluate(node)


# -- SQLite -----------------------------------------------------------------------


def _stamp(value: datetime) -> str:
    # isoformat pads every year to four digits (strftime's %Y does not on glibc).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def fts_phrase(words: tuple[str, ...]) -> str:
    """An FTS5 expression: the phrase in any of the text columns."""
    phrase = " ".join(words).replace('"', '""')  # tokens hold no quotes; doubled to be safe
    return "{" + " ".join(TEXT_FIELDS) + '} : "' + phrase + '"'


def to_sqlite(query: str | Query, *, docs: str = "d", fts_table: str = "articles_fts") -> tuple[str, list[Any]]:
    """A SQL boolean expression over the documents table aliased ``docs`` and its parameters.

    Each text term is an FTS5 MATCH sub-query on ``fts_table`` (whose rowid is the
    document's rowid), so any boolean nesting translates directly. Keyword values
    are compared with the ``sw_fold`` SQL function the backend registers, names by
    their words with ``sw_words`` (:func:`word_run`).
    """
    params: list[Any] = []

    def sql(node: Query) -> str:
        if isinstance(node, All):
            return "1"
        if isinstance(node, Text):
            params.append(fts_phrase(node.words))
            return f"{docs}.rowid IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH ?)"
        if isinstance(node, Keyword) and node.field in WORD_FIELDS:
            params.append(word_run(node.value))
            return (
                f"EXISTS (SELECT 1 FROM json_each({docs}.{node.field}) WHERE instr(sw_words(json_each.value), ?) > 0)"
            )
        if isinstance(node, Keyword):
            params.append(node.value)
            if node.field in ("facets", "actors", "topics"):
                return f"EXISTS (SELECT 1 FROM json_each({docs}.{node.field}) WHERE sw_fold(json_each.value) = ?)"
            return f"sw_fold({docs}.{node.field}) = ?"
        if isinstance(node, Grade):
            params.append(node.value)
            return f"{docs}.grade {node.op} ?"
        if isinstance(node, DateRange):
            parts = []
            if node.start is not None:
                params.append(_stamp(node.start))
                parts.append(f"{docs}.published_at >= ?")
            if node.end is not None:
                params.append(_stamp(node.end))
                parts.append(f"{docs}.published_at < ?")
            return "(" + " AND ".join(parts) + ")"
        if isinstance(node, Not):
            return f"NOT ({sql(node.child)})"
        if isinstance(node, And):
            return "(" + " AND ".join(sql(c) for c in node.children) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(sql(c) for c in node.children) + ")"
        raise TypeError(f"unknown query node {node!r}")

    return sql(parse(query)), params


# -- Elasticsearch ----------------------------------------------------------------


def to_elasticsearch(query: str | Query) -> dict[str, Any]:
    """The Elasticsearch query DSL for ``query`` (against the seedwatch article mapping).

    Text terms are ``multi_match`` phrases on the folded ``title``, ``summary`` and
    ``body`` fields; keyword filters use each field's ``.folded`` sub-field (the
    ``folded`` normalizer), so values compare as in SQLite and :func:`matches`.
    """

    def dsl(node: Query) -> dict[str, Any]:
        if isinstance(node, All):
            return {"match_all": {}}
        if isinstance(node, Text):
            return {"multi_match": {"query": " ".join(node.words), "type": "phrase", "fields": list(TEXT_FIELDS)}}
        if isinstance(node, Keyword) and node.field in WORD_FIELDS:
            # The .words sub-field has the folded analyzer; array values are 100 positions
            # apart, so a phrase never spans two names (as in SQLite and matches()).
            return {"match_phrase": {f"{node.field}.words": {"query": " ".join(tokens(node.value))}}}
        if isinstance(node, Keyword):
            return {"term": {f"{node.field}.folded": node.value}}
        if isinstance(node, Grade):
            if node.op == "=":
                return {"term": {"grade": node.value}}
            op = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[node.op]
            return {"range": {"grade": {op: node.value}}}
        if isinstance(node, DateRange):
            bounds: dict[str, str] = {}
            if node.start is not None:
                bounds["gte"] = _stamp(node.start)
            if node.end is not None:
                bounds["lt"] = _stamp(node.end)
            return {"range": {"published_at": bounds}}
        if isinstance(node, Not):
            return {"bool": {"must_not": [dsl(node.child)]}}
        if isinstance(node, And):
            return {"bool": {"filter": [dsl(c) for c in node.children]}}
        if isinstance(node, Or):
            return {"bool": {"should": [dsl(c) for c in node.children], "minimum_should_match": 1}}
        raise TypeError(f"unknown query node {node!r}")

    return dsl(parse(query))
