"""Score one article against one topic profile, and say why.

The verdict combines explicit evidence with similarity to the seed:

* **Both sides.** A relation needs both: each sentence records which sides it names
  (an agreement between them names both at once). With no place where the two
  sides meet (title, the lead, one sentence or one paragraph), the article is not
  relevant however many names of one side it has.
* **Centrality.** Where they meet counts: the title most, then the lead, then any
  sentence, then a paragraph. A relation that appears only past the lead, or in a
  sentence that lists many countries, can make a piece *partial* but not *relevant*.
* **Facets.** Cue words (visits, troops, memorandum, oil...) in the sentences where
  the sides meet show what the relation is about; with none, the sides are not related.
* **Third countries.** Sides that meet only in a list of countries are not related; an
  outsider country leading the headline makes the relation a thread of its story.
* **Similarity.** Cosine between the article's TF-IDF vector and the seed's salient
  terms: a small, language-dependent nudge, never enough on its own.

The same rules grade every profile, drawn from the seeds or curated; a topic whose seeds
name no two parties is graded on similarity alone.
"""

from __future__ import annotations

import gc
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from seedwatch.models import GRADE_NAMES, TopicTag
from seedwatch.relevance.profile import SIDE_BOTH, STOPWORDS, TopicProfile
from seedwatch.relevance.segments import LEAD_SENTENCES, Segment, Sentences, Text, assign_hits

LIST_CONTEXT_ENTITIES = 4  # a sentence naming this many distinct countries/actors is a list
LIST_PLACES = 3  # places named as items of one enumeration: a list of countries
MAX_EXPLAINED_SENTENCES = 4
# An explanation quotes this much of a sentence at most, with the terms found there: one
# "sentence" of 100,000 characters without a full stop would otherwise be stored whole,
# with every one of its hits, in the article's tags (and the index).
EXPLAINED_SENTENCE_CHARS = 2000
SIMILARITY_TOKENS = 600

# Evidence weights (sum clipped to 1). Set by reasoning about the grading rules, then
# checked on the dev set (docs/relevance.md); not fitted item by item.
W_TITLE_BOTH = 0.55
W_TITLE_AND_LEAD = 0.4
W_TITLE_ATTRIBUTE = 0.3
W_LEAD_SENTENCE = 0.35
W_SENTENCE = 0.3
W_EXTRA_SENTENCE = 0.07
W_PARAGRAPH = 0.2
W_LIST_FACTOR = 0.4
W_FACET_CUE = 0.1
W_SIMILARITY = 0.1  # small: the seed is English, and held-out items are often Turkish or Arabic
NO_RELATION_CAP = 0.2
MIN_SIDE_MENTIONS = 1.5  # weighted mentions of the less-named side below which it is a passing mention
NOT_CENTRAL_CAP = 0.55
SUSTAINED_SENTENCES = 3  # sentences naming both sides with a cue: the relation runs through the piece
# What may stand between two sides written as a pair: a hyphen, dash or slash, or nothing
# (Chinese writes the pair as adjacent characters).
_PAIR_JOINER = re.compile(r"\s*[-‐‑–—/]?\s*")


def _similarity(profile: TopicProfile, tokens: list[str]) -> float:
    """Cosine between the article's TF-IDF vector and the seed terms' weights."""
    seed = profile.seed_terms
    if not seed or not tokens:
        return 0.0
    counts = Counter(tokens)  # counted in C; short words and stopwords are dropped below
    counts.pop("", None)
    terms = [t for t in counts.keys() - STOPWORDS if len(t) > 2]
    shared = seed.keys() & counts.keys()
    if not shared:
        return 0.0
    idf_get, default_idf = profile.background_idf.get, profile.default_idf
    weights = [(1 + _log(counts[t])) * idf_get(t, default_idf) for t in terms]
    norm = math.sqrt(sum(w * w for w in weights))
    dot = sum((1 + _log(counts[t])) * idf_get(t, default_idf) * seed[t] for t in shared)
    return dot / (norm * profile.seed_norm) if norm else 0.0


def _log(n: int) -> float:
    return _LOGS[n] if n < len(_LOGS) else math.log(n)


_LOGS = [0.0, *(math.log(n) for n in range(1, 256))]


