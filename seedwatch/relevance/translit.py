"""Names across scripts: a consonant skeleton that Latin, Cyrillic, Greek, Arabic and
Chinese spellings of one name share.

Seeds name people in Latin letters; news names them in its own script. Each spelling is
romanised (``anyascii``, which ships its tables) and reduced to its consonants, with the
sounds that romanisations write differently made one (kh/ch/h, ph/f, v/f, p/b, q/c/k,
doubled letters): Morales, Моралес, Μοράλες and موراليس all become ``mrls``; a Chinese
transcription keeps fewer consonants, so only some names survive it. A skeleton is a weak key, so only long ones count alone (four
consonants or more), and shorter ones only as part of a full name (``hkn fdn``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from anyascii import anyascii

MIN_SINGLE = 4  # consonants a one-word skeleton needs to stand alone
MIN_NAME = 5  # consonants a several-word name needs in all
_DIGRAPHS = [("kh", "h"), ("ch", "h"), ("gh", "g"), ("dh", "d"), ("th", "t"), ("ph", "f"), ("sh", "s"), ("zh", "j"),
             ("ts", "s"), ("tz", "s")]  # fmt: skip
_SINGLE = str.maketrans({"v": "f", "p": "b", "q": "k", "c": "k", "x": "k", "z": "s", "j": "j"})
_NOT_CONSONANT = re.compile(r"[aeiouyw'`^@\-\s0-9]+")
_DOUBLED = re.compile(r"(.)\1+")


@lru_cache(maxsize=65536)
def skeleton(word: str) -> str:
    """The consonant skeleton of one word in any script ("" when nothing is left)."""
    text = anyascii(word).lower()
    text = re.sub(r"[^a-z]", "", text)
    for digraph, sound in _DIGRAPHS:
        text = text.replace(digraph, sound)
    text = text.translate(_SINGLE)
    text = _NOT_CONSONANT.sub("", text)
    text = text.removesuffix("h")  # Arabic taa marbuta romanised as a final h: Khalifa, خليفة
    return _DOUBLED.sub(r"\1", text)


def name_key(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    """The skeleton key of a name (its tokens), or None when it is too short to be safe."""
    key = tuple(skeleton(t) for t in tokens)
    if any(not part for part in key):
        return None
    if len(key) == 1:
        return key if len(key[0]) >= MIN_SINGLE else None
    return key if sum(map(len, key)) >= MIN_NAME and all(len(p) >= 2 for p in key) else None
