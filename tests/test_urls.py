"""URL canonicalisation: examples, then properties checked by hypothesis."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from seedwatch.urls import (
    canonical_from_html,
    canonicalize_url,
    is_tracking_param,
    same_site,
)


def test_tracking_parameters_fragments_and_noise_are_removed() -> None:
    url = "HTTPS://WWW.Aa.com.tr:443/en/turkiye/../africa/story/3096?utm_source=rss&b=2&a=1&fbclid=XY#comments"
    assert canonicalize_url(url) == "https://www.aa.com.tr/en/africa/story/3096?a=1&b=2"


def test_meaningful_parameters_survive() -> None:
    assert canonicalize_url("http://libyaherald.com/?p=12345&gallery=2") == (
        "http://libyaherald.com/?gallery=2&p=12345"
    )
    assert not is_tracking_param("id")
    assert is_tracking_param("utm_campaign")
    assert is_tracking_param("gclid")


def test_unparseable_input_is_returned_stripped() -> None:
    assert canonicalize_url("  http://[::1  ") == "http://[::1"
    assert canonicalize_url("mailto:someone@example.org") == "mailto:someone@example.org"
    assert canonicalize_url("") == ""


def test_rel_canonical_maps_amp_page_to_article_on_same_site() -> None:
    amp_html = (
        '<html amp><head><link rel="canonical" href="/news/libya-turkey-deal?utm_medium=amp">'
        "</head><body>AMP</body></html>"
    )
    assert canonical_from_html("https://amp.example.com/amp/news/libya-turkey-deal", amp_html) == (
        "https://amp.example.com/news/libya-turkey-deal"
    )
    other = '<link rel="canonical" href="https://www.example.com/news/1">'
    assert canonical_from_html("https://m.example.com/news/1?amp=1", other) == ("https://www.example.com/news/1")


def test_cross_site_canonical_is_ignored() -> None:
    hostile = '<link rel="canonical" href="https://www.aljazeera.com/news/1">'
    assert canonical_from_html("https://spam.example/copy#x", hostile) == "https://spam.example/copy"
    assert not same_site("https://spam.example/", "https://www.aljazeera.com/")
    assert canonical_from_html("https://a.example/x", "") == "https://a.example/x"


urls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, host, path, query, fragment: f"{scheme}://{host}{path}?{query}#{fragment}",
        st.sampled_from(["http", "https", "HTTP", "ftp"]),
        st.from_regex(r"[A-Za-z0-9.-]{1,20}(:[0-9]{1,5})?", fullmatch=True),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=30).map(lambda s: "/" + s),
        st.lists(
            st.tuples(
                st.sampled_from(["utm_source", "fbclid", "id", "p", "gclid", "q", "mc_cid"]),
                st.text(max_size=8),
            ),
            max_size=5,
        ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
        st.text(max_size=10),
    ),
)


@settings(max_examples=400, deadline=None)
@given(urls)
def test_canonicalisation_properties(url: str) -> None:
    once = canonicalize_url(url)  # never raises
    assert canonicalize_url(once) == once  # idempotent
    assert "#" not in once  # fragments gone, whatever the input
    if once != url.split("#", 1)[0].strip():  # it was canonicalised, not passed through
        parts = urlsplit(once)
        names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
        assert not any(is_tracking_param(name) for name in names)
