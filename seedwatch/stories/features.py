"""The terms of an article that say which real-world event it reports.

Two reports of one event share its participants, places, figures and the words of its
headline; two events of one kind (two earthquakes, two takeovers) share the vocabulary
but not the names and numbers. So an article's terms are three kinds of feature:

- ``w:`` every word of the title and the lead (the title counts double: it is the event);
  ``c:`` instead for words of everyday vocabulary (the most frequent words of 19
  languages, ``resources/common_words.json``), which :mod:`events` weighs down,
- ``e:`` capitalised words after the first of a sentence part, i.e. names of people,
  places and organisations in scripts with case, weighted higher than plain words,
- ``#:`` numbers (magnitudes, death tolls, sums, scores, years).

Only the lead counts: the first ``LEAD_WORDS`` words carry the event; later paragraphs
carry background that two different events share. Tokens are casefolded Unicode words,
so any language works (scripts without case simply have no ``e:`` terms); in Chinese
and Japanese, which have no spaces, overlapping character pairs are the words. There is no
stop-word list: the stream's own document frequencies weigh common words down.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["LEAD_WORDS", "event_terms"]

LEAD_WORDS = 200
MAX_TERM_CHARS = 100  # longer "words" are markup or URLs; the store's term column holds 120
TITLE_WEIGHT = 2.0
NAME_WEIGHT = 2.0  # a name counts this many times more than a plain word
NUMBER_WEIGHT = 1.0

_WORD = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)
_NUMBER = re.compile(r"[\d.,]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")  # kana and Han: no spaces
LEAD_CHARS = 2000  # the lead of a text without spaces (Chinese, Japanese) is bounded by characters


def _tokens(text: str) -> list[str]:
    tokens = []
    for token in _WORD.findall(unicodedata.normalize("NFKC", text)):
        if not _CJK_RUN.search(token):
            tokens.append(token)
            continue
        # Chinese and Japanese have no spaces: overlapping character pairs are the words,
        # as in CJK search engines (single characters are shared by unrelated texts).
        for part in re.split(f"({_CJK_RUN.pattern})", token):
            if _CJK_RUN.fullmatch(part):
                tokens += [part[i : i + 2] for i in range(len(part) - 1)] or [part]
            elif part:
                tokens.append(part)
    return tokens


def event_terms(title: str, text: str, *, lead_words: int = LEAD_WORDS) -> dict[str, float]:
    """Weighted term counts of the title and the lead (term -> count), for :mod:`events`."""
    from seedwatch.relevance.resources import ordinary_words  # loaded on first use, once

    lead = " ".join(text.split()[:lead_words])[:LEAD_CHARS]
    common = ordinary_words()
    counts: Counter[str] = Counter()
    for part, weight in ((title, TITLE_WEIGHT), (lead, 1.0)):
        for position, token in enumerate(_tokens(part)):
            if _NUMBER.fullmatch(token):
                counts["#:" + token.replace(",", "")[:MAX_TERM_CHARS]] += weight * NUMBER_WEIGHT
                continue
            word = token.casefold()
            if (len(word) < 2 and not _CJK_RUN.match(word)) or len(word) > MAX_TERM_CHARS:
                continue
            counts[("c:" if word in common else "w:") + word] += weight
            # The first token of a title or lead is capitalised whatever it is.
            if position and token[0].isupper():
                counts["e:" + word] += weight * NAME_WEIGHT
    return dict(counts)