def tag_article(profile: TopicProfile, *, title: str, text: str, language: str | None = None) -> TopicTag:
    """Grade one article for ``profile``: score in [0, 1], grade 2/1/0, and an explanation.

    ``language`` is recorded in the explanation; matching is multilingual by alias, so it
    is not needed to find evidence.
    """
    with _collector_paused():
        return _tag(profile, title, text, language)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an article is tagged.

    Tagging builds many small objects that hold no cycles (a few containers per sentence
    that names something); the collector, run every few hundred allocations, walks the
    ones already built again and again, which made a long article cost more than in
    proportion to its length (tests/test_growth.py: ×15 for ×10 the text, ×11 without).
    A collector switched off elsewhere stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _tag(profile: TopicProfile, title: str, text: str, language: str | None) -> TopicTag:
    matcher = profile.matcher
    title_text, body_text = Text.of(title or ""), Text.of(text or "")
    title_segment = Segment(0, len(title_text.norm), paragraph=-1)
    sentences = Sentences(body_text)
    title_hits, title_tokens = matcher.scan(title_text.norm)
    body_hits, body_tokens = matcher.scan(body_text.norm)

    def locate(position: int) -> Segment | None:
        index = sentences.index_of(position)
        return sentences.segment(index) if index >= 0 else None

    assign_hits(title_hits, title_text, lambda _: title_segment, profile.sides)
    assign_hits(body_hits, body_text, locate, profile.sides)
    body_segments = sentences.in_order()
    # The seed similarity reads the title and the opening words: enough to place a piece,
    # and it keeps the cost flat for very long articles.
    similarity = _similarity(profile, title_tokens + body_tokens[:SIMILARITY_TOKENS])
    if not profile.sides:
        return _seed_only_tag(profile, similarity, language)
    return _relation_tag(profile, title_text, body_text, title_segment, body_segments, similarity, language)


def _drop_unsupported_facets(profile: TopicProfile, segments: list[Segment]) -> None:
    """Remove facets whose required actors the article never names ("protests" alone is not
    Greek or Egyptian opposition)."""
    named = {h.target.entity.name for s in segments for h in s.hits if h.target.entity is not None}
    unsupported = {f.id for f in profile.facets if f.requires and not named.intersection(f.requires)}
    if unsupported:
        for segment in segments:
            segment.facets -= unsupported


def _is_list(segment: Segment) -> bool:
    """Many parties and no word of what passes between them. A side counts once however
    many of its names the sentence uses ("<leader> of <side A> in <capital of B>, B")."""
    parties = {
        entity.side if entity.side in segment.sides else entity.name
        for hit in segment.hits
        if (entity := hit.target.entity) is not None
    }
    return len(parties) >= LIST_CONTEXT_ENTITIES and not segment.facets


