"""Online assignment of articles to event stories.

Each article, in stream order, either joins the story of the same event or starts a new
one. An article is a TF-IDF vector of its event terms (:mod:`seedwatch.stories.features`)
with document frequencies counted over the stream itself, so the weights follow whatever
the feeds publish, in any language. A story is the sum of its articles' vectors (its
centroid), kept in two parts: words, and names with numbers. An article is compared with
a story by

    similarity = (cosine of words + cosine of names and numbers) / 2
                 - KEY_MISS_PENALTY * share of the article's key names the story never had
                 - STORY_KEY_MISS_PENALTY * share of the story's key names the article lacks
                 - FADE * the gap to the story's reports as a share of the window

The first part says "same kind of news"; names and numbers say "same event", and the
penalty keeps an article whose main participants are new to a story out of it (two
earthquakes share "quake", "magnitude" and the country, not the island or the toll).
The article joins the most similar story if that similarity reaches ``JOIN_THRESHOLD``
and the article falls within ``window`` of the story's span of reports; else it starts a story.

Candidates come from postings: each article posts its ``POSTED_TERMS`` most salient
terms to its story, and an article looks up the stories posted under its own
``LOOKUP_TERMS`` most salient terms, ranked by how many they share; never a scan of all
stories. The thresholds were chosen on the ECB+ development set by cross-validation
over its events (docs/stories.md).

:class:`EventIndex` holds the state in memory. The pipeline loads the part of the state a
batch of articles can touch from the state store, assigns, and writes back what changed
(:class:`seedwatch.store.StoryIndex`); ``seedwatch cluster`` uses it as it is.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "JOIN_THRESHOLD",
    "Assignment",
    "EventIndex",
    "EventStory",
    "top_terms",
]

JOIN_THRESHOLD = 0.14
# A title and a one-line summary (a page that could not be fetched) share a topic's names
# with every story of that topic: so little text, as an article or as a whole story, must
# match more closely to join or be joined.
SHORT_TEXT_TERMS = 25
SHORT_TEXT_THRESHOLD = 0.3
KEY_MISS_PENALTY = 0.10
STORY_KEY_MISS_PENALTY = 0.05  # the story's key names that the article never mentions
# Words of everyday vocabulary (in any of the languages of resources/common_words.json)
# weigh half: two events of one kind share them ("quake", "injured", "acquire").
COMMON_WORD_WEIGHT = 0.5
KEY_NAMES = 3  # an article's key names: its most salient names and numbers
LOOKUP_TERMS = 20
POSTED_TERMS = 10
MAX_CANDIDATES = 10
POSTINGS_PER_TERM = 50  # a lookup reads a term's latest stories only: "minister" posts everywhere
# A story keeps its strongest terms only: enough to recognise its event, bounded in the store.
CENTROID_WORDS = 120
CENTROID_NAMES = 60
# A story stays open this long beyond its span of reports: follow-ups within weeks join it;
# the same people and places months later are another story (docs/stories.md).
MAX_OUTLETS = 50  # a wire story re-run everywhere keeps its first 50 outlets on its face
DEFAULT_WINDOW = timedelta(days=30)
FADE = 0.2

Vector = dict[str, float]


def _is_name(term: str) -> bool:
    return term[0] not in "wc"  # "w:"/"c:" words; "e:" names and "#:" numbers


def _norm(vector: Mapping[str, float]) -> float:
    return math.sqrt(sum(value * value for value in vector.values())) or 1.0


def _unit(vector: Mapping[str, float]) -> Vector:
    length = _norm(vector)
    return {term: value / length for term, value in vector.items()}


def _dot(small: Mapping[str, float], large: Mapping[str, float]) -> float:
    if len(small) > len(large):
        small, large = large, small
    return sum(value * large.get(term, 0.0) for term, value in small.items())


def top_terms(vector: Mapping[str, float], count: int) -> Vector:
    """The ``count`` strongest terms (ties in the vector's order, so the same input gives the same terms)."""
    if len(vector) <= count:
        return dict(vector)
    return {term: vector[term] for term in sorted(vector, key=vector.__getitem__, reverse=True)[:count]}


@dataclass
class EventStory:
    """A story's event: its centroid, when it was last reported, and its face."""

    story_id: str
    words: Vector = field(default_factory=dict)  # sum of its articles' unit word vectors
    names: Vector = field(default_factory=dict)  # same, for names and numbers
    first_at: datetime | None = None
    last_at: datetime | None = None
    articles: int = 0
    headline: str = ""
    headline_similarity: float = 0.0
    outlets: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    _norms: tuple[float, float] | None = field(default=None, repr=False, compare=False)
    _keys: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def term_count(self) -> int:
        """How many terms its centroid holds: few means the story is a title and a summary."""
        return len(self.words) + len(self.names)

    def key_names(self) -> list[str]:
        """The story's most salient names and numbers (cached with the norms)."""
        if self._keys is None:
            self._keys = list(top_terms(self.names, KEY_NAMES))
        return self._keys

    def norms(self) -> tuple[float, float]:
        """Lengths of the word and name centroids (cached until the next article joins)."""
        if self._norms is None:
            self._norms = (_norm(self.words), _norm(self.names))
        return self._norms

    def add(self, words: Vector, names: Vector) -> None:
        self._norms = self._keys = None
        for target, part, keep in ((self.words, words, CENTROID_WORDS), (self.names, names, CENTROID_NAMES)):
            for term, value in part.items():
                target[term] = target.get(term, 0.0) + value
            if len(target) > keep * 2:  # trim now and then, not on every article
                trimmed = top_terms(target, keep)
                target.clear()
                target.update(trimmed)

    def gap_days(self, at: datetime | None) -> float:
        """Days from ``at`` to the story's span of reports (0 inside it, or when a date is unknown)."""
        if at is None or self.first_at is None or self.last_at is None:
            return 0.0
        if self.first_at <= at <= self.last_at:
            return 0.0
        nearest = self.first_at if at < self.first_at else self.last_at
        return abs((at - nearest).total_seconds()) / 86400

    def within(self, at: datetime | None, window: timedelta | None) -> bool:
        return window is None or self.gap_days(at) <= window.total_seconds() / 86400


@dataclass(frozen=True)
class Assignment:
    """Where an article went: its story, whether it started it, and how close it was."""

    story_id: str
    new: bool
    similarity: float


@dataclass
class EventIndex:
    """Document frequencies, stories and postings: the state of online event clustering."""

    window: timedelta | None = DEFAULT_WINDOW
    threshold: float = JOIN_THRESHOLD
    documents: int = 0
    documents_added: int = 0  # since the state was loaded
    df: Counter[str] = field(default_factory=Counter)
    stories: dict[str, EventStory] = field(default_factory=dict)
    postings: dict[str, set[str]] = field(default_factory=dict)
    # What changed since the state was loaded, for the store to write back.
    df_delta: Counter[str] = field(default_factory=Counter)
    new_postings: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # centroid and face changed
    faces_touched: set[str] = field(default_factory=set)  # only the face (copies)

    # -- the algorithm ---------------------------------------------------------------

    def vector(self, terms: Mapping[str, float]) -> Vector:
        """The article's TF-IDF vector (sublinear term counts, smoothed IDF)."""
        base = math.log(self.documents + 1) + 1.0
        df, log = self.df.get, math.log
        vector = {term: math.log1p(count) * (base - log(df(term, 0) + 1)) for term, count in terms.items() if count > 0}
        for term in vector:
            if term[0] == "c":  # everyday vocabulary (see features)
                vector[term] *= COMMON_WORD_WEIGHT
        return vector

    def count_document(self, terms: Mapping[str, float]) -> None:
        """Count an article in the document frequencies (before weighing it)."""
        self.documents += 1
        self.documents_added += 1
        present = terms.keys()  # not the mapping: Counter.update would add its counts
        self.df.update(present)
        self.df_delta.update(present)

    def similarity(
        self, words: Vector, names: Vector, key_names: list[str], story: EventStory, at: datetime | None = None
    ) -> float:
        word_norm, name_norm = story.norms()
        word_cosine = _dot(words, story.words) / word_norm if story.words else 0.0
        name_cosine = _dot(names, story.names) / name_norm if story.names and names else 0.0
        missing = sum(1 for term in key_names if term not in story.names) / len(key_names) if key_names else 0.0
        story_keys = story.key_names()
        unmentioned = sum(1 for term in story_keys if term not in names) / len(story_keys) if story_keys else 0.0
        return (
            (word_cosine + name_cosine) / 2
            - KEY_MISS_PENALTY * missing
            - STORY_KEY_MISS_PENALTY * unmentioned
            - self.fading(story, at)
        )

    def fading(self, story: EventStory, at: datetime | None) -> float:
        """How much a story has faded by ``at``: nothing within its span of reports, ``FADE``
        at the window's end. A follow-up the next day joins as easily as a report the same
        day; three weeks later it must be much closer to the story."""
        if self.window is None:
            return 0.0
        return FADE * min(story.gap_days(at) / (self.window.total_seconds() / 86400), 1.0)

    def required(self, article_terms: int, story: EventStory) -> float:
        """The similarity needed to join: more when the article or the story is a mere title
        and summary, whose few words are the topic's names that every story shares."""
        if article_terms < SHORT_TEXT_TERMS or story.term_count < SHORT_TEXT_TERMS:
            return max(self.threshold, SHORT_TEXT_THRESHOLD)
        return self.threshold

    def ranked_candidates(self, lookup_terms: Iterable[str]) -> list[str]:
        """The stories posted under the most of these terms, best first, at most ``MAX_CANDIDATES``."""
        shared: Counter[str] = Counter()
        for term in lookup_terms:
            shared.update(self.postings.get(term, ()))
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        return [story_id for story_id, _ in ranked[:MAX_CANDIDATES]]

    def candidates(self, vector: Vector, at: datetime | None) -> list[EventStory]:
        stories = (self.stories.get(story_id) for story_id in self.ranked_candidates(top_terms(vector, LOOKUP_TERMS)))
        return [story for story in stories if story is not None and story.within(at, self.window)]

    def assign(
        self,
        article_id: str,
        terms: Mapping[str, float],
        *,
        at: datetime | None = None,
        title: str = "",
        outlet: str = "",
        language: str = "",
    ) -> Assignment:
        """Put an article in the story of its event, or start one under ``article_id``."""
        self.count_document(terms)
        vector = self.vector(terms)
        words = _unit({term: value for term, value in vector.items() if not _is_name(term)})
        names = _unit({term: value for term, value in vector.items() if _is_name(term)})
        key_names = list(top_terms(names, KEY_NAMES))
        best, best_similarity = None, -1.0
        for story in self.candidates(vector, at):
            similarity = self.similarity(words, names, key_names, story, at)
            if similarity > best_similarity and similarity >= self.required(len(terms), story):
                best, best_similarity = story, similarity
        new = best is None
        if new:
            best = self.stories[article_id] = EventStory(article_id, first_at=at, headline=title)
            best_similarity = 0.0
        assert best is not None
        self._join(best, words, names, vector, at=at, title=title, similarity=best_similarity, new=new)
        self._note_source(best, outlet, language)
        return Assignment(best.story_id, new, round(best_similarity, 4))

    def add_copy(self, story_id: str, *, at: datetime | None, outlet: str = "", language: str = "") -> None:
        """A copy of an article (same text, near-duplicate) joined ``story_id`` at a cheaper level.

        Its text is the story's already: only the face changes (latest report, outlets,
        languages), and it is written back only if it did.
        """
        story = self.stories.get(story_id)
        if story is None:
            return
        story.articles += 1
        changed = self._note_source(story, outlet, language)
        if at is not None and (story.last_at is None or at > story.last_at):
            story.last_at = at
            changed = True
        if changed:
            self.faces_touched.add(story_id)

    # -- bookkeeping -----------------------------------------------------------------

    def _join(
        self,
        story: EventStory,
        words: Vector,
        names: Vector,
        vector: Vector,
        *,
        at: datetime | None,
        title: str,
        similarity: float,
        new: bool,
    ) -> None:
        story.add(words, names)
        story.articles += 1
        if at is not None:
            story.first_at = min(story.first_at or at, at)
            story.last_at = max(story.last_at or at, at)
        # The headline is the title of the most central article: the one that joined most
        # closely. The second article is exactly as close to the first as the first to it,
        # so the first keeps the headline and that similarity becomes the mark to beat.
        if not new and similarity > story.headline_similarity:
            if story.articles > 2 and title:
                story.headline = title
            story.headline_similarity = similarity
        for term in top_terms(vector, POSTED_TERMS):
            posted = self.postings.setdefault(term, set())
            if story.story_id not in posted:
                posted.add(story.story_id)
                self.new_postings[term, story.story_id] = at
        self.touched.add(story.story_id)

    @staticmethod
    def _note_source(story: EventStory, outlet: str, language: str) -> bool:
        """Add the outlet and language to the story's face; True if either is new there."""
        changed = False
        if outlet and outlet not in story.outlets and len(story.outlets) < MAX_OUTLETS:
            story.outlets.append(outlet)
            changed = True
        if language and language not in story.languages:
            story.languages.append(language)
            changed = True
        return changed
