"""Topic profiles: what a story is about, read from seeds and an analyst-edited YAML file.

A topic is a directory ``seeds/<topic>/`` of seed documents (``*.txt``, UTF-8). An
optional ``config/topics/<topic>.yaml`` names the two *sides* of the relation, the
actors, places and agreements with their aliases in every language that matters,
and the facets an analyst filters on. Adding a topic is adding a directory of seeds
and, optionally, a profile file: no code change.

Alias syntax (see ``docs/relevance.md``): an alias is matched after
:func:`~seedwatch.relevance.normalize.normalize`, token by token; a trailing ``*``
makes the last token a prefix (``libij*`` matches ``libijski``, ``libijskiej``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from seedwatch.relevance.normalize import normalize

if TYPE_CHECKING:
    from seedwatch.relevance.induce import Induction
    from seedwatch.relevance.matcher import Matcher


SIDE_OTHER = "other"
SIDE_BOTH = "both"  # an agreement between the two sides names both at once
ENTITY_KINDS = ("actor", "place", "agreement")
_BACKGROUND_FILE = Path(__file__).with_name("background_df.json")
_TOKEN = re.compile(r"\w+")
SEED_TERM_COUNT = 60
_MIN_STEM = 3  # shorter prefixes match too much

# Function words of the languages we see; they say nothing about a story.
STOPWORDS = frozenset(  # noqa: SIM905 - a word list reads best as text
    """
    a an the and or but of to in on at by for with from as is are was were be been being it its
    this that these those he she they them his her their we our you your i not no has have had
    do does did will would can could should may might must than then there here which who whom
    whose what when where why how all any some more most other such into over after before
    under also said says say about against between during while out up down off again further
    once only own same so too very just new one two three year years last first since per mr ms
    de la le les des du et en un une est que qui pour par sur dans au aux der die das und den
    dem des ein eine mit von zu im ist nicht auf fur sich dass w z na i o do nie sie jest to ze
    po od il lo gli di da del della che el los las y con por para una ve bir bu da ile icin
    olan и в на с по не что как от
    """.split()
)


class ProfileError(ValueError):
    """A profile file or seed directory is unusable; the message names the file, key and fix."""


@dataclass(frozen=True, slots=True)
class Facet:
    """A facet an analyst filters and is alerted on, with the cue words that signal it."""

    id: str
    label: str
    cues: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # entity names one of which the article must name for the cues to count
    generic: bool = False  # cues (met, deal, support) too common to tie the sides on their own
    origin: str = "curated"  # "induced" (the relations lexicon) or "curated" (the profile file)
    in_seeds: tuple[str, ...] = ()  # the cue words of this facet the seeds use


@dataclass(frozen=True, slots=True)
class Entity:
    """A named actor, place or agreement, with its aliases in every language we match."""

    name: str  # canonical name, shown to the analyst
    kind: str  # "actor", "place" or "agreement"
    side: str  # one of the topic's sides, "both" or "other"
    aliases: tuple[str, ...]
    facets: tuple[str, ...] = ()
    weight: float = 1.0  # how much one mention counts (a capital city less than a minister)
    capitalised: tuple[str, ...] = ()  # aliases matched only when capitalised ("Chile", not "chile" the pepper)
    not_near: tuple[str, ...] = ()  # words that, in the same sentence, mean another referent
    origin: str = "curated"  # "induced" (drawn from the seeds), "curated", or "curated+induced"
    note: str = ""  # why induction put it on its side (shown by profile show and draft)
    outsider: bool = False  # a country the seeds barely name: as a headline's principal, the story is its own


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Score cut-offs for the grades; the score is in [0, 1]."""

    relevant: float = 0.6
    partial: float = 0.3


