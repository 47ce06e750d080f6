"""Text from feeds and pages made safe to show: on a terminal, in an email, in a table.

Titles, outlets and URLs come from whoever publishes a feed. Before they reach a person
they lose what can deceive or act on the reader's screen: control characters (terminal
escape sequences such as OSC 8 links, window titles, screen clears), bidirectional
overrides (U+202E turns "gpj.exe" into "exe.jpg") and zero-width or other invisible format
characters. Every kind of line break and space becomes one space, and long text is cut
with an ellipsis so one hostile title cannot fill a digest.
"""

from __future__ import annotations

import unicodedata

__all__ = ["TITLE_MAX_CHARS", "display_text", "display_url", "visible_characters"]

TITLE_MAX_CHARS = 300
_ELLIPSIS = "…"


def _visible(char: str) -> bool:
    # Cc: C0/C1 controls (ESC, BEL, CSI…); Cf: format characters (bidi controls, zero-width
    # joiners and spaces, BOM, soft hyphen, tag characters); Co/Cs/Cn: private, surrogate, unassigned.
    return unicodedata.category(char)[0] != "C"


def visible_characters(text: str) -> str:
    """``text`` with every space and line break as one space and invisible characters removed.

    Unlike :func:`display_text`, runs of spaces are kept and nothing is cut: for pieces of a
    text whose parts are marked up separately (matched terms in an email's sentence).
    """
    return "".join(" " if char.isspace() else char for char in text if char.isspace() or _visible(char))


def display_text(text: object, *, max_chars: int | None = None) -> str:
    """``text`` on one line, with only visible characters, cut to ``max_chars`` if given."""
    raw = "" if text is None else str(text)
    spaced = "".join(" " if char.isspace() else char for char in raw)
    cleaned = " ".join("".join(char for char in spaced if char == " " or _visible(char)).split())
    if max_chars is not None and len(cleaned) > max_chars:
        return cleaned[: max(max_chars - 1, 0)].rstrip() + _ELLIPSIS
    return cleaned


def display_url(url: object) -> str:
    """The URL if it is http(s) and printable, else ``""``: no ``javascript:``, no escapes.

    Characters that a URL never carries raw (controls, spaces, invisible format characters)
    make it unfit to show, rather than being silently dropped into a different address.
    """
    text = "" if url is None else str(url).strip()
    if not text or any(char.isspace() or not _visible(char) for char in text):
        return ""
    scheme, _, rest = text.partition(":")
    return text if scheme.lower() in ("http", "https") and rest.startswith("//") else ""
