"""Bytes to text: BOM, then the page's declared charset, then UTF-8, then detection."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# Browsers look for <meta charset> within the first 1024 bytes; allow a little more.
CHARSET_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_html(data: bytes) -> str:
    """Decode an HTML document; never raises (undecodable bytes become U+FFFD)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if match := _META_CHARSET.search(data[:CHARSET_SNIFF_BYTES]):
        declared = _codec(match.group(1).decode("ascii", errors="ignore"))
        if declared is not None:
            try:
                return data.decode(declared)
            except UnicodeDecodeError:
                pass  # a wrong declaration is common; fall through to detection
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000]).best()
    encoding = _codec(best.encoding) if best is not None else None
    return data.decode(encoding or "utf-8", errors="replace")


def _codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    if codec.startswith("utf-16"):
        return "utf-8"  # a UTF-16 page has a BOM; a meta tag saying so is wrong (WHATWG)
    # Pages labelled Latin-1 are in practice Windows-1252 (as in the WHATWG encoding spec).
    return "cp1252" if codec in {"latin-1", "iso8859-1", "ascii"} else codec