def _relation_tag(
    profile: TopicProfile,
    title_text: Text,
    body_text: Text,
    title: Segment,
    body: list[Segment],
    similarity: float,
    language: str | None,
) -> TopicTag:
    both = set(profile.sides)
    _drop_unsupported_facets(profile, [title, *body])
    lead = body[:LEAD_SENTENCES]
    lead_sides = set().union(*(s.principal_sides for s in lead)) if lead else set()
    pair_sentences = [s for s in body if s.sides >= both]
    lead_pairs = [s for s in lead if s.principal_sides >= both]
    # Mentions per side, weighted (a capital city or a common surname counts less than a minister).
    side_mentions: Counter[str] = Counter()
    for segment in [title, *body]:
        for hit in segment.hits:
            entity = hit.target.entity
            if entity is not None:
                for side in both if entity.side == SIDE_BOTH else both & {entity.side}:
                    side_mentions[side] += entity.weight
    weaker_side = min(side_mentions.get(side, 0.0) for side in profile.sides)
    paragraph_sides: dict[int, set[str]] = {}
    for segment in body:
        paragraph_sides.setdefault(segment.paragraph, set()).update(segment.sides)
    pair_paragraphs = [p for p, sides in paragraph_sides.items() if sides >= both]

    evidence: list[str] = []
    score = 0.0
    title_both = title.principal_sides >= both
    title_and_lead = bool(title.principal_sides) and (title.principal_sides | lead_sides) >= both
    if title_both:
        score += W_TITLE_BOTH
        evidence.append("both sides in the title")
    elif title_and_lead:
        score += W_TITLE_AND_LEAD
        evidence.append("one side in the title, the other in the lead")
    elif title.sides >= both:
        score += W_TITLE_ATTRIBUTE
        evidence.append("both sides in the title, one as an attribute or in a list")
    strong_pairs = [s for s in pair_sentences if not _is_list(s)]
    if lead_pairs:
        score += W_LEAD_SENTENCE * (W_LIST_FACTOR if all(_is_list(s) for s in lead_pairs) else 1.0)
        evidence.append("both sides in a lead sentence")
    elif pair_sentences:
        score += W_SENTENCE * (1.0 if strong_pairs else W_LIST_FACTOR)
        evidence.append(f"both sides in {len(pair_sentences)} sentence(s)")
    elif pair_paragraphs:
        score += W_PARAGRAPH
        evidence.append("both sides in one paragraph")
    score += W_EXTRA_SENTENCE * min(3, max(0, len(strong_pairs) - 1))
    relation_facets = set().union(title.facets if title.sides >= both else set(), *(s.facets for s in pair_sentences))
    if title_and_lead:
        relation_facets |= title.facets.union(*(s.facets for s in lead))
    # With both sides in the title, any sentence where they meet may say what the relation is.
    central_facets = set().union(*(s.facets for s in (pair_sentences if title_both else lead_pairs)))
    if title_both:
        central_facets |= title.facets
    if title_and_lead and not title_both:
        central_facets |= title.facets.union(*(s.facets for s in lead))
    if relation_facets:
        score += W_FACET_CUE
    score += W_SIMILARITY * min(1.0, similarity * 2)

    related = title.sides >= both or title_and_lead or bool(pair_sentences) or bool(pair_paragraphs)
    # The relation is the subject when the headline or lead carries it, or when it runs
    # through the piece (an editorial whose title is a metaphor).
    sustained = sum(bool(s.facets) for s in strong_pairs) >= SUSTAINED_SENTENCES
    central = title_both or ((title_and_lead or bool(lead_pairs) or sustained) and weaker_side >= MIN_SIDE_MENTIONS)
    if not related:
        score = min(score, NO_RELATION_CAP)
        evidence.append("no place where both sides meet")
    elif weaker_side < MIN_SIDE_MENTIONS and not title_both:
        # One mention of a side: partial at most, and only if something beyond a meeting or
        # a generic "deal" says what ties the two (troops, the sea deal, oil...).
        specific = relation_facets - {f.id for f in profile.facets if f.generic}
        score = min(score, NOT_CENTRAL_CAP if specific else NO_RELATION_CAP)
        evidence.append("one side is named only once: a passing mention")
    elif not relation_facets:
        # Named together with nothing to say what ties them: not relevant. (Partial when
        # both were in the title and lead tagged six more hard negatives of the second
        # topic partial, storms and tallies, and found no relevant item more.)
        score = min(score, NO_RELATION_CAP)
        evidence.append("nothing says what the relation is (no facet cue where the sides meet)")
    elif not central:
        score = min(score, NOT_CENTRAL_CAP)
        evidence.append("the relation is not in the title or lead")
    elif not central_facets and not sustained:
        score = min(score, NOT_CENTRAL_CAP)
        evidence.append("the title and lead name both sides but not what the relation is")
    # Sides that meet only as items of lists ("delegates from Chile, Ecuador, Peru,
    # Bolivia...") are not in a relation; sides that never share a sentence are shown
    # to be in one only by a headline that says what passes ("Weapons for <side B>").
    meetings = [
        s
        for s in (title, *pair_sentences)
        if s.sides >= both and (s.unlisted_sides >= both or len(s.listed_places) < LIST_PLACES)
    ]
    if related and not meetings and (title.sides >= both or pair_sentences):
        score = min(score, NO_RELATION_CAP)
        evidence.append("the sides meet only in lists of countries")
    elif related and not (title.sides >= both or pair_sentences or title.facets):
        score = min(score, NO_RELATION_CAP)
        evidence.append("the sides never share a sentence, and the headline says no more")
    headline = title if title.sides else lead[0] if lead else title
    outsiders = _leading_outsider(headline, both)
    headline_text = title_text if headline is title else body_text
    if related and outsiders and score > NOT_CENTRAL_CAP and not _names_the_pair(headline_text, headline, both):
        # "Japan sends a submarine to <side B> amid <side A>'s claims": a third country leads.
        score = NOT_CENTRAL_CAP
        evidence.append(
            f"another country leads the headline ({', '.join(sorted(outsiders))}): the relation is a thread"
        )
    score = round(max(0.0, min(1.0, score)), 4)
    grade = _grade(profile, score)

    all_segments = [title, *body]
    entities = _names(all_segments)
    actors = _names(all_segments, kind="actor")
    actor_facets = set().union(title.actor_facets, *(s.actor_facets for s in pair_sentences))
    facets = sorted(relation_facets | actor_facets) if related else []
    explained = [title] if title.hits else []
    explained += sorted(pair_sentences, key=lambda s: -len(s.facets))[:MAX_EXPLAINED_SENTENCES]
    if not pair_sentences:
        explained += [s for s in body if s.sides][:2]
    sides_report = {
        side: sorted(
            {
                h.target.entity.name
                for s in all_segments
                for h in s.hits
                if h.target.entity is not None and h.target.entity.side in (side, SIDE_BOTH)
            }
        )
        for side in profile.sides
    }
    explanation = {
        "summary": f"{GRADE_NAMES[grade]} ({score:.2f}): " + "; ".join(evidence or ["no evidence"]),
        "sides": sides_report,
        "actors": actors,
        "entities": entities,  # actors, places and agreements named, most mentioned first
        "facets": facets,
        "evidence": evidence,
        "sentences": [
            _explain(title_text if s is title else body_text, s, "title" if s is title else "body") for s in explained
        ],
        "similarity": round(similarity, 4),
        "language": language,
        "topic_title": profile.title,  # emails name a topic without a profile file by it
    }
    return TopicTag(
        topic=profile.name,
        grade=grade,
        score=score,
        facets=tuple(facets),
        actors=tuple(actors),
        explanation=explanation,
    )