@dataclass
class TopicProfile:
    """Everything the tagger knows about one topic.

    ``sides`` are the two parties whose *relation* makes an article relevant (e.g.
    ``("chile", "peru")``); an article naming only one side is not relevant. A
    topic's sides come from its profile file or, without one, from the seeds
    (:mod:`.induce`); a topic whose seeds name no two parties is scored on seed
    similarity alone.
    """

    name: str
    title: str
    sides: tuple[str, ...]
    facets: tuple[Facet, ...]
    entities: tuple[Entity, ...]
    seed_terms: dict[str, float]  # salient seed terms (normalised) → weight, derived automatically
    seed_names: tuple[str, ...]  # capitalised names found in the seeds
    seed_files: tuple[Path, ...]
    profile_file: Path | None
    induction: Induction | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    background_idf: dict[str, float] = field(default_factory=dict, repr=False)
    default_idf: float = 1.0

    @property
    def actors(self) -> tuple[Entity, ...]:
        return tuple(e for e in self.entities if e.kind == "actor")

    @property
    def places(self) -> tuple[Entity, ...]:
        return tuple(e for e in self.entities if e.kind == "place")

    @property
    def agreements(self) -> tuple[Entity, ...]:
        return tuple(e for e in self.entities if e.kind == "agreement")

    @property
    def aliases(self) -> dict[str, tuple[str, ...]]:
        """Canonical name → aliases, for every entity."""
        return {e.name: e.aliases for e in self.entities}

    @cached_property
    def matcher(self) -> Matcher:
        """The compiled alias matcher; built once per profile, on first use."""
        from seedwatch.relevance.matcher import Matcher

        return Matcher.compile(self)

    @cached_property
    def seed_norm(self) -> float:
        """Euclidean norm of the seed-term vector (the similarity's denominator)."""
        return math.sqrt(sum(w * w for w in self.seed_terms.values()))

    def idf(self, term: str) -> float:
        return self.background_idf.get(term, self.default_idf)


# --- loading -----------------------------------------------------------------------


def load_profiles(
    topics_dir: Path, seeds_dir: Path, *, seeds_only: bool = False, orphans_ok: bool = False
) -> dict[str, TopicProfile]:
    """Load one profile per ``seeds_dir/<topic>/`` directory.

    Each profile is drawn from its seeds (:mod:`.induce`); ``topics_dir/<topic>.yaml``,
    optional, extends and overrides it (``seeds_only`` ignores it). A profile file
    without a seed directory is an error (a topic is anchored in real seed documents)
    unless ``orphans_ok``: the seeds were taken from another directory on purpose.
    """
    topics_dir, seeds_dir = Path(topics_dir), Path(seeds_dir)
    if not seeds_dir.is_dir():
        raise ProfileError(f"{seeds_dir}: seed directory not found; create seeds/<topic>/ with seed .txt files")
    idf, default_idf = _background_idf()
    profiles: dict[str, TopicProfile] = {}
    for topic_dir in sorted(p for p in seeds_dir.iterdir() if p.is_dir()):
        profile_file = topics_dir / f"{topic_dir.name}.yaml"
        use_file = profile_file.is_file() and not seeds_only
        profiles[topic_dir.name] = _load_one(
            topic_dir.name, topic_dir, profile_file if use_file else None, idf, default_idf
        )
    if topics_dir.is_dir() and not (seeds_only or orphans_ok):
        for orphan in sorted(topics_dir.glob("*.yaml")):
            if orphan.stem not in profiles:
                raise ProfileError(
                    f"{orphan}: profile has no seeds; add seed documents under {seeds_dir / orphan.stem}/ "
                    "or remove the file"
                )
    return profiles


