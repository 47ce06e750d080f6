"""De-duplication keys: exact content hashes, MinHash signatures and LSH band keys.

Three levels, from cheap to fuzzy (the store applies them in this order):

1. **Same article**: the canonical URL (``seedwatch.urls``) and the feed GUID. ``guid_key``
   scopes a GUID to its feed, so a publisher that changes GUIDs for the same URL is still
   caught by the URL key, and two feeds reusing "1", "2", ... do not collide.
2. **Same text**: ``content_hash`` of the normalised text (case, spacing, punctuation
   ignored), for the same page under two URLs.
3. **Same story**: a MinHash of word 3-shingles estimates Jaccard similarity, so that a
   wire copy re-run by several outlets (with their own intro, credits and edits) gets one
   ``story_id``. ``lsh_band_keys`` splits a signature into bands; articles sharing any band
   key are candidates (a lookup in a ``(band_key, article_id)`` table, sub-linear), then
   ``estimated_similarity`` >= ``NEAR_DUPLICATE_THRESHOLD`` confirms.

Signatures are 128 unsigned 32-bit values, little-endian (512 bytes), with a fixed seed, so
signatures stored years apart stay comparable. Changing ``NUM_PERM``, ``SHINGLE_WORDS`` or the
seed invalidates stored signatures and band keys.

The threshold was measured on the relevance development set; see docs/fetching.md.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from typing import Any

import numpy as np

from seedwatch.models import stable_id

__all__ = [
    "BANDS",
    "NEAR_DUPLICATE_THRESHOLD",
    "NUM_PERM",
    "content_hash",
    "estimated_similarity",
    "fingerprints",
    "guid_key",
    "lsh_band_keys",
    "minhash_signature",
    "normalise_text",
    "url_key",
]

NUM_PERM = 128
SHINGLE_WORDS = 3
_SEED = 1
# 42 bands of 3 rows (126 of the 128 values): a pair shares a band with probability
# 1-(1-J^3)^42: 0.68 at Jaccard 0.3, 0.94 at 0.4, 0.996 at 0.5, but 0.0003 at 0.02 (two
# unrelated articles), so candidate lists stay short as the table grows.
BANDS = 42
ROWS = 3
# Wire copies re-cut by outlets measured 0.16-0.33 Jaccard on the excerpts of the relevance
# dev set, with no pair of different stories above 0.08; full texts of one wire story score
# higher. 0.25 keeps a 3x margin over the closest pair of different stories. See docs/fetching.md.
NEAR_DUPLICATE_THRESHOLD: float = 0.25

_WORD = re.compile(r"\w+", re.UNICODE)


def normalise_text(text: str) -> str:
    """Text reduced to its words: NFKC, case-folded, punctuation and spacing dropped."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def content_hash(text: str) -> str:
    """SHA-1 hex of the normalised text: equal for the same text however it is formatted."""
    return _content_hash(normalise_text(text))


def fingerprints(text: str) -> tuple[str, bytes]:
    """``(content_hash(text), minhash_signature(text))``, normalising the text once."""
    normalised = normalise_text(text)
    return _content_hash(normalised), _signature(normalised.split())


def _content_hash(normalised: str) -> str:
    return hashlib.sha1(normalised.encode("utf-8")).hexdigest()


def url_key(canonical_url: str) -> str:
    """Key of an article by its canonical URL (the article id)."""
    return stable_id(canonical_url)


def guid_key(feed_id: str, guid: str) -> str:
    """Key of an entry by GUID, scoped to its feed (GUIDs are only unique within a feed)."""
    return stable_id(f"{feed_id}\x1f{guid.strip()}")


def _shingles(words: list[str]) -> list[bytes]:
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode("utf-8")] if words else []
    # The distinct shingles in order of first appearance (a repeated one changes nothing).
    shingles = dict.fromkeys(map(" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)), strict=False)))
    return [shingle.encode("utf-8") for shingle in shingles]


def minhash_signature(text: str) -> bytes:
    """A MinHash of the text's word 3-shingles, as 512 bytes (for a BLOB column)."""
    return _signature(normalise_text(text).split())


def _signature(words: list[str]) -> bytes:
    # Imported here: datasketch loads scipy (a second), and the processes that only compare
    # stored signatures (de-duplication) never need it.
    from datasketch import MinHash

    permutations, scheme = _permutations()
    sketch = MinHash(num_perm=NUM_PERM, seed=_SEED, permutations=permutations, scheme=scheme)
    shingles = _shingles(words)
    if shingles:
        sketch.update_batch(shingles)
    return np.asarray(sketch.hashvalues, dtype="<u4").tobytes()


@functools.cache
def _permutations() -> tuple[Any, str]:
    """datasketch's permutations for the seed, and its scheme: drawn once per process, not per article."""
    from datasketch import MinHash

    first = MinHash(num_perm=NUM_PERM, seed=_SEED)
    return first.permutations, first.scheme


def _values(signature: bytes) -> np.ndarray:
    if len(signature) != NUM_PERM * 4:
        raise ValueError(f"not a seedwatch MinHash signature ({len(signature)} bytes)")
    return np.frombuffer(signature, dtype="<u4")


_EMPTY = np.full(NUM_PERM, 0xFFFFFFFF, dtype="<u4").tobytes()  # datasketch's start value: no shingles


def lsh_band_keys(signature: bytes) -> list[str]:
    """LSH band keys ("band:hash"); articles sharing any key are near-duplicate candidates.

    An empty text has no keys (it would otherwise match every other empty text).
    """
    if signature == _EMPTY:
        return []
    values = _values(signature)
    keys = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        keys.append(f"{band:02d}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def estimated_similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of the two texts' shingle sets, in [0, 1]."""
    if a == _EMPTY or b == _EMPTY:
        return 0.0
    return float(np.count_nonzero(_values(a) == _values(b))) / NUM_PERM