def _names_the_pair(text: Text, segment: Segment, sides: set[str]) -> bool:
    """Both sides written as one pair ("A-B accord", "A–B talks", "A/B"): the headline is about
    their relation, whoever leads it ("<Outsider> protests A-B accord")."""
    side_hits = [
        (hit, entity.side) for hit in segment.hits if (entity := hit.target.entity) is not None and entity.side in sides
    ]
    for (first, first_side), (second, second_side) in itertools.pairwise(side_hits):
        if first_side != second_side and _PAIR_JOINER.fullmatch(text.norm[first.end : second.start]):
            return True
    return False


def _leading_outsider(segment: Segment, sides: set[str]) -> set[str]:
    """The outsider country a headline names first, before either side, if any."""
    for hit in segment.hits:
        entity = hit.target.entity
        if entity is None:
            continue
        if entity.outsider and entity.name in segment.principal_outsiders:
            return {entity.name}
        if entity.side in sides:
            return set()
    return set()


def _seed_only_tag(profile: TopicProfile, similarity: float, language: str | None) -> TopicTag:
    score = round(min(1.0, similarity * 2), 4)
    grade = _grade(profile, score)
    explanation = {
        "summary": f"{GRADE_NAMES[grade]} ({score:.2f}): similarity to the seeds only (no profile file)",
        "sides": {},
        "actors": [],
        "entities": [],
        "facets": [],
        "evidence": ["seed similarity"],
        "sentences": [],
        "similarity": round(similarity, 4),
        "language": language,
        "topic_title": profile.title,
    }
    return TopicTag(topic=profile.name, grade=grade, score=score, explanation=explanation)


def _grade(profile: TopicProfile, score: float) -> int:
    if score >= profile.thresholds.relevant:
        return 2
    if score >= profile.thresholds.partial:
        return 1
    return 0


def _names(segments: list[Segment], *, kind: str | None = None) -> list[str]:
    """Canonical names of the entities named (of one kind, if given), most mentioned first."""
    counts = Counter(
        h.target.entity.name
        for s in segments
        for h in s.hits
        if h.target.entity is not None and (kind is None or h.target.entity.kind == kind)
    )
    return [name for name, _ in counts.most_common()]


def _explain(text: Text, segment: Segment, where: str) -> dict[str, object]:
    sentence = text.surface(segment.start, segment.end) if segment.end > segment.start else ""
    cut = len(sentence) > EXPLAINED_SENTENCE_CHARS
    sentence = sentence[:EXPLAINED_SENTENCE_CHARS]
    terms = []
    base = text.offsets[segment.start] if text.offsets else segment.start
    for hit in segment.hits:
        surface = text.surface(hit.start, hit.end)
        start = (text.offsets[hit.start] if text.offsets else hit.start) - base
        if cut and start + len(surface) > EXPLAINED_SENTENCE_CHARS:
            continue  # past the quoted part
        terms.append(
            {
                "text": surface,
                "start": start,
                "end": start + len(surface),
                "entity": hit.target.entity.name if hit.target.entity else None,
                "facet": hit.target.facet,
            }
        )
    return {
        "where": where,
        "text": sentence,
        "sides": sorted(segment.sides),
        "facets": sorted(segment.facets),
        "terms": terms,
    }
