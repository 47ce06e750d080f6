"""The generic resources every profile draws on: the world's countries and the relations lexicon.

Neither names a topic: ``resources/gazetteer.json`` holds every country (CLDR names in
every locale, demonyms, capitals and largest cities in every script GeoNames records;
see ``gazetteer_build.py``), and ``resources/relations_lexicon.yaml`` the words news
uses for what passes between two countries (visits, troops, trade, sanctions...), in
the languages of the feed list and more. Both are read once per process.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from seedwatch.relevance.normalize import normalize

RESOURCES = Path(__file__).with_name("resources")
GAZETTEER_FILE = RESOURCES / "gazetteer.json"
LEXICON_FILE = RESOURCES / "relations_lexicon.yaml"
COMMON_WORDS_FILE = RESOURCES / "common_words.json"


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Country:
    """One country (or a union such as the EU) with its names in every language we have."""

    code: str
    name: str  # English short name
    names: tuple[str, ...]  # CLDR names in every locale, alternative spellings
    demonyms: tuple[str, ...]  # English demonyms (Peruvian, Peruvians)
    adjectives: tuple[str, ...]  # its language's name (japonais, japoński), Cyrillic/Greek stems, the Arabic nisba (-ي)
    forms: tuple[str, ...]  # name stem + adjective and plural endings (peruan, peruvian...)
    capital: Place | None
    cities: tuple[Place, ...]  # the largest cities, capital excluded

    @property
    def slug(self) -> str:
        return slug(self.name)


@dataclass(frozen=True, slots=True)
class LexiconFacet:
    id: str
    label: str
    generic: bool
    cues: dict[str, tuple[str, ...]]  # language → cue words

    @property
    def all_cues(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c for cues in self.cues.values() for c in cues))


def slug(name: str) -> str:
    """A side id from a name: "United States" → united_states."""
    return re.sub(r"[^a-z0-9]+", "_", normalize(name)).strip("_")


@cache
def gazetteer() -> dict[str, Country]:
    """Every country of the gazetteer by ISO code."""
    data = json.loads(GAZETTEER_FILE.read_text(encoding="utf-8"))["countries"]
    countries = {}
    for code, record in data.items():
        cities = [Place(c["name"], tuple(c["names"])) for c in record["cities"]]
        capital = next((c for c in cities if c.name == record["capital"]), None)
        countries[code] = Country(
            code=code,
            name=record["name"],
            names=tuple(record["names"]),
            demonyms=tuple(record["demonyms"]),
            adjectives=tuple(record["adjectives"]),
            forms=tuple(record["forms"]),
            capital=capital,
            cities=tuple(c for c in cities if c is not capital),
        )
    return countries


@cache
def common_words() -> dict[str, frozenset[str]]:
    """Language → its most frequent words, normalised (see ``gazetteer_build``)."""
    data = json.loads(COMMON_WORDS_FILE.read_text(encoding="utf-8"))["words"]
    return {lang: frozenset(words) for lang, words in data.items()}


# How the gazetteer's dictionary forms inflect in the lexicon's languages (suffix → the
# endings that replace it), for the forms CLDR does not list: French feminine and plural
# (chilien → chilienne), Polish cases (peruwiański → peruwiańskiego), Russian, Ukrainian
# and Bulgarian adjective endings, Italian and Portuguese plural and feminine
# (giapponese → giapponesi, japonês → japonesa). Longest suffix first; morphology, no names.
_INFLECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ький", ("ька", "ьке", "ькі", "ького", "ькій", "ьких", "ьким", "ькому", "ькою")),
    ("ський", ("ська", "ське", "ські", "ського", "ській", "ських", "ським", "ському", "ською")),
    ("ский", ("ская", "ское", "ские", "ского", "ской", "скую", "ских", "ским", "скими", "скому")),
    ("цкий", ("цкая", "цкое", "цкие", "цкого", "цкой", "цкую", "цких", "цким", "цкими", "цкому")),
    ("ий", ("ая", "ое", "ие", "ого", "ой", "ую", "их", "им", "ими", "ому")),
    ("ый", ("ая", "ое", "ые", "ого", "ой", "ую", "ых", "ым", "ыми", "ому")),
    ("ски", ("ска", "ско", "ските", "ския", "ският")),
    ("ski", ("ska", "skie", "skiego", "skiej", "skim", "skimi", "skich", "scy")),
    ("cki", ("cka", "ckie", "ckiego", "ckiej", "ckim", "ckimi", "ckich", "ccy")),
    ("ien", ("ienne", "iennes", "iens")),
    ("ain", ("aine", "aines", "ains")),
    ("ais", ("aise", "aises")),
    ("ois", ("oise", "oises")),
    ("ese", ("esi",)),
    ("es", ("esa", "esas", "eses")),
    ("en", ("enne", "ennes", "ens")),
    ("in", ("ine", "ines", "ins")),
    ("c", ("que", "ques")),
)
# Turkish names a person or thing of a country with -li/-lu after its name (Şilili, Perulu;
# folded to -li/-lu), and a -ler/-lar plural drops before it (Maldivler → Maldivli).
_TURKISH_ORIGIN = ("li", "liler", "lilar", "lu", "lular")


def inflections(forms: tuple[str, ...], names: tuple[str, ...]) -> tuple[str, ...]:
    """Inflected forms of a country's adjectives (``forms``) and of its one-word Latin
    ``names`` (the Turkish -li), none of them a common English word. (A form frequent in its
    own language is frequent because it is the country's: "giapponesi", "японская".)"""
    out: list[str] = []
    for form in (normalize(f.rstrip("*")) for f in forms):
        suffix, endings = next(((s, e) for s, e in _normalised_inflections() if form.endswith(s)), ("", ()))
        out += [form[: len(form) - len(suffix)] + ending for ending in endings]
    for name in (normalize(n) for n in names):
        if name.isascii() and name.isalpha() and len(name) >= 3:
            stem = name[:-3] if name.endswith(("ler", "lar")) else name
            out += [stem + ending for ending in _TURKISH_ORIGIN]
    english = common_words().get("en", frozenset())
    return tuple(dict.fromkeys(form for form in out if form not in english))


@cache
def _normalised_inflections() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The rules as the matcher sees text (й folded to и, diacritics dropped)."""
    return tuple((normalize(suffix), tuple(normalize(e) for e in endings)) for suffix, endings in _INFLECTIONS)


@cache
def ordinary_words() -> frozenset[str]:
    """The frequent words of every language at once: a token among them is nobody's name."""
    return frozenset().union(*common_words().values())


def seed_language(texts: list[str]) -> str | None:
    """The language the texts are written in: the one whose common-word list covers most
    of their lower-case words (no model needed to tell German from English)."""
    tokens = [normalize(w) for text in texts for w in re.findall(r"\b[^\W\d_]+\b", text) if w.islower()]
    lists = common_words()
    return max(lists, key=lambda lang: sum(t in lists[lang] for t in tokens), default=None)


@cache
def _lexicon_file() -> dict:
    return yaml.safe_load(LEXICON_FILE.read_text(encoding="utf-8"))


@cache
def lexicon() -> tuple[LexiconFacet, ...]:
    """The relations lexicon's facets, in file order."""
    data = _lexicon_file()
    return tuple(
        LexiconFacet(
            id=item["id"],
            label=item.get("label", item["id"]),
            generic=bool(item.get("generic", False)),
            cues={lang: tuple(str(c) for c in cues) for lang, cues in item["cues"].items()},
        )
        for item in data["facets"]
    )


def lexicon_languages() -> tuple[str, ...]:
    """The languages the lexicon declares (every facet has cues in each)."""
    return tuple(_lexicon_file()["languages"])
