"""Language of the extracted text, and the direction it is written in."""

from __future__ import annotations

import re

import py3langid

# Enough letters for the character n-gram model to beat the page's own declaration.
MIN_LETTERS_FOR_DETECTION = 40
# Classify a prefix only: language is settled long before the end of an article.
DETECTION_PREFIX_CHARS = 300
RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "he", "ps", "yi", "ug", "sd", "dv", "ckb", "ku"})
_LETTER = re.compile(r"[^\W\d_]")


def declared_language(value: str | None) -> str | None:
    """Normalise a declared tag such as ``en-US`` or ``tr_TR`` to its primary subtag."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if primary.isalpha() and 2 <= len(primary) <= 3 else None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of ``text``; falls back to the declared language for short texts."""
    sample = text[:DETECTION_PREFIX_CHARS]
    if len(_LETTER.findall(sample)) < MIN_LETTERS_FOR_DETECTION:
        return declared_language(declared)
    language, _score = py3langid.classify(sample)
    return str(language)


def load_model() -> None:
    """Load the language model now rather than on the first detection (0.3 s of reading it)."""
    py3langid.classify("")


def text_direction(language: str | None) -> str:
    return "rtl" if language in RTL_LANGUAGES else "ltr"