def _load_one(
    name: str, topic_dir: Path, profile_file: Path | None, idf: dict[str, float], default_idf: float
) -> TopicProfile:
    seed_files = tuple(sorted(topic_dir.glob("*.txt")))
    if not seed_files:
        raise ProfileError(f"{topic_dir}: no seed documents; add at least one UTF-8 .txt file")
    seed_texts = [p.read_text(encoding="utf-8") for p in seed_files]
    seed_terms = derive_seed_terms(seed_texts, idf, default_idf)
    seed_names = derive_seed_names(seed_texts)
    raw = _read_yaml(profile_file) if profile_file else {}
    from seedwatch.relevance.induce import induce

    induction = induce(seed_texts, frozenset(idf))
    curated_sides = _parse_sides(raw, profile_file)
    profile = TopicProfile(
        name=name,
        title=_get_str(raw, "title", profile_file, default=induction.title or name.replace("_", " ")),
        sides=curated_sides or induction.sides,
        facets=_parse_facets(raw, profile_file),
        entities=(),
        seed_terms=seed_terms,
        seed_names=seed_names,
        seed_files=seed_files,
        profile_file=profile_file,
        induction=induction,
        thresholds=_parse_thresholds(raw, profile_file),
        background_idf=idf,
        default_idf=default_idf,
    )
    from seedwatch.relevance.merge import merge_induced

    curated_entities = _parse_entities(raw, profile_file, profile.sides, {f.id for f in profile.facets})
    profile.entities, profile.facets = merge_induced(induction, profile.sides, curated_entities, profile.facets)
    entity_names = {e.name for e in profile.entities}
    for index, facet in enumerate(profile.facets):
        if set(facet.requires) - entity_names:
            raise ProfileError(
                f"{profile_file}: facets[{index}].requires: unknown entity name(s) "
                f"{sorted(set(facet.requires) - entity_names)}; use the 'name' of an actor, place or agreement"
            )
    unknown = set(raw) - {"title", "sides", "facets", "thresholds", "actors", "places", "agreements"}
    if unknown:
        raise ProfileError(
            f"{profile_file}: unknown key(s) {sorted(unknown)}; allowed: title, sides, facets, thresholds, "
            "actors, places, agreements"
        )
    return profile


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: top level must be a mapping (title:, sides:, facets:, actors:, ...)")
    return data


