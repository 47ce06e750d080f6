"""Recover article text split into sibling chunks that trafilatura did not follow.

Some sites cut the body into several identical containers with ads or widgets
between them (``<div class="article__body">`` × N). Trafilatura keeps the best
container; the others are the same article. We find the container that holds the
extracted paragraphs and add the paragraphs of its look-alike siblings: same tag,
same non-empty class, under the same near ancestor (so the next article of an
infinite-scroll page, which sits higher up, is not pulled in).
"""

from __future__ import annotations

from collections import Counter

from lxml.etree import SubElement, _Element
from lxml.html import HtmlElement

from extractors.cleanup import LEAD_IN, normalise

# Chunks share their grandparent at most: wider and we would reach other articles.
ANCESTOR_LEVELS = 2
# A recovered paragraph must read like prose, not a caption or a button label.
MIN_PARAGRAPH_WORDS = 8
# Above this share of link text a paragraph is a teaser list, not prose.
MAX_LINK_SHARE = 0.5


def add_sibling_chunks(tree: HtmlElement, body: _Element) -> None:
    """Add to trafilatura's ``body`` the paragraphs of look-alike sibling containers, in page order."""
    # Whitespace-only normalisation is enough to recognise our own paragraphs, and cheap.
    quick_keys = {" ".join("".join(block.itertext()).split()) for block in body}
    holders: Counter[HtmlElement] = Counter()
    for paragraph in tree.iter("p"):
        parent = paragraph.getparent()
        if parent is not None and " ".join(paragraph.text_content().split()) in quick_keys:
            holders[parent] += 1
    if not holders:
        return
    main, _count = holders.most_common(1)[0]
    css_class = main.get("class")
    ancestor = main
    for _ in range(ANCESTOR_LEVELS):
        ancestor = ancestor.getparent() if ancestor is not None else None
    if not css_class or ancestor is None:
        return
    siblings = [chunk for chunk in ancestor.iter(main.tag) if chunk is main or chunk.get("class") == css_class]
    if len(siblings) == 1:
        return  # the usual page: one container, nothing to recover
    extracted = {normalise(key) for key in quick_keys}
    before: list[str] = []
    after: list[str] = []
    target = before
    for chunk in siblings:
        if chunk is main:
            target = after
            continue
        for paragraph in chunk.iter("p"):
            content = " ".join(paragraph.text_content().split())
            key = normalise(content)
            if (
                len(content.split()) >= MIN_PARAGRAPH_WORDS
                and key not in extracted
                and not LEAD_IN.match(content)
                and not _mostly_links(paragraph, content)
            ):
                target.append(content)
                extracted.add(key)
    for position, content in enumerate(before):
        paragraph = body.makeelement("p")
        paragraph.text = content
        body.insert(position, paragraph)
    for content in after:
        SubElement(body, "p").text = content


def _mostly_links(paragraph: HtmlElement, content: str) -> bool:
    """Teasers for other stories are links; article prose is not."""
    link_chars = sum(len(" ".join(anchor.text_content().split())) for anchor in paragraph.iter("a"))
    return link_chars > MAX_LINK_SHARE * len(content)
