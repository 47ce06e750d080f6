"""The compiled alias matcher: a token index over every alias and facet cue of a profile.

Matching works on normalised word tokens, not on a regex alternation: the first token
of each alias is a dictionary key (or, for a prefix alias such as ``libij*``, its
first three letters are), so the cost per article is a few dictionary look-ups per
token, whatever the number of aliases. Arabic proclitics (و ب ل ف ك and the article
ال) are peeled off before looking a token up, so ``وتشيلي`` and ``بالتشيلية`` match.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from seedwatch.relevance.normalize import normalize
from seedwatch.relevance.resources import ordinary_words
from seedwatch.relevance.translit import MIN_SINGLE, name_key, skeleton

if TYPE_CHECKING:
    from collections.abc import Iterable

    from seedwatch.relevance.profile import Entity, Facet, TopicProfile

# Scripts written without spaces (Chinese, Japanese kana) have no word boundaries to
# find: each character is a token, and an alias of several characters is a sequence.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(f"[{_UNSPACED}]|[^\\W{_UNSPACED}]+")
_TOKEN_SPLIT = re.compile(f"({TOKEN.pattern})")
_STEM_KEY = 3
# Tokens whose match plans a matcher keeps (about 6 MB); past this the cache starts afresh.
PLAN_CACHE_TOKENS = 20_000
MIN_RESPELLED_CHARS = 5  # a Latin word matched to a name by its skeleton ("Kispe") has at least this many letters
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "فال", "كال", "ولل", "لل", "ال", "و", "ب", "ل", "ف", "ك")
_MIN_ARABIC_REST = 3


@dataclass(frozen=True, slots=True)
class Target:
    """What an alias stands for: an entity, or a cue of a facet."""

    entity: Entity | None
    facet: str | None  # set for facet cues
    capitalised: bool = False  # the alias counts only when written with a capital
    upper: bool = False  # an acronym (US, UAE): counts only in capitals ("As" is not AS)


@dataclass(frozen=True, slots=True)
class _Pattern:
    tokens: tuple[str, ...]
    stem: bool  # the last token is a prefix
    target: int


# One way a token can begin matches: (the token or its peeled Arabic form, one-token
# targets, several-token patterns by second token, prefix patterns it satisfies).
_Plan = tuple[str, list[int], "dict[str, list[_Pattern]] | None", list[_Pattern]]
_NO_TARGETS: list[int] = []
_NO_PLAN: list[_Plan] = []  # shared by every cached token that begins nothing
_UNSEEN: list[_Plan] = []  # a sentinel: "not in the cache" (an empty plan is a real answer)
_NO_PATTERNS: list[_Pattern] = []


@dataclass(frozen=True, slots=True)
class Hit:
    """One alias found in a normalised text: character span and what it stands for."""

    start: int
    end: int
    target: Target


def _is_acronym(alias: str) -> bool:
    letters = alias.replace(".", "")
    return letters.isascii() and letters.isalpha() and letters.isupper() and len(letters) <= 5


def _token_matches(token: str, wanted: str, stem: bool) -> bool:
    return token.startswith(wanted) if stem else token == wanted


def _may_respell_a_name(token: str) -> bool:
    """A Latin-script word long enough to be another spelling of a name, and no common word."""
    return len(token) >= MIN_RESPELLED_CHARS and token[0] < "\u0370" and token not in ordinary_words()


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

    def __init__(
        self,
        targets: list[Target],
        patterns: list[_Pattern],
        names: list[tuple[tuple[str, ...], int]] = (),
        respellings: list[tuple[str, int]] = (),
    ) -> None:
        self.targets = targets
        # One-word names by skeleton, for other Latin spellings of them ("Kispe" for
        # "Quispe" in the Turkish press), written with a capital and not a common word.
        self._respellings: dict[str, int] = {}
        for key, target in respellings:
            self._respellings.setdefault(key, target)
        # People's and bodies' names by consonant skeleton (translit.py), for other scripts:
        # by the first word's skeleton (spaced scripts) and by the whole name's (Chinese).
        self._names: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        self._joined_names: dict[str, int] = {}
        for key, target in names:
            self._names.setdefault(key[0], []).append((key, target))
            if len("".join(key)) >= MIN_SINGLE:
                self._joined_names.setdefault("".join(key), target)
        # Several-token aliases by first token, then by second ("" when the second is a
        # prefix): "the" starts hundreds of aliases, and only the next word tells which.
        self._exact: dict[str, dict[str, list[_Pattern]]] = {}
        self._stems: dict[str, list[_Pattern]] = {}
        self._single: dict[str, list[int]] = {}  # one-token aliases: token → targets
        for pattern in patterns:
            first = pattern.tokens[0]
            if pattern.stem and len(pattern.tokens) == 1:
                self._stems.setdefault(first[:_STEM_KEY], []).append(pattern)
            elif len(pattern.tokens) == 1:
                self._single.setdefault(first, []).append(pattern.target)
            else:
                second = "" if pattern.stem and len(pattern.tokens) == 2 else pattern.tokens[1]
                self._exact.setdefault(first, {}).setdefault(second, []).append(pattern)
        self._plan_cache: dict[str, list[_Plan]] = {}

    @classmethod
    def compile(cls, profile: TopicProfile) -> Matcher:
        return cls.compile_parts(profile.entities, profile.facets)

    @classmethod
    def compile_entities(cls, entities: Iterable[Entity]) -> Matcher:
        return cls.compile_parts(tuple(entities), ())

    @classmethod
    def compile_facets(cls, facets: Iterable[Facet]) -> Matcher:
        return cls.compile_parts((), tuple(facets))

    @classmethod
    def compile_parts(cls, entities: tuple[Entity, ...], facets: tuple[Facet, ...]) -> Matcher:
        targets: list[Target] = []
        patterns: list[_Pattern] = []
        names: list[tuple[tuple[str, ...], int]] = []
        respellings: list[tuple[str, int]] = []

        def add(alias: str, target: Target) -> None:
            stem = alias.endswith("*")
            tokens = tuple(TOKEN.findall(normalize(alias.rstrip("*"))))
            if tokens:
                patterns.append(_Pattern(tokens, stem, len(targets) - 1))

        for entity in entities:
            # Three targets per entity: uncased (Arabic and Chinese have no capitals to ask
            # for), capitalised, and acronym.
            uncased, cased = len(targets), len(targets) + 1
            for capitalised, upper in ((False, False), (True, False), (True, True)):
                targets.append(Target(entity=entity, facet=None, capitalised=capitalised, upper=upper))
                for alias in entity.aliases:
                    if (alias in entity.capitalised) == capitalised and _is_acronym(alias) == upper:
                        add(alias, targets[-1])
            if entity.kind == "actor":  # people and bodies: their names in other scripts
                for alias in entity.aliases:
                    tokens = tuple(TOKEN.findall(normalize(alias.rstrip("*"))))
                    key = name_key(tokens) if tokens and alias.isascii() and not alias.endswith("*") else None
                    if key:
                        names.append((key, uncased))
                        if len(key) == 1:
                            respellings.append((key[0], cased))
        for facet in facets:
            targets.append(Target(entity=None, facet=facet.id))
            for cue in facet.cues:
                add(cue, targets[-1])
        return cls(targets, patterns, names, respellings)

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
        plans = self._plans(set(tokens))
        foreign = self._foreign_names(tokens, parts) if self._names and not norm.isascii() else []
        if not plans and not foreign:
            return [], tokens
        # (start token, end token exclusive, target, -specificity): more tokens win, then the
        # longer literal, so "τουρκολιβυκ*" beats "τουρκ*" and an exact word beats a prefix.
        found: list[tuple[int, int, int, int]] = foreign
        last = len(tokens) - 1
        for index, token in enumerate(tokens):
            plan = plans.get(token)
            if plan is None:
                continue
            for variant, singles, by_second, stem_patterns in plan:
                for target in singles:
                    found.append((index, index + 1, target, -(1000 + len(variant) + 1)))
                if by_second and index < last:
                    following = tokens[index + 1]
                    candidates = by_second.get("", _NO_PATTERNS)
                    for second in _variants(following) if following[0] >= "\u0600" else (following,):
                        if more := by_second.get(second):
                            candidates = candidates + more
                    for pattern in candidates:
                        end = self._extend(tokens, index, pattern)
                        if end:
                            found.append((index, end, pattern.target, -1000 * (end - index)))
                for pattern in stem_patterns:
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

    def _plans(self, distinct: set[str]) -> dict[str, list[_Plan]]:
        """What each of the text's distinct tokens can begin, for those that begin anything.

        Worked out once per token and kept (up to PLAN_CACHE_TOKENS tokens, then started
        afresh), not at each occurrence: "the" or "in" begin aliases in some language and
        occur hundreds of times in an article, and most words recur from article to article.
        """
        cache = self._plan_cache
        if len(cache) > PLAN_CACHE_TOKENS:
            cache.clear()
        plans: dict[str, list[_Plan]] = {}
        for token in distinct:
            plan = cache.get(token, _UNSEEN)
            if plan is _UNSEEN:
                plan = cache[token] = self._plan(token) or _NO_PLAN
            if plan:
                plans[token] = plan
        return plans

    def _plan(self, token: str) -> list[_Plan]:
        plan = []
        for variant in _variants(token) if token[0] >= "\u0600" else (token,):
            singles = self._single.get(variant, _NO_TARGETS)
            by_second = self._exact.get(variant)
            stems = self._stems.get(variant[:_STEM_KEY], ())
            stem_patterns = [p for p in stems if variant.startswith(p.tokens[0])]
            if singles or by_second or stem_patterns:
                plan.append((variant, singles, by_second, stem_patterns))
        if not plan and self._respellings and _may_respell_a_name(token):
            respelled = self._respellings.get(skeleton(token))
            if respelled is not None:
                plan.append((token, [respelled], None, _NO_PATTERNS))
        return plan

    def _foreign_names(self, tokens: list[str], parts: list[str]) -> list[tuple[int, int, int, int]]:
        """Names written in another script (Моралес, موراليس), found by consonant skeleton.

        ``parts`` are the text's separators and tokens alternately (``parts[2k + 2]`` stands
        between token k and token k + 1).
        """
        found = []
        for index, token in enumerate(tokens):
            if token[0] < "\u0370":
                continue
            if "\u3040" <= token[0] <= "\ufaff":  # Chinese, Japanese: a name is an unbroken run of characters
                for width in range(2, 7):
                    last = index + width - 1
                    if last >= len(tokens) or tokens[last][0] < "\u3040" or parts[2 * last]:
                        break  # past the text, out of the script, or across punctuation ("權利。對於")
                    target = self._joined_names.get(skeleton("".join(tokens[index : index + width])))
                    if target is not None:
                        found.append((index, index + width, target, -(500 + width)))
                continue
            for variant in _variants(token):
                for key, target in self._names.get(skeleton(variant), ()):
                    end = index + len(key)
                    if end <= len(tokens) and all(
                        skeleton(t) == k for t, k in zip(tokens[index + 1 : end], key[1:], strict=True)
                    ):
                        found.append((index, end, target, -(500 + 10 * len(key))))
        return found

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
