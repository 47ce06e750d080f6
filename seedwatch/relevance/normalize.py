"""Text normalisation that makes aliases match across scripts and spellings.

One translation table, built once at import, folds case (with Turkish İ/ı handled
so that ``ISIK``, ``Işık`` and ``Isik`` meet), strips Latin diacritics
(``Görüşme`` → ``gorusme``, ``Ağaoğlu`` → ``agaoglu``, ``Chilią`` → ``chilia``),
and unifies Arabic spellings: alef forms (أ إ آ ٱ → ا), taa marbuta (ة → ه),
alef maksura (ى → ي), hamza carriers (ؤ → و, ئ → ي), and removes tatweel and the
short-vowel marks. ``str.translate`` runs in C, which keeps tagging fast.

Most characters map one-to-one, so offsets in the normalised text are offsets in
the original; :func:`normalize_with_offsets` gives an exact map when they are not.
"""

from __future__ import annotations

import re
import unicodedata

_DELETE = ""

# Characters whose folding is not "lowercase, decompose, drop marks".
_SPECIAL: dict[str, str] = {
    "I": "i",  # English I and Turkish dotless capital I both fold to i
    "İ": "i",
    "ı": "i",
    "ł": "l",
    "Ł": "l",
    "ø": "o",
    "Ø": "o",
    "đ": "d",
    "Đ": "d",
    "ß": "ss",
    "æ": "ae",
    "Æ": "ae",
    "œ": "oe",
    "Œ": "oe",
    "ё": "е",
    "Ё": "е",
    # Typographic quotes and dashes: one form each, so "Chile’s" and "Chile's" agree.
    "\u2018": "'",
    "\u2019": "'",
    "\u02bc": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u00a0": " ",
    # Arabic: alef forms, taa marbuta, alef maksura, hamza carriers, Persian letters.
    "\u0622": "\u0627",  # آ
    "\u0623": "\u0627",  # أ
    "\u0625": "\u0627",  # إ
    "\u0671": "\u0627",  # ٱ
    "\u0629": "\u0647",  # ة → ه
    "\u0649": "\u064a",  # ى → ي
    "\u0624": "\u0648",  # ؤ → و
    "\u0626": "\u064a",  # ئ → ي
    "\u06cc": "\u064a",  # Persian yeh
    "\u06a9": "\u0643",  # Persian kaf
    "\u0640": _DELETE,  # tatweel
    "\u200c": _DELETE,  # zero-width non-joiner
    "\u200d": _DELETE,
    "\u200f": _DELETE,  # right-to-left mark
    "\u200e": _DELETE,
    "\u00ad": _DELETE,  # soft hyphen
}

_ARABIC_MARKS = [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670, *range(0x06D6, 0x06EE)]

_BLOCKS = [
    range(0x0250),  # Latin, Latin-1, Latin Extended A/B
    range(0x0300, 0x0370),  # combining diacritics (decomposed input)
    range(0x0370, 0x0530),  # Greek, Cyrillic
    range(0x0600, 0x0700),  # Arabic
    range(0x1E00, 0x1F00),  # Latin Extended Additional (Vietnamese etc.)
    range(0x2000, 0x2070),  # general punctuation
]


def _fold_char(char: str) -> str:
    if char in _SPECIAL:
        return _SPECIAL[char]
    if unicodedata.combining(char):
        return _DELETE
    lowered = char.lower()
    decomposed = unicodedata.normalize("NFKD", lowered)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped or lowered


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for block in _BLOCKS:
        for code in block:
            char = chr(code)
            folded = _fold_char(char)
            if folded != char:
                table[code] = folded
    for code in _ARABIC_MARKS:
        table[code] = _DELETE
    for char, folded in _SPECIAL.items():
        table[ord(char)] = folded
    # Fold the folded forms too (ẞ lowers to ß, which folds to ss), so normalising twice
    # changes nothing and "STRAẞE" meets "Straße".
    for code, folded in table.items():
        table[code] = folded.translate(table)
    return table


_TABLE = _build_table()


# Runs of non-ASCII characters, joined across spaces so that Arabic or Cyrillic prose is
# one run per phrase rather than one per word.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+(?:[ \t]+[^\x00-\x7f]+)*")


def _fold_run(match: re.Match[str]) -> str:
    return match.group().translate(_TABLE)


def normalize(text: str) -> str:
    """Fold ``text`` for matching: case, Turkish dotted/dotless i, diacritics, Arabic forms.

    Equal to ``NFC(text).translate(table)``; ASCII is folded by ``str.lower`` (the table
    maps ASCII to its lower case), which is an order of magnitude faster than a
    dictionary translation, so only non-ASCII runs go through the table.
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFC", text)
    if len(text.encode("ascii", "ignore")) < len(text) // 2:
        return text.translate(_TABLE).lower()  # mostly Arabic, Cyrillic...: one pass is cheaper
    return _NON_ASCII_RUN.sub(_fold_run, text).lower()


_NON_UNIT = re.compile("[" + "".join(re.escape(chr(c)) for c, v in _TABLE.items() if len(v) != 1) + "]")


def keeps_offsets(text: str) -> bool:
    """True when every character of ``text`` folds to exactly one character."""
    return _NON_UNIT.search(text) is None


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Like :func:`normalize`, plus for each normalised character the index of its source.

    Offsets refer to the NFC form of ``text``. The list has one extra final entry so that
    an end offset maps too. Only the few characters that fold to zero or two characters
    (Arabic short vowels, tatweel, ß...) break the one-to-one map, so the offsets are built
    from runs between them.
    """
    text = unicodedata.normalize("NFC", text)
    offsets: list[int] = []
    previous = 0
    for match in _NON_UNIT.finditer(text):
        position = match.start()
        offsets.extend(range(previous, position))
        offsets.extend([position] * len(_TABLE[ord(text[position])]))
        previous = position + 1
    offsets.extend(range(previous, len(text) + 1))
    return text.translate(_TABLE).lower(), offsets
