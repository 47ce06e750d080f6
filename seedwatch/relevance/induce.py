"""Draw a topic profile from its seed documents alone.

An analyst hands seedwatch seed texts; this module reads them and finds what a curated
profile would say, with no knowledge of any topic:

* **sides**: the two parties the seeds are about, the two countries (or unions) they
  name most, counted with the gazetteer's names, demonyms, capitals and cities, the
  opening lines counting double; or one country and a body or armed group named more
  than any second country;
* **places**: each side's capital and the cities of any country the seeds name;
* **actors**: the people and bodies the seeds name (capitalised words that general news
  rarely uses, and acronyms defined in parentheses), each on the side the seeds tie it
  to ("Chilean Foreign Minister Ana Rojas", "Peruvian Armed Forces (FAP)");
* **third parties**: the countries the seeds put beside each side (the others are
  outsiders, whose own stories merely name a side);
* **agreements** the seeds name, and **facets**: the relations lexicon's, with those
  the seeds talk about first.

Every name is then expanded from the generic resources (:mod:`.resources`): a country
by its name in every CLDR locale, its demonyms and adjective stems; a city by its
names in every script GeoNames records.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from functools import cache

import yaml

from seedwatch.relevance.normalize import normalize
from seedwatch.relevance.profile import SIDE_OTHER, STOPWORDS
from seedwatch.relevance.resources import (
    RESOURCES,
    Country,
    common_words,
    gazetteer,
    inflections,
    lexicon,
    seed_language,
    slug,
)

SIDE_PLACE_WEIGHT = 0.6  # a capital or city stands for its country less surely than its name
SURNAME_WEIGHT = 0.8
MIN_SECOND_SIDE = 2.0  # weighted mentions the second side needs to be a side at all
OPENING_CHARS = 400  # the headline and lead: mentions there count double
ACTOR_WINDOW = 3  # tokens before a name in which a side's adjective ties it to that side
MAX_ACTORS = 40
TITLES_FILE = RESOURCES / "titles.yaml"
_CONNECTORS = {"al", "el", "bin", "ibn", "de", "del", "van", "von", "der", "da", "of"}
# Words and punctuation marks; capitalised hyphenated names stay whole (González-Olaechea),
# other compounds split ("X-based": X, -, based; "Chile-Peru": Chile, -, Peru).
# Words (with inner hyphens), dotted acronyms as one word ("U.S.", "U.A.E."), punctuation.
_TOKENS = re.compile(r"(?:[^\W\d_]\.){2,}|[^\W\d_]\w*(?:-[^\W\d_]\w*)*|[^\w\s]")
_ACRONYM_DEFINED = re.compile(
    r"((?:[A-Z][\w’'-]+\s+)(?:(?:[A-Z][\w’'-]+|of|the|and|for)\s+){0,6}[A-Z][\w’'-]+)\s*\(([A-Z]{2,6})\)"
)
_ROMAN_NUMERAL = re.compile(r"[IVXLC]+")  # "World War II": an ordinal, not an acronym that makes a name
MIN_SINGLE_NAME = 4  # letters a one-word name needs ("Sea" of "South Chile Sea" is no actor)
_BOUNDARY = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:[A-Z][a-z]{0,3}|[A-Z](?:\.[A-Z])*)\.$")  # Gen. Lt. Mr. U.S.


@dataclass
class InducedActor:
    name: str
    side: str  # a side id or "other"
    aliases: list[str]
    capitalised: list[str]
    mentions: int
    why: str  # how its side was found, for the draft's comments
    titled: bool = False  # written after a title at least once ("President ..."): a person


@dataclass
class Induction:
    """What the seeds say, before it becomes a :class:`~seedwatch.relevance.profile.TopicProfile`."""

    sides: tuple[str, ...]
    side_countries: dict[str, Country]  # side id → country
    country_mentions: dict[str, float]  # country code → weighted mentions in the seeds
    seed_cities: list[tuple[Country, str]]  # (country, city name) named in the seeds
    side_groups: dict[str, InducedActor] = field(default_factory=dict)  # side id → a body or armed group
    language: str | None = None  # the seeds' language (its frequent words are no names)
    actors: list[InducedActor] = field(default_factory=list)
    embedded: list[str] = field(default_factory=list)  # names with a country inside: West Peru Basin
    seed_forms: dict[str, list[str]] = field(default_factory=dict)  # side → its adjectives as the seeds write them
    parties: set[str] = field(default_factory=set)  # third countries the seeds show dealing with both sides
    agreements: dict[str, list[str]] = field(default_factory=dict)  # agreement named in the seeds → its facets
    seed_facets: dict[str, list[str]] = field(default_factory=dict)  # facet id → cue words found in the seeds

    def side_name(self, side: str) -> str:
        return self.side_countries[side].name if side in self.side_countries else self.side_groups[side].name

    @property
    def title(self) -> str:
        if len(self.sides) != 2:
            return ""
        return "–".join(self.side_name(s) for s in self.sides) + " relations"


def induce(seed_texts: list[str], general_vocabulary: frozenset[str]) -> Induction:
    """Find sides, places, actors and facets in ``seed_texts``; see the module docstring.

    ``general_vocabulary``: words of general news (a name made only of them is nobody's).
    """
    countries = gazetteer()
    # Two passes: every country by name (cheap), then the ones named, with all their
    # adjective forms ("Peruvian", "peruano"), which may be most of a seed's mentions.
    named = {h.target.entity.side for text in seed_texts for h in country_hits(text)} & set(countries)
    local = _place_matcher(tuple(sorted(named)))
    mentions: Counter[str] = Counter()
    cities: dict[tuple[str, str], int] = {}
    for text in seed_texts:
        for hit in country_hits(text, local):
            entity = hit.target.entity
            weight = (1.0 if entity.kind == "actor" else SIDE_PLACE_WEIGHT) * (2 if hit.start < OPENING_CHARS else 1)
            mentions[entity.side] += weight
            if entity.kind == "place":
                cities[(entity.side, entity.name)] = cities.get((entity.side, entity.name), 0) + 1
    # Adjectives the seeds write that no resource lists ("Peruvian"-style forms).
    written = _seed_forms(seed_texts, {code: countries[code] for code in named})
    words = Counter(w for text in seed_texts for w in _tokens(text))
    for code, forms in written.items():
        mentions[code] += sum(words[form] for form in forms)
    ranked = [code for code, n in mentions.most_common() if code in countries]
    chosen = ranked[:2] if len(ranked) >= 2 and mentions[ranked[1]] >= MIN_SECOND_SIDE else ranked[:1]
    induction = Induction(
        sides=(),
        side_countries={countries[code].slug: countries[code] for code in chosen},
        country_mentions=dict(mentions),
        seed_cities=[(countries[code], name) for (code, name) in cities],
        language=seed_language(seed_texts),
    )
    induction.sides = tuple(induction.side_countries)
    induction.seed_forms = {side: written.get(c.code, []) for side, c in induction.side_countries.items()}
    induction.actors = _actors(seed_texts, induction, general_vocabulary)
    group = _group_side(induction, mentions[chosen[1]] if len(chosen) == 2 else 0.0, general_vocabulary)
    if group is not None:
        # The second party is a body or an armed group the seeds name more than any
        # second country: it replaces that country, and the actors are tied anew.
        first = next(iter(induction.side_countries.items()))
        induction.side_countries = dict([first])
        induction.side_groups = {slug(group.name): group}
        induction.sides = (first[0], slug(group.name))
        induction.seed_forms = {first[0]: induction.seed_forms.get(first[0], [])}
        induction.actors = [a for a in _actors(seed_texts, induction, general_vocabulary) if a.name != group.name]
    if len(induction.sides) < 2:
        induction.sides, induction.side_countries, induction.side_groups, induction.actors = (), {}, {}, []
    induction.embedded = _embedded_names(seed_texts, _side_lookup(induction))
    induction.parties = _parties(seed_texts, induction)
    induction.seed_facets = _seed_facets(seed_texts)
    induction.agreements = _agreements(seed_texts)
    return induction


def country_hits(text: str, matcher=None) -> list:
    """Hits of the world matcher (or ``matcher``) in ``text``: countries as actors, cities
    as places, side = ISO code; with the spelling checks articles get (proper names
    capitalised, acronyms in capitals)."""
    from seedwatch.relevance.segments import Segment, Text, keep_hit

    source = Text.of(text)
    whole = Segment(0, len(source.norm), paragraph=0)
    found = (matcher or world_matcher()).find(source.norm)
    return [h for h in found if h.target.entity is not None and keep_hit(h, source, whole)]


def world_matcher():
    """Every country of the gazetteer by its names and adjectives, and its cities."""
    return _place_matcher(None)


@cache
def _place_matcher(codes: tuple[str, ...] | None):
    """A matcher over the countries ``codes`` with all their forms (None: every country,
    without the stem+ending forms, which would make it ten times larger)."""
    from seedwatch.relevance.matcher import Matcher

    entities = []
    for code, country in gazetteer().items():
        if codes is not None and code not in codes:
            continue
        entities.append(country_entity(country, code, forms=codes is not None))
        for place in (country.capital, *country.cities):
            if place is not None:
                entities.append(place_entity(place, code))
    return Matcher.compile_entities(entities)


def _cased(alias: str) -> bool:
    first = alias.lstrip()[:1]
    return first.isupper() or first.islower()


def country_entity(
    country: Country, side: str, *, kind: str = "actor", extra: tuple[str, ...] = (), forms: bool = True
):
    """The country as an entity: its names (capitalised where the script has case) and
    adjectives; ``forms`` adds the stem+ending forms and their inflections (a side needs
    them, a bystander not)."""
    from seedwatch.relevance.profile import Entity

    names = [*country.demonyms, *extra, *country.names]
    side_forms = ()
    if forms:  # the stem+ending forms and their inflections ("chilienne", "Şilili")
        inflected = inflections((*country.forms, *country.adjectives, *country.demonyms), country.names)
        side_forms = (*country.forms, *inflected)
    aliases = tuple(dict.fromkeys([country.name, *names, *country.adjectives, *side_forms]))
    # Names are proper nouns: "Chile" the country, not "chile" the pepper.
    capitalised = tuple(a for a in dict.fromkeys([country.name, *names]) if _cased(a))
    return Entity(name=country.name, kind=kind, side=side, aliases=aliases, capitalised=capitalised)


def place_entity(place, side: str, *, weight: float = SIDE_PLACE_WEIGHT):
    from seedwatch.relevance.profile import Entity

    aliases = tuple(dict.fromkeys([place.name, *place.names]))
    return Entity(
        name=place.name,
        kind="place",
        side=side,
        aliases=aliases,
        weight=weight,
        capitalised=tuple(a for a in aliases if _cased(a)),
    )


# --- actors --------------------------------------------------------------------------


def _actors(seed_texts: list[str], induction: Induction, common: frozenset[str]) -> list[InducedActor]:
    """People and bodies the seeds name, each on the side the seeds tie it to.

    A side is given only on close evidence: the side's name or adjective inside the
    name ("Peruvian Armed Forces") or just before it ("Chilean Foreign Minister Ana
    Rojas", "northern Peru, Luis Quispe"), twice as often as any other side.
    A wrong side would be worse than none, so the rest stay ``other``.
    """
    if not induction.sides:
        return []
    side_of = _side_lookup(induction)
    candidates: dict[str, InducedActor] = {}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    meetings: list[tuple[list[str], set[str]]] = []  # per sentence: the names, and the sides it takes place in

    def candidate(name: str) -> InducedActor:
        return candidates.setdefault(name, InducedActor(name, SIDE_OTHER, [name], [], 0, ""))

    for text in seed_texts:
        for full, acronym in _ACRONYM_DEFINED.findall(text):
            name = _trim_name(full.split(), common, side_of, induction.language, keep_common=True)
            if name and acronym not in candidate(name).aliases:
                candidate(name).aliases.append(acronym)
                candidate(name).capitalised.append(acronym)
                for word in name.split():  # "Peruvian Armed Forces (FAP)": the side is in the name
                    if side_of(word):
                        votes[name][side_of(word)] += 2
        for sentence in _sentences(text):
            tokens = _tokens(sentence)
            words = [(i, t) for i, t in enumerate(tokens) if t[0].isalpha()]
            names_here: list[str] = []
            meetings.append((names_here, _host_sides(tokens, side_of)))
            for start, run in _capitalised_runs(tokens, side_of):
                name = _trim_name(run, common, side_of, induction.language)
                if not name:
                    continue
                names_here.append(name)
                actor = candidate(name)
                actor.mentions += 1
                actor.titled = actor.titled or normalize(run[0]) in _titles()
                window = [(i, t) for i, t in words if start - ACTOR_WINDOW <= i < start]
                for i, word in [*window, *enumerate(run, start)]:
                    side = side_of(word)
                    if side and not _coordinated(tokens, i, start) and not _apart(tokens, i, start):
                        votes[name][side] += 1
    actors = _merge_surnames(candidates, votes, common)
    for actor in actors:
        tally = votes.get(actor.name, Counter())
        # One vote is enough for a person's full name ("Chilean Gen. Ana Rojas"); a lone
        # word or an acronym ("AP", the agency) needs two.
        needed = 1 if " " in actor.name else 2
        if tally:
            (best, n), *rest = tally.most_common()
            if n >= needed and (not rest or n >= 2 * rest[0][1]):
                actor.side = best
                actor.why = f"named with {induction.side_name(best)}'s name or adjective {n}×"
    _hosts(actors, votes, meetings, induction)
    for actor in actors:
        if not actor.why:
            actor.why = "no side: the seeds do not tie it to one"
    keep = [a for a in actors if a.mentions >= 2 or a.side != SIDE_OTHER or len(a.aliases) > 1]
    return sorted(keep, key=lambda a: (-a.mentions, a.name))[:MAX_ACTORS]


# Words before a place that say something happens there ("in Lima", "to Santiago").
_LOCATIVES = frozenset("in to at en à a au nach w we v в во у u da de".split())


def _host_sides(tokens: list[str], side_of) -> set[str]:
    """The sides whose places a sentence says it happens in ("… arrived in Lima for talks")."""
    return {
        side
        for i, token in enumerate(tokens[1:], 1)
        if token[:1].isupper() and tokens[i - 1].lower() in _LOCATIVES and (side := side_of(token))
    }


def _hosts(
    actors: list[InducedActor],
    votes: dict[str, Counter[str]],
    meetings: list[tuple[list[str], set[str]]],
    induction: Induction,
) -> None:
    """An official the seeds tie to no side is the host's when the seeds receive a guest of the
    other side in the host's place: "<Peruvian minister> is in Santiago for talks with Defence
    Minister Ana Rojas" makes Rojas Chile's. Only titled people, only with no closer evidence."""
    owner = {alias: actor for actor in actors for alias in actor.aliases}
    hosted: dict[str, Counter[str]] = defaultdict(Counter)
    for names, places in meetings:
        if len(places) != 1:
            continue
        (host,) = places
        present = [owner[name] for name in names if name in owner]
        if not any(a.side not in (SIDE_OTHER, host) for a in present):
            continue  # no guest of the other side
        for actor in present:
            if actor.side == SIDE_OTHER and actor.titled and not votes.get(actor.name):
                hosted[actor.name][host] += 1
    for actor in actors:
        if len(hosted.get(actor.name, ())) == 1:
            ((host, n),) = hosted[actor.name].items()
            actor.side = host
            actor.why = f"the host: named where {induction.side_name(host)} receives the other side ({n}×)"


# Words that join two parties: a side's name next to one ("the presidents of Bolivia and
# Peru, Ana Rojas and Luis Quispe"; "Peru and the FARC") names a group, not the person's side.
_COORDINATORS = frozenset(
    "and or & with vs versus against et ou avec contre und oder mit gegen y o e con contra ve ile veya i lub oraz".split()
)


def _coordinated(tokens: list[str], index: int, name_start: int) -> bool:
    """True when the side word at ``index`` is joined to another party rather than to the name
    at ``name_start``: followed by "and", "or", "with"..., or preceded by one and kept from the
    name by punctuation ("Rojas and Peruvian President Luis Quispe" still ties Quispe)."""
    after = tokens[index + 1].lower() if index + 1 < len(tokens) else ""
    before = tokens[index - 1].lower() if index > 0 else ""
    return after in _COORDINATORS or (before in _COORDINATORS and index + 1 != name_start)


def _apart(tokens: list[str], index: int, name_start: int) -> bool:
    """True when a function word stands between the side word and the name: "Japanese
    factories during World War II", "Islamabad said the Indus ..." say nothing of whose
    the name is; "Chilean strongman Luis Quispe" and "northern Peru, Luis Quispe" do."""
    return any(normalize(token) in STOPWORDS for token in tokens[index + 1 : name_start])


MIN_GROUP_MENTIONS = 4
NOUN_CAPITALISING = frozenset({"de", "lb"})  # every noun has a capital: one word alone is no name


def _group_side(induction: Induction, second_country: float, common: frozenset[str]) -> InducedActor | None:
    """A body or armed group (an acronym, a one-word name, or a name with an ordinary word
    in it: not a person's) that no side claims and that the seeds name at least twice as
    often as the second country, if any: "NATO" in a seed about NATO and one country."""
    if not induction.side_countries:
        return None

    def group_like(actor: InducedActor) -> bool:
        words = actor.name.split()
        return actor.name.isupper() or len(words) == 1 or any(normalize(w) in common for w in words)

    candidates = [a for a in induction.actors if a.side == SIDE_OTHER and group_like(a)]
    best = max(candidates, key=lambda a: a.mentions, default=None)
    if best is None or best.mentions < max(MIN_GROUP_MENTIONS, 2 * second_country):
        return None
    return best


def _side_lookup(induction: Induction):
    """word → side id, for the sides' names, demonyms and capitals (exact or by adjective stem)."""
    exact: dict[str, str] = {}
    stems: list[tuple[str, str]] = []
    for side, forms in induction.seed_forms.items():
        exact.update({normalize(form): side for form in forms})
    for side, group in induction.side_groups.items():
        exact.update({normalize(alias): side for alias in group.aliases})
    for side, country in induction.side_countries.items():
        places = [p for p in (country.capital, *country.cities) if p is not None]
        for alias in (*country.names, *country.demonyms, *(n for p in places for n in p.names)):
            exact.setdefault(normalize(alias), side)
        exact.update({normalize(a): side for a in (*country.adjectives, *country.forms) if not a.endswith("*")})
        stems += [(a.rstrip("*"), side) for a in country.adjectives if a.endswith("*")]
    others = {normalize(a) for c in gazetteer().values() for a in (c.name, *c.demonyms)}

    def side_of(word: str) -> str | None:
        norm = normalize(word).split("'")[0]
        if norm in exact:
            return exact[norm]
        if norm in others:
            return None
        return next((side for stem, side in stems if norm.startswith(stem)), None)

    return side_of


def _capitalised_runs(tokens: list[str], side_of) -> list[tuple[int, list[str]]]:
    """Runs of capitalised words (with connectors such as al, bin, of) as (start, words).

    Punctuation ends a run, and so does a country's name or adjective ("Greece and
    Peru" is two countries, not a name); a lone capital at a sentence's start is
    just grammar.
    """
    runs: list[tuple[int, list[str]]] = []
    index = 0

    def name_word(i: int) -> bool:
        return i < len(tokens) and tokens[i][:1].isupper() and side_of(tokens[i]) is None and not _is_country(tokens[i])

    while index < len(tokens):
        if not name_word(index):
            index += 1
            continue
        start, run = index, [tokens[index]]
        index += 1
        while name_word(index) or (
            tokens[index : index + 1] and tokens[index].lower() in _CONNECTORS and name_word(index + 1)
        ):
            run.append(tokens[index])
            index += 1
        if not (start == 0 and len(run) == 1):
            runs.append((start, run))
    return runs


@cache
def _titles() -> frozenset[str]:
    """Titles, offices and ranks (resources/titles.yaml), normalised."""
    data = yaml.safe_load(TITLES_FILE.read_text(encoding="utf-8"))["titles"]
    return frozenset(normalize(word) for words in data.values() for word in words)


def _tokens(sentence: str) -> list[str]:
    out: list[str] = []
    for token in _TOKENS.findall(sentence):
        parts = token.split("-")
        if len(parts) > 1 and not all(p[:1].isupper() and not _is_country(p) for p in parts):
            out += [x for part in parts for x in ("-", part) if x][1:]
        else:
            out.append(token)
    return out


def _sentences(text: str) -> list[str]:
    """Sentences, not cut after an abbreviation ("Chilean Gen. Ana Rojas")."""
    out: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(text):
        piece = text[start : boundary.start()]
        if "\n" not in boundary.group() and _ABBREVIATION.search(piece):
            continue
        out.append(piece)
        start = boundary.end()
    out.append(text[start:])
    return [p for p in out if p.strip()]


def _embedded_names(seed_texts: list[str], side_of) -> list[str]:
    """Proper names with a country's name inside, after another capitalised word: "West
    Peru Basin", "South Chile Rise". They name a place, not the country; as entities of
    their own they take the match from the country's name (the longest match wins)."""
    found: Counter[str] = Counter()
    for text in seed_texts:
        for sentence in _sentences(text):
            tokens = _tokens(sentence)
            for index in range(1, len(tokens) - 1):
                before, word, after = tokens[index - 1], tokens[index], tokens[index + 1]
                if (
                    (_is_country(word) or side_of(word))
                    and index - 1 > 0
                    and before[:1].isupper()
                    and not _is_country(before)
                    and normalize(before) not in _titles() | STOPWORDS
                    and after[:1].isupper()
                    and not _is_country(after)
                ):
                    found[f"{before} {word} {after}"] += 1
    return [name for name, _ in found.most_common()]


def _parties(seed_texts: list[str], induction: Induction) -> set[str]:
    """Third countries that the seeds put in a sentence with each side (by name, city or
    actor): parties to the story, such as a neighbour that lobbies both. A country named
    only beside one side ("<outsider> accused <A> of...") is an outsider to the relation."""
    if len(induction.sides) != 2:
        return set()
    side_of_code = {country.code: side for side, country in induction.side_countries.items()}
    sided = [*induction.actors, *(replace(g, side=side) for side, g in induction.side_groups.items())]
    actors = [(a.side, alias) for a in sided if a.side in induction.sides for alias in a.aliases]
    touched: dict[str, set[str]] = defaultdict(set)
    for text in seed_texts:
        for sentence in _sentences(text):
            codes = {h.target.entity.side for h in country_hits(sentence)}
            sides = {side_of_code[c] for c in codes if c in side_of_code}
            sides |= {side for side, alias in actors if re.search(rf"\b{re.escape(alias)}\b", sentence)}
            for code in codes - set(side_of_code):
                touched[code] |= sides
    return {code for code, sides in touched.items() if sides >= set(induction.sides)}


def _seed_forms(seed_texts: list[str], side_countries: dict[str, Country]) -> dict[str, list[str]]:
    """Each side's adjectives and plurals as the seeds write them: capitalised words that
    extend the stem of one of its names by a short ending ("Peruvian", "Chileans")."""
    forms: dict[str, list[str]] = {}
    words = {w for text in seed_texts for w in _tokens(text) if w[:1].isupper() and w.isalpha()}
    for side, country in side_countries.items():
        # From the English name and demonyms only: a minor locale's short name ("Kalis")
        # would make a surname look like an adjective.
        english = (normalize(x) for x in (country.name, *country.demonyms))
        stems = {n[: max(4, len(n) - 2)] for n in english if n.isascii() and len(n) >= 4}
        known = {normalize(a) for a in (*country.names, *country.demonyms, *country.adjectives)}
        forms[side] = sorted(
            w
            for w in words
            if normalize(w) not in known and any(normalize(w).startswith(s) and len(w) <= len(s) + 6 for s in stems)
        )
    return forms


def _is_country(word: str) -> bool:
    """A country's or a city's name or demonym (a place, not a person or a body)."""
    return normalize(word) in _place_words()


@cache
def _place_words() -> frozenset[str]:
    words = set()
    for country in gazetteer().values():
        words.update(normalize(a) for a in (country.name, *country.names, *country.demonyms))
        for place in (country.capital, *country.cities):
            if place is not None:
                words.update(normalize(n) for n in place.names)
    return frozenset(words)


def _trim_name(
    run: list[str], common: frozenset[str], side_of, language: str | None, *, keep_common: bool = False
) -> str | None:
    """The name inside a capitalised run: titles, common words and country words at its ends dropped."""

    def ordinary(word: str) -> bool:
        norm = normalize(word)
        return (
            norm in _titles()
            or norm in _CONNECTORS
            or norm in STOPWORDS
            or len(norm) < 2  # an initial; two letters may be a name ("Li Wei", "Wang Yu")
            or side_of(word) is not None
            or _is_country(word)
        )

    words = list(run)
    if keep_common:  # a defined name ("Peruvian Armed Forces (FAP)") is kept whole
        return " ".join(words)
    # In a language that capitalises every noun (German), a leading frequent word is a
    # noun or a title ("Bundeskanzler Olaf Scholz"), and one word alone is no name. Elsewhere
    # a capitalised frequent word may be a first name (Mark, Grant): only titles go.
    capitalises_nouns = language in NOUN_CAPITALISING
    frequent = common_words().get(language or "", frozenset()) if capitalises_nouns else frozenset()
    titled = False
    while words and (ordinary(words[0]) or normalize(words[0]) in frequent):
        if normalize(words.pop(0)) in _titles():
            titled = True
    while words and ordinary(words[-1]):
        words.pop()
    if not words or (len(words) == 1 and capitalises_nouns and not words[0].isupper()):
        return None
    if _is_country(" ".join(words)):
        return None  # "Saudi Arabia", "United Arab Emirates": a place of several words
    rare = [w for w in words if normalize(w) not in common or (w.isupper() and not _ROMAN_NUMERAL.fullmatch(w))]
    if len(words) == 1 and (len(words[0]) < MIN_SINGLE_NAME and not words[0].isupper() or not rare):
        return None  # "Sea", "Government": ordinary words, not names
    if not rare and not (titled and len(words) >= 2):
        # "Middle East", "Foreign Ministry": a name made only of ordinary words. Two or more
        # after a title are a person's ("President Mark Grant"), however common the words.
        return None
    return " ".join(words)


def _merge_surnames(candidates: dict[str, InducedActor], votes: dict[str, Counter[str]], common: frozenset[str]):
    """ "Quispe" alone is "Luis Quispe" (the longest name ending in it, most mentioned)."""
    multi = sorted((a for a in candidates.values() if " " in a.name), key=lambda a: -a.mentions)
    merged: dict[str, InducedActor] = {a.name: a for a in multi}
    for actor in candidates.values():
        if " " in actor.name:
            continue
        # The surname, last ("Quispe") or first, as in names written surname first ("Wang" of "Wang Yu").
        owner = next((m for m in multi if actor.name in (*_surnames(m.name, actor.name), *m.aliases)), None)
        if owner is None:
            merged[actor.name] = actor
            continue
        if actor.name not in owner.aliases:
            owner.aliases.append(actor.name)
            owner.capitalised.append(actor.name)
        owner.mentions += actor.mentions
        votes[owner.name].update(votes.get(actor.name, Counter()))
    for actor in multi:
        words = actor.name.split()
        surname = words[-1]
        # A person's surname alone names them ("Grant said"), however common the word: known
        # to be a person by a title, or by a name of rare words.
        ordinary = any(normalize(w) in common for w in words) and not actor.titled
        personal = len(words) <= 3 and not ordinary and not any(w.lower() in _CONNECTORS for w in words)
        if personal and len(surname) >= 4 and surname not in actor.aliases:
            actor.aliases.append(surname)
            actor.capitalised.append(surname)
        if actor.name not in actor.capitalised:
            actor.capitalised.append(actor.name)
    for actor in merged.values():
        if " " not in actor.name and actor.name not in actor.capitalised:
            actor.capitalised.append(actor.name)
    return list(merged.values())


def _surnames(name: str, lone: str) -> tuple[str, ...]:
    """The words of ``name`` that ``lone`` may be its surname as: the last, or the first of a
    person's name of two or three words (not an acronym: "NATO" of "NATO Secretary General ...")."""
    words = name.split()
    return (words[-1], words[0]) if len(words) <= 3 and not lone.isupper() else (words[-1],)


# --- agreements ---------------------------------------------------------------------

_AGREEMENT = re.compile(
    r"\b((?:(?:19|20)\d\d\s+)?(?:[A-Za-z][\w’'-]*\s+){0,3}?"
    r"(?:agreement|accord|deal|memorandum|treaty|pact|ruling|award|convention|protocol)s?)\b",
    re.IGNORECASE,
)


def _agreements(seed_texts: list[str]) -> dict[str, list[str]]:
    """Agreements the seeds name ("a 2019 maritime delimitation agreement", "the 2016
    arbitration ruling"): the phrase up to its head noun, kept when a year or a
    non-generic cue word ("maritime", "arbitration") says which one; facet ids of those words."""
    cue_matcher = _facet_matcher(tuple(sorted(f.id for f in lexicon() if not f.generic)))
    found: dict[str, list[str]] = {}
    for text in seed_texts:
        for match in _AGREEMENT.finditer(text):
            words = match.group(1).split()
            while words and (normalize(words[0]) in STOPWORDS or normalize(words[0]) in _titles()):
                words.pop(0)
            phrase = " ".join(words)
            if len(words) < 2:
                continue
            facets = sorted(
                {h.target.facet for h in cue_matcher.find(normalize(" ".join(words[:-1]))) if h.target.facet}
            )
            has_year = words[0].isdigit()
            if facets or has_year:
                found.setdefault(phrase, sorted({*facets, "agreements"}))
    return found


@cache
def _facet_matcher(ids: tuple[str, ...]):
    """A matcher over the lexicon's facets ``ids`` (compiled once per process)."""
    from seedwatch.relevance.matcher import Matcher
    from seedwatch.relevance.profile import Facet

    facets = [Facet(id=f.id, label=f.label, cues=f.all_cues) for f in lexicon() if f.id in ids]
    return Matcher.compile_facets(facets)


# --- facets --------------------------------------------------------------------------


def _seed_facets(seed_texts: list[str]) -> dict[str, list[str]]:
    """Facet id → the cue words of that facet the seeds use, most used facets first."""
    matcher = _facet_matcher(tuple(f.id for f in lexicon()))
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for text in seed_texts:
        norm = normalize(text)
        for hit in matcher.find(norm):
            if hit.target.facet:
                found[hit.target.facet][norm[hit.start : hit.end]] += 1
    ranked = sorted(found.items(), key=lambda kv: -sum(kv[1].values()))
    return {facet: [w for w, _ in words.most_common()] for facet, words in ranked}
