"""URL canonicalisation, so that one story reached by many links is stored once.

``canonicalize_url`` is purely syntactic (no network): lower-cased scheme and host, default
port dropped, dot segments resolved, fragment dropped, tracking parameters removed (the
courlan tracker list plus explicit names), remaining parameters sorted. It is idempotent and
never raises. ``canonical_from_html`` adds what only the page knows: ``<link rel=canonical>``
(which is also how AMP pages name their regular page), accepted only on the same site so
that a hostile page cannot claim someone else's URL.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import html as lxml_html

__all__ = ["canonical_from_html", "canonicalize_url", "is_tracking_param", "same_site"]

# Explicit names, after the ClearURLs / AdGuard lists (which courlan also draws on; its own
# regex is too eager for us: it drops "gallery" because of "ga").
_TRACKING_NAMES = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "__twitter_impression", "cmpid", "ocid",
        "smid", "smtyp", "spm", "ito", "at_medium", "at_campaign",
        "amp", "outputtype", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
        "ns_fee", "wt.mc_id", "mbid", "ref", "ref_src", "ref_url", "referrer", "xtor",
        "cmp", "campaign", "guccounter", "guce_referrer", "guce_referrer_sig",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "at_", "ns_")
_CLICK_ID = re.compile(r"^[a-z]{0,5}clid$")  # gclid, fbclid, dclid, ttclid, ...
# Path-safe characters: existing %XX escapes are kept, anything else unsafe is escaped.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = "/:@!$'()*,;-._~?"


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the reader (utm_*, fbclid, ...)."""
    lowered = name.lower()
    if lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES):
        return True
    return bool(_CLICK_ID.match(lowered))


def canonicalize_url(url: str) -> str:
    """The canonical form of ``url``; never raises.

    Input that is not an http(s) URL with a host is returned whitespace-stripped and without
    its fragment.
    """
    stripped = url.split("#", 1)[0].strip()
    try:
        return _canonicalize(stripped)
    except (ValueError, UnicodeError):
        return stripped


def _canonicalize(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.rstrip(".")
    host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    port = parts.port
    netloc = host if port is None or (scheme, port) in (("http", 80), ("https", 443)) else (f"{host}:{port}")
    path = _normalise_path(parts.path)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = sorted((k, v) for k, v in pairs if not is_tracking_param(k))
    query = urlencode(kept, quote_via=quote, safe=_QUERY_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    normalised = posixpath.normpath(path)
    if normalised.startswith("//"):
        normalised = "/" + normalised.lstrip("/")  # normpath keeps a leading "//"
    if path.endswith("/") and not normalised.endswith("/"):
        normalised += "/"
    return quote(normalised, safe=_PATH_SAFE)


def _site_key(host: str) -> str:
    labels = host.lower().split(".")
    # Good enough without a public-suffix list: keep 3 labels for "co.uk"-like suffixes.
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "net", "gov"}:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(url_a: str, url_b: str) -> bool:
    """Whether two URLs belong to the same registrable site (www., amp., m. subdomains alike)."""
    try:
        host_a, host_b = urlsplit(url_a).hostname, urlsplit(url_b).hostname
    except ValueError:
        return False
    return bool(host_a and host_b and _site_key(host_a) == _site_key(host_b))


def canonical_from_html(page_url: str, html: str) -> str:
    """The canonical URL of a fetched page: its same-site ``rel=canonical`` if any, else the URL.

    AMP pages carry ``<link rel=canonical>`` pointing to the regular article, so this maps
    AMP to canonical. A canonical on another site is ignored (untrusted page content).
    """
    fallback = canonicalize_url(page_url)
    if not html or not html.strip():
        return fallback
    try:
        tree = lxml_html.fromstring(html.encode("utf-8", "replace"))
    except (ValueError, lxml_html.etree.ParserError):
        return fallback
    for link in tree.iterfind(".//link[@rel]"):
        rels = link.get("rel", "").lower().split()
        href = (link.get("href") or "").strip()
        if "canonical" not in rels or not href:
            continue
        try:
            candidate = canonicalize_url(urljoin(page_url, href))
        except ValueError:  # href="http://[": not a URL at all
            continue
        if candidate.startswith(("http://", "https://")) and same_site(candidate, page_url):
            return candidate
    return fallback
