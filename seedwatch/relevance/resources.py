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
