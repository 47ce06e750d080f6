"""Sentences, paragraphs and what each names: the evidence the scorer weighs.

A text is normalised once (:class:`Text`, which maps spans back to the original for
highlighting), cut into sentences (:class:`Sentences`, built lazily: only sentences that
name something become :class:`Segment` objects), and each alias hit is placed in its
sentence with the sides it names (:func:`assign_hits`). A side named as an attribute
("Chile-backed forces") or as one item of a list ("Peru, Chile and the Pacific")
counts for the relation, not as a principal actor.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from seedwatch.relevance.matcher import Hit
from seedwatch.relevance.normalize import keeps_offsets, normalize, normalize_with_offsets
from seedwatch.relevance.profile import SIDE_BOTH

# Sentence ends: terminal punctuation followed by space, or a line break.
# Chinese and Japanese full stops need no space after them.
_SENTENCE_END = re.compile(r"(?<=[.!?؟;])[\"'”»)\]]*\s+|(?<=[。！？；])[」』”]*\s*|\n+")
_SENTENCE_SPLIT = re.compile(f"({_SENTENCE_END.pattern})")
_PARAGRAPH_END = re.compile(r"\n\s*\n|\n")
LEAD_SENTENCES = 2


@dataclass(slots=True)
class Segment:
    """A title or a sentence, with what it names."""

    start: int
    end: int
    paragraph: int
    hits: list[Hit] = field(default_factory=list)
    sides: set[str] = field(default_factory=set)
    principal_sides: set[str] = field(default_factory=set)  # named as actors, not in a list or as an attribute
    principal_outsiders: set[str] = field(default_factory=set)  # countries the seeds barely name, as actors
    unlisted_sides: set[str] = field(default_factory=set)  # named other than as one item of a list
    listed_places: set[str] = field(default_factory=set)  # places (countries, cities) named as list items
    facets: set[str] = field(default_factory=set)  # what the sentence says: cue words and agreements
    actor_facets: set[str] = field(default_factory=set)  # facets of the actors named (reported only)
    # Computed once per sentence, not once per hit: a long sentence naming a side
    # thousands of times cost time in the square of its length (docs/reliability.md).
    other_referent: dict[tuple[str, ...], bool] = field(default_factory=dict)  # not_near words found?
    enumeration: _Enumeration | None = None


@dataclass(slots=True)
class Text:
    original: str
    norm: str
    offsets: list[int] | None  # None when normalisation kept every offset

    @classmethod
    def of(cls, text: str) -> Text:
        if not text.isascii():
            text = unicodedata.normalize("NFC", text)
        if keeps_offsets(text):  # ß and Arabic vowel marks change lengths: map those texts
            return cls(text, normalize(text), None)
        norm, offsets = normalize_with_offsets(text)
        return cls(text, norm, offsets)

    def surface(self, start: int, end: int) -> str:
        if self.offsets is None:
            return self.original[start:end]
        # Up to the source of the next folded character: keeps trailing vowel marks.
        return self.original[self.offsets[start] : self.offsets[end]]


class Sentences:
    """Sentence and paragraph boundaries of a body; segments are built only where needed.

    A long article has hundreds of sentences and a few that name anything: only those,
    and the lead, become :class:`Segment` objects.
    """

    def __init__(self, text: Text) -> None:
        norm = text.norm
        paragraph_starts = [0, *(m.end() for m in _PARAGRAPH_END.finditer(norm))]
        # split() with a group alternates sentences and separators; running lengths give offsets.
        cuts = list(itertools.accumulate(map(len, _SENTENCE_SPLIT.split(norm)), initial=0))
        bounds = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2) if cuts[i + 1] > cuts[i]]
        self.starts = [start for start, _ in bounds]
        self._bounds = bounds
        self._paragraph_starts = paragraph_starts
        self.built: dict[int, Segment] = {}
        for index in range(min(LEAD_SENTENCES, len(bounds))):
            self.segment(index)

    def index_of(self, position: int) -> int:
        return bisect.bisect_right(self.starts, position) - 1

    def segment(self, index: int) -> Segment:
        segment = self.built.get(index)
        if segment is None:
            start, end = self._bounds[index]
            paragraph = bisect.bisect_right(self._paragraph_starts, start) - 1
            segment = self.built[index] = Segment(start, end, paragraph)
        return segment

    def in_order(self) -> list[Segment]:
        """The lead sentences and every sentence that names something, in reading order."""
        return [self.built[i] for i in sorted(self.built)]


def keep_hit(hit: Hit, text: Text, segment: Segment) -> bool:
    """Drop a hit whose spelling or neighbours show another referent."""
    entity = hit.target.entity
    if entity is None:
        return True
    # A name ends with a capital word: "Republic of Chile", not "la réunion" after a capital "La".
    surface = text.surface(hit.start, hit.end)
    if hit.target.capitalised and not surface.split()[-1][:1].isupper():
        return False
    if hit.target.upper and not surface.isupper():
        return False
    if entity.not_near:
        found = segment.other_referent.get(entity.not_near)
        if found is None:
            pattern = _not_near_pattern(entity.not_near)
            found = segment.other_referent[entity.not_near] = bool(
                pattern.search(text.norm, segment.start, segment.end)
            )
        return not found
    return True


@functools.lru_cache(maxsize=256)
def _not_near_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(normalize(w)) for w in words) + r")\b")


def assign_hits(hits: list[Hit], text: Text, locate: Callable[[int], Segment | None], sides: tuple[str, ...]) -> None:
    side_set = set(sides)
    for hit in hits:
        segment = locate(hit.start)
        if segment is None or not keep_hit(hit, text, segment):
            continue
        segment.hits.append(hit)
        entity = hit.target.entity
        if entity is not None:
            named = side_set if entity.side == SIDE_BOTH else {entity.side} & side_set
            segment.sides.update(named)
            listed = _in_enumeration(text.norm, segment, hit)
            if not listed:
                segment.unlisted_sides.update(named)
            elif entity.kind == "place":
                segment.listed_places.add(entity.name)
            if not listed and not _is_attribute(text.norm, hit):
                segment.principal_sides.update(named)
                if entity.outsider:
                    segment.principal_outsiders.add(entity.name)
            # An actor (a commander, an army chief) says who, not what the relation is.
            # A third party (Greece) says who else is involved; an agreement says what it is about.
            says_what = entity.kind == "agreement"
            (segment.facets if says_what else segment.actor_facets).update(entity.facets)
        elif hit.target.facet:
            segment.facets.add(hit.target.facet)


# "Chile-backed forces", "forces backed by Chile": the side qualifies another actor.
_ATTRIBUTE_AFTER = re.compile(
    r"\s?-?\s?(backed|supported|aligned|allied|based|controlled|led|sponsored|destekli|gestutzt\w*|unterstutzt\w*)\b"
)
_ATTRIBUTE_BEFORE = re.compile(
    r"\b(?:(?:backed|supported|sponsored|armed|allied) (?:by|with|to) (?:the )?|soutenue?s? par (?:la )?"
    r"|المدعوم\w* من |المدعوم\w* |التي تدعمها )$"
)
# A list item: "in Peru, Chile and the Pacific", "teams from Chile, Italy, France".
_ENUMERATION_SPLIT = re.compile(r",|;|、|\s(?:and|or|und|et|i|y|e|ve|и|و)\s")  # 、: the CJK enumeration comma
_ENUMERATION_ITEM_WORDS = 3
_WORD = re.compile(r"\w+")


def _is_attribute(norm: str, hit: Hit) -> bool:
    return bool(
        _ATTRIBUTE_AFTER.match(norm, hit.end) or _ATTRIBUTE_BEFORE.search(norm, max(0, hit.start - 24), hit.start)
    )


@dataclass(slots=True)
class _Enumeration:
    """A sentence cut at its list separators: item bounds (absolute offsets), words per item."""

    bounds: list[int]
    words: list[int]

    @classmethod
    def of(cls, norm: str, segment: Segment) -> _Enumeration:
        # Searched in place (pos, endpos), not on a slice: no copy of the sentence per hit.
        cuts = [m.start() for m in _ENUMERATION_SPLIT.finditer(norm, segment.start, segment.end)]
        bounds = [segment.start, *cuts, segment.end]
        if len(bounds) < 4:
            return cls(bounds, [])
        words = [_count_words(norm, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        return cls(bounds, words)


def _count_words(norm: str, start: int, end: int, *, at_most: int | None = None) -> int:
    return sum(1 for _ in itertools.islice(_WORD.finditer(norm, start, end), at_most))


def _in_enumeration(norm: str, segment: Segment, hit: Hit) -> bool:
    """True when the hit is one item among three or more in a comma/and list.

    An item is short, or the hit stands at the list's open end: last in the first item
    ("countries including Chile, Peru, ...") or first in the last ("..., and Bolivia
    due to the floods").
    """
    if segment.enumeration is None:
        segment.enumeration = _Enumeration.of(norm, segment)
    bounds, words = segment.enumeration.bounds, segment.enumeration.words
    if len(bounds) < 4:
        return False
    index = bisect.bisect_right(bounds, hit.start) - 1

    def short(i: int) -> bool:
        return 0 <= i < len(bounds) - 1 and words[i] <= _ENUMERATION_ITEM_WORDS

    ends_first = index == 0 and not _WORD.search(norm, hit.end, bounds[1])
    opens_last = index == len(bounds) - 2 and _count_words(norm, bounds[index], hit.start, at_most=3) <= 2
    if not (short(index) or ends_first or opens_last):
        return False
    neighbours = sum(short(i) for i in (index - 2, index - 1, index + 1, index + 2))
    return neighbours >= 2
