"""Trim what trafilatura keeps but a reader would not call the article.

Works on the block-level body trafilatura returns (``<p>``, ``<head>``, ``<list>``,
``<quote>``, ``<table>`` children of ``<body>``). Each rule is generic (no site
names) and was kept only if it raised F1 on the AEB evaluation; see
``docs/extraction.md`` for the figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.etree import _Element
from lxml.html import HtmlElement

# Block openers that introduce a cross-link, a promotion or site furniture, not prose.
# Matched at the start of a short block, anywhere in the body.
LEAD_IN = re.compile(
    r"""^\W*(?:
        read\s+(?:more|also|next)|also\s+read|see\s+(?:more|also)|related(?:\s+\w+)?\s*:|
        more\s*:|don'?t\s+miss|also\s+on\s+\S+\.\w+|recommended(?:\s+\w+)?\s*:|
        like\s+this\s+(?:story|article)|share\s+this|
        this\s+copy\s+is\s+for\s+your\s+personal|tags?\s*:|copyright\b|©
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Phrases of newsletters, social-media prompts and author contact lines. Matched
# only in short blocks at the very end of the body, where they are furniture.
TAIL_FURNITURE = re.compile(
    r"""(?:newsletter|sign\s+up|subscribe|in\s*your\s+inbox|
        follow\s+(?:us|him|her|them|me)\b|on\s+(?:twitter|facebook|instagram)\b|
        all\s+rights\s+reserved|copyright|©|share\s+(?:it|this)|comments?\s*$|
        @\w+\.\w{2,}|reach(?:ed)?\s+(?:the\s+)?(?:reporters?|writers?|authors?|her|him|them)\b)""",
    re.IGNORECASE | re.VERBOSE,
)
# Headings of the teaser boxes a page appends to its article ("Related articles", "You
# might also like", "More from ..."). Matched only in a short block in the second half of
# the body; the block and everything after it go (on WCXB: +0.002 precision, no recall).
TAIL_SECTION = re.compile(
    r"""^\W*(?:
        related\s+(?:articles|posts|stories|reading|content|news|coverage)|
        you\s+(?:may|might)\s+also\s+(?:like|enjoy)|read\s+(?:this\s+)?next|more\s+from\b|
        recommended\s+(?:for\s+you|reading|articles|posts|stories)|more\s+(?:articles|stories|posts|news)\b|
        (?:most\s+)?popular\s+(?:posts|articles|stories)|latest\s+(?:posts|articles|news|stories)|
        trending\s+(?:now|stories|articles)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
TAIL_HEADING_WORDS = 8
SHORT_BLOCK_WORDS = 60
# A trailing block of this many words or fewer is a label ("Tags", "12 comments"), not prose.
TINY_BLOCK_WORDS = 3
# Scripts written without spaces: count each character as a word.
_UNSPACED_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
# Titles are compared on word characters only, so punctuation and case do not matter.
_NON_WORD = re.compile(r"\W+")
# Trailing labels after a cross-link, e.g. "Headline [VIDEO]|".
_TRAILING_LABEL = re.compile(r"(?:\s*\[[^\]]{1,20}\])?\W*$")
# "Headline | Site" / "Headline - Site": the separators sites add to <title>.
_TITLE_SEPARATOR = re.compile(r"\s+[|\-–—:•·»]\s+")


def normalise(text: str) -> str:
    """Lower-cased word characters, single-spaced: the key for comparing short texts."""
    return _NON_WORD.sub(" ", text).strip().lower()


def title_keys(titles: Iterable[str]) -> set[str]:
    """Normalised headline candidates, including each part of a "Headline | Site" title."""
    keys: set[str] = set()
    for title in titles:
        keys.add(normalise(title))
        keys.update(normalise(part) for part in _TITLE_SEPARATOR.split(title))
    keys.discard("")
    return keys


class AnchorKeys:
    """Normalised texts of the page's links with at least three words, read on first use."""

    def __init__(self, tree: HtmlElement) -> None:
        self._tree = tree
        self._keys: set[str] | None = None

    def __contains__(self, key: object) -> bool:
        if self._keys is None:
            self._keys = set()
            for anchor in self._tree.iter("a"):
                text = normalise(anchor.text_content())
                if text.count(" ") >= 2:
                    self._keys.add(text)
        return key in self._keys


def word_count(text: str) -> int:
    """Whitespace-separated words, counting each CJK or Thai character as a word."""
    words = len(text.split())
    return words if text.isascii() else words + len(_UNSPACED_CHAR.findall(text))


def _block_text(block: _Element) -> str:
    return "".join(block.itertext()).strip()


def _remove(block: _Element) -> None:
    """Detach ``block`` but keep its tail text, which trafilatura uses for prose."""
    parent = block.getparent()
    if parent is None:
        return
    if block.tail and block.tail.strip():
        previous = block.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + block.tail
        else:
            parent.text = (parent.text or "") + block.tail
    parent.remove(block)


def _is_link_lines(text: str, anchors: AnchorKeys) -> bool:
    """True when every non-empty line of ``text`` is the text of a link on the page."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    for line in lines:
        key = normalise(_TRAILING_LABEL.sub("", line.lstrip("-•* ")))
        if key not in anchors:
            return False
    return True


def clean_body(body: _Element, titles: set[str], anchors: AnchorKeys) -> None:
    """Remove headline echoes, cross-link blocks and trailing furniture, in place."""
    blocks = list(body)
    # The headline repeated as the first block(s) is not part of the article body.
    for block in blocks[:2]:
        if normalise(_block_text(block)) in titles:
            _remove(block)
    blocks = list(body)
    drop_next_links = False
    for block in blocks:
        text = _block_text(block)
        words = word_count(text)
        if words <= SHORT_BLOCK_WORDS and LEAD_IN.match(text):
            _remove(block)
            drop_next_links = True
            continue
        if drop_next_links and _is_link_lines(text, anchors):
            _remove(block)
            continue
        drop_next_links = False
    _drop_trailing_section(body)
    _trim_tail(body, anchors)


def _drop_trailing_section(body: _Element) -> None:
    """Drop a teaser box's heading in the body's second half, and all that follows it."""
    blocks = list(body)
    counts = [word_count(_block_text(block)) for block in blocks]
    before, total = 0, sum(counts)
    for index, (block, words) in enumerate(zip(blocks, counts, strict=True)):
        if 2 * before >= total and 0 < words <= TAIL_HEADING_WORDS and TAIL_SECTION.match(_block_text(block)):
            for trailing in blocks[index:]:
                _remove(trailing)
            return
        before += words


def _trim_tail(body: _Element, anchors: AnchorKeys) -> None:
    """Drop furniture from the end of the body, stopping at the first prose block."""
    while len(body):
        block = body[-1]
        text = _block_text(block)
        words = word_count(text)
        # Cheap tests first: the link-text index is built only if a short block needs it.
        is_furniture = words <= TINY_BLOCK_WORDS or (
            words <= SHORT_BLOCK_WORDS and (TAIL_FURNITURE.search(text) is not None or _is_link_lines(text, anchors))
        )
        if not is_furniture:
            return
        _remove(block)
