"""The compiled alias matcher: a token index over every alias and facet cue of a profile.

Matching works on normalised word tokens, not on a regex alternation: the first token
of each alias is a dictionary key (or, for a prefix alias such as ``libij*``, its
first three letters are), so the cost per article is a few dictionary look-ups per
token, whatever the number of aliases. Arabic proclitics (و ب ل ف ك and the article
ال) are peeled off before looking a token up, so ``وتركيا`` and ``بالليبية`` match.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seedwatch.relevance.normalize import normalize

if TYPE_CHECKING:
    from seedwatch.relevance.profile import Entity, TopicProfile

TOKEN = re.compile(r"\w+")
_TOKEN_SPLIT = re.compile(r"(\w+)")
_STEM_KEY = 3
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "ولل", "لل", "ال", "و", "ب", "ل", "ف", "ك")
_MIN_ARABIC_REST = 3


@dataclass(frozen=True, slots=True)
class Target:
    """What an alias stands for: an entity, or a cue of a facet."""

    entity: Entity | None
    facet: str | None  # set for facet cues
    capitalised: bool = False  # the alias counts only when written with a capital


@dataclass(frozen=True, slots=True)
class _Pattern:
    tokens: tuple[str, ...]
    stem: bool  # the last token is a prefix
    target: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One alias found in a normalised text: character span and what it stands for."""

    start: int
    end: int
    target: Target


def _token_matches(token: str, wanted: str, stem: bool) -> bool:
    return token.startswith(wanted) if stem else token == wanted


def _variants(token: str) -> tuple[str, ...]:
    """The token and, for Arabic, the token without its proclitics."""
    if not ("\u0600" <= token[0] <= "\u06ff"):
        return (token,)
    out = [token]
    for prefix in _ARABIC_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= _MIN_ARABIC_REST:
            out.append(token[len(prefix) :])
    return tuple(out)


class Matcher:
    """Finds entity aliases and facet cues in normalised text. Build with :meth:`compile`."""

    def __init__(self, targets: list[Target], patterns: list[_Pattern]) -> None:
        self.targets = targets
        self._exact: dict[str, list[_Pattern]] = {}
        self._stems: dict[str, list[_Pattern]] = {}
        self._single: dict[str, list[int]] = {}  # one-token aliases: token → targets
        for pattern in patterns:
            first = pattern.tokens[0]
            if pattern.stem and len(pattern.tokens) == 1:
                self._stems.setdefault(first[:_STEM_KEY], []).append(pattern)
            elif len(pattern.tokens) == 1:
                self._single.setdefault(first, []).append(pattern.target)
            else:
                self._exact.setdefault(first, []).append(pattern)
        self._exact_keys = frozenset(self._exact) | frozenset(self._single)

    @classmethod
    def compile(cls, profile: TopicProfile) -> Matcher:
        targets: list[Target] = []
        patterns: list[_Pattern] = []

        def add(alias: str, target: Target) -> None:
            stem = alias.endswith("*")
            tokens = tuple(TOKEN.findall(normalize(alias.rstrip("*"))))
            if tokens:
                patterns.append(_Pattern(tokens, stem, len(targets) - 1))

        for entity in profile.entities:
            for capitalised in (False, True):
                targets.append(Target(entity=entity, facet=None, capitalised=capitalised))
                for alias in entity.aliases:
                    if (alias in entity.capitalised) == capitalised:
                        add(alias, targets[-1])
        for facet in profile.facets:
            for cue in facet.cues:
                targets.append(Target(entity=None, facet=facet.id))
                add(cue, targets[-1])
        return cls(targets, patterns)

    def find(self, norm: str) -> list[Hit]:
        """All alias hits in ``norm`` (already normalised); the longest wins where they overlap."""
        return self.scan(norm)[0]

    def scan(self, norm: str) -> tuple[list[Hit], list[str]]:
        """Alias hits in ``norm`` and its word tokens (reused for the seed similarity)."""
        # re.split with a group gives separators and tokens alternately; their running
        # lengths give every token's offset without a match object per token.
        parts = _TOKEN_SPLIT.split(norm)
        tokens = parts[1::2]
        if not tokens:
            return [], tokens
        exact, stems = self._exact, self._stems
        # Pre-filter on the distinct tokens (set operations run in C): only tokens that can
        # start an alias, and Arabic tokens, whose proclitics must be peeled first.
        distinct = set(tokens)
        starters = distinct & self._exact_keys
        starters.update(t for t in distinct - starters if t[:_STEM_KEY] in stems or t[0] >= "\u0600")
        if not starters:
            return [], tokens
        # (start token, end token exclusive, target, -specificity): more tokens win, then the
        # longer literal, so "τουρκολιβυκ*" beats "τουρκ*" and an exact word beats a prefix.
        found: list[tuple[int, int, int, int]] = []
        single = self._single
        for index in [i for i, t in enumerate(tokens) if t in starters]:
            token = tokens[index]
            for variant in _variants(token) if token[0] >= "\u0600" else (token,):
                for target in single.get(variant, ()):
                    found.append((index, index + 1, target, -(1000 + len(variant) + 1)))
                for pattern in exact.get(variant, ()):
                    end = self._extend(tokens, index, pattern)
                    if end:
                        found.append((index, end, pattern.target, -1000 * (end - index)))
                for pattern in stems.get(variant[:_STEM_KEY], ()):
                    if variant.startswith(pattern.tokens[0]):
                        found.append((index, index + 1, pattern.target, -(1000 + len(pattern.tokens[0]))))
        if not found:
            return [], tokens
        ends = list(itertools.accumulate(map(len, parts)))  # ends[2k + 1] is the end of token k
        found.sort(key=lambda f: (f[0], f[3]))
        hits: list[Hit] = []
        taken_entity = taken_cue = -1  # entity and cue hits may share tokens, not overlap each other
        for start, end, target_index, _ in found:
            target = self.targets[target_index]
            if target.entity is not None:
                if start < taken_entity:
                    continue
                taken_entity = end
            else:
                if start < taken_cue:
                    continue
                taken_cue = end
            hits.append(Hit(ends[2 * start], ends[2 * end - 1], target))
        return hits, tokens

    @staticmethod
    def _extend(tokens: list[str], index: int, pattern: _Pattern) -> int:
        """End token index (exclusive) if ``pattern`` matches at ``index``, else 0."""
        wanted = pattern.tokens
        if index + len(wanted) > len(tokens):
            return 0
        last = len(wanted) - 1
        for offset in range(1, len(wanted)):
            token = tokens[index + offset]
            stem = pattern.stem and offset == last
            if not any(_token_matches(v, wanted[offset], stem) for v in _variants(token)):
                return 0
        if len(wanted) == 1 and pattern.stem:
            return 0  # single-token prefixes live in the stem index
        return index + len(wanted)