def _get_str(raw: dict[str, Any], key: str, path: Path | None, *, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise ProfileError(f"{path}: key '{key}' must be a string, got {type(value).__name__}")
    return value


def _parse_sides(raw: dict[str, Any], path: Path | None) -> tuple[str, ...]:
    sides = raw.get("sides", [])
    if not isinstance(sides, list) or not all(isinstance(s, str) for s in sides) or len(sides) not in (0, 2):
        raise ProfileError(f"{path}: key 'sides' must list exactly two side names, e.g. sides: [chile, peru]")
    if set(sides) & {SIDE_OTHER, SIDE_BOTH}:
        raise ProfileError(f"{path}: key 'sides': '{SIDE_OTHER}' and '{SIDE_BOTH}' are reserved; rename the side")
    return tuple(sides)


def _parse_thresholds(raw: dict[str, Any], path: Path | None) -> Thresholds:
    data = raw.get("thresholds", {})
    if not isinstance(data, dict) or set(data) - {"relevant", "partial"}:
        raise ProfileError(f"{path}: key 'thresholds' takes only 'relevant' and 'partial' numbers in [0, 1]")
    thresholds = Thresholds(**{k: float(v) for k, v in data.items()})
    if not 0 < thresholds.partial < thresholds.relevant <= 1:
        raise ProfileError(f"{path}: key 'thresholds': need 0 < partial < relevant <= 1")
    return thresholds


def _parse_facets(raw: dict[str, Any], path: Path | None) -> tuple[Facet, ...]:
    items = raw.get("facets", [])
    if not isinstance(items, list):
        raise ProfileError(f"{path}: key 'facets' must be a list of {{id, label, cues}} mappings")
    facets = []
    for index, item in enumerate(items):
        where = f"{path}: facets[{index}]"
        if not isinstance(item, dict) or "id" not in item or set(item) - {"id", "label", "cues", "requires", "generic"}:
            raise ProfileError(
                f"{where}: each facet needs 'id' and may have 'label', 'cues' (a list of words), 'requires', 'generic'"
            )
        cues, requires = item.get("cues", []), item.get("requires", [])
        for key, value in (("cues", cues), ("requires", requires)):
            if not isinstance(value, list) or not all(isinstance(c, str) and c.strip() for c in value):
                raise ProfileError(f"{where}.{key}: must be a list of non-empty strings")
        facets.append(
            Facet(
                id=str(item["id"]),
                label=str(item.get("label", item["id"])),
                cues=tuple(cues),
                requires=tuple(requires),
                generic=bool(item.get("generic", False)),
            )
        )
    return tuple(facets)


def _parse_entities(
    raw: dict[str, Any], path: Path | None, sides: tuple[str, ...], facet_ids: set[str]
) -> tuple[Entity, ...]:
    allowed_sides = {*sides, SIDE_OTHER, SIDE_BOTH}
    entities: list[Entity] = []
    for key, kind in (("actors", "actor"), ("places", "place"), ("agreements", "agreement")):
        items = raw.get(key, [])
        if not isinstance(items, list):
            raise ProfileError(f"{path}: key '{key}' must be a list of {{name, side, aliases}} mappings")
        for index, item in enumerate(items):
            where = f"{path}: {key}[{index}]"
            allowed = {"name", "side", "aliases", "facets", "weight", "capitalised", "not_near"}
            if not isinstance(item, dict) or "name" not in item:
                raise ProfileError(f"{where}: needs at least 'name' (and usually 'side' and 'aliases')")
            if set(item) - allowed:
                raise ProfileError(f"{where} ({item['name']}): unknown key(s) {sorted(set(item) - allowed)}")
            side = item.get("side", SIDE_OTHER)
            if side not in allowed_sides:
                raise ProfileError(f"{where}.side: '{side}' is not one of {sorted(allowed_sides)}")
            aliases = item.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
                raise ProfileError(f"{where}.aliases: must be a list of non-empty strings")
            for alias in aliases:
                if alias.endswith("*") and len(normalize(alias.rstrip("*")).split()[-1]) < _MIN_STEM:
                    raise ProfileError(f"{where}.aliases: prefix '{alias}' is too short; use {_MIN_STEM}+ letters")
            facets = tuple(item.get("facets", []))
            if set(facets) - facet_ids:
                raise ProfileError(f"{where}.facets: unknown facet(s) {sorted(set(facets) - facet_ids)}")
            entities.append(
                Entity(
                    name=str(item["name"]),
                    kind=kind,
                    side=side,
                    aliases=tuple(dict.fromkeys([str(item["name"]), *aliases])),
                    facets=facets,
                    weight=float(item.get("weight", 1.0)),
                    capitalised=_parse_capitalised(item.get("capitalised", []), aliases, str(item["name"]), where),
                    not_near=tuple(item.get("not_near", [])),
                )
            )
    return tuple(entities)


def _parse_capitalised(value: Any, aliases: list[str], name: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or set(value) - set(aliases):
        raise ProfileError(f"{where}.capitalised: must list some of the entity's aliases, e.g. [chile*]")
    # The canonical name is an alias too; it needs a capital when a capitalised alias covers it.
    covers_name = any(normalize(name).startswith(normalize(a.rstrip("*"))) for a in value)
    return (*value, name) if covers_name else tuple(value)


# --- seed-derived terms ------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Normalised word tokens: the unit for similarity and seed terms."""
    return _TOKEN.findall(normalize(text))


def content_tokens(text: str) -> list[str]:
    return [t for t in tokenize(text) if len(t) > 2 and not t.isdigit() and t not in STOPWORDS]


def derive_seed_terms(
    seed_texts: list[str], idf: dict[str, float], default_idf: float, *, top: int = SEED_TERM_COUNT
) -> dict[str, float]:
    """The seeds' salient terms: TF-IDF against a background of general news, top ``top``."""
    counts = Counter(t for text in seed_texts for t in content_tokens(text))
    scored = {t: (1 + math.log(n)) * idf.get(t, default_idf) for t, n in counts.items()}
    best = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return dict(best)


_NAME = re.compile(r"(?<![.!?]\s)\b([A-Z][\w’'-]+(?:\s+(?:al-|el-)?[A-Z][\w’'-]+)+)")


def derive_seed_names(seed_texts: list[str]) -> tuple[str, ...]:
    """Multi-word capitalised names in the seeds (people, bodies, ships), most frequent first."""
    counts = Counter(m.group(1) for text in seed_texts for m in _NAME.finditer(text))
    return tuple(name for name, _ in counts.most_common(30))


def _background_idf() -> tuple[dict[str, float], float]:
    """IDF from a background of general news (see ``background.py`` for its source)."""
    data = json.loads(_BACKGROUND_FILE.read_text(encoding="utf-8"))
    total = data["documents"]
    idf = {t: math.log((total + 1) / (df + 1)) + 1 for t, df in data["df"].items()}
    return idf, math.log(total + 1) + 1
