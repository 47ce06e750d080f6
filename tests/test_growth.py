"""Cost that grows with the input, not with its square (issue 16.4).

Each test times the same hostile shape at two sizes, ten times apart, and bounds the
ratio. Linear code gives 10 to 13 here (memory and the cyclic collector add a little
per object as the heap grows); the code these tests were written against gave about 90
(a 150 KB feed summary repeating a name with a ``not_near`` rule: 100 s). The bound is
generous (15) because a loaded two-core machine adds noise; times are CPU times, the
best of several runs, so other processes' time does not count.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seedwatch.feeds import MAX_ELEMENT_ATTRIBUTES, parse_feed
from seedwatch.relevance import TopicProfile, load_profiles, tag_article

PROJECT = Path(__file__).resolve().parents[1]
MAX_RATIO = 15.0
RUNS = 5


def _cpu_time(work: Callable[[], object], runs: int = RUNS) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return max(best, 1e-4)


def _ratio(make: Callable[[int], Callable[[], object]], small: int, attempts: int = 3) -> float:
    """Time at 10× the size over time at the size; the lowest of a few attempts, as soon as
    one is within the bound (a busy neighbour slows the large input's cache-bound runs more)."""
    large_work, small_work = make(small * 10), make(small)
    best = float("inf")
    for _ in range(attempts):
        best = min(best, _cpu_time(large_work) / _cpu_time(small_work))
        if best <= MAX_RATIO:
            break
    return best


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.fixture(scope="module")
def profile() -> Iterator[TopicProfile]:
    profile = load_profiles(PROJECT / "config" / "topics", PROJECT / "seeds")["libya_turkey"]
    tag_article(profile, title="Libya", text="Turkey and Libya sign a deal.")
    # As in an analysis worker (analysis.init_worker): the profiles are frozen out of
    # the collector, which otherwise walks them again and again while a long text is tagged.
    gc.freeze()
    yield profile
    gc.unfreeze()


HOSTILE_TEXTS = {
    # A name with a not_near rule (Tripoli: not the Lebanese one), repeated without a full stop.
    "not_near name, one sentence": "Tripoli Libya Turkey turkey roast ",
    "one long list": "Tripoli, Libya, Turkey and Egypt ",
    "separators without items": "Libya, , , ; ; Turkey ",
    "many short sentences": "Turkey sends troops to Libya. Tripoli welcomes the deal! ",
    "many paragraphs": "Libya\n \n Turkey\n",
    "Arabic proclitics": "وتركيا بالليبية طرابلس ليبيا لبنان ",
}


@pytest.mark.parametrize("unit", HOSTILE_TEXTS.values(), ids=HOSTILE_TEXTS.keys())
def test_tagging_time_grows_linearly_with_the_text(profile: TopicProfile, unit: str) -> None:
    def make(size: int) -> Callable[[], object]:
        text = _repeat(unit, size)
        return lambda: tag_article(profile, title="Turkey and Libya", text=text, language="en")

    assert _ratio(make, 15_000) <= MAX_RATIO


def _feed_with_attributes(count: int) -> bytes:
    attributes = " ".join(f'a{i}="{i}"' for i in range(count))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item {attributes}><title>Hostile</title><link>http://news.example/a</link></item>"
        "<item><title>Healthy</title><link>http://news.example/b</link></item>"
        "</channel></rss>"
    ).encode()


def test_feed_parsing_time_grows_linearly_with_an_elements_attributes() -> None:
    def make(count: int) -> Callable[[], object]:
        body = _feed_with_attributes(count)
        return lambda: parse_feed(body, feed_id="f", base_url="http://news.example/")

    assert _ratio(make, 2_000) <= MAX_RATIO


def test_an_element_with_absurd_attributes_loses_them_and_the_feed_still_parses() -> None:
    parsed = parse_feed(_feed_with_attributes(50_000), feed_id="f", base_url="http://news.example/")
    assert parsed.error is None
    assert [(e.title, e.url) for e in parsed.entries] == [
        ("Hostile", "http://news.example/a"),
        ("Healthy", "http://news.example/b"),
    ]


def test_ordinary_attributes_are_kept() -> None:
    link = '<link rel="alternate" href="http://news.example/atom" type="text/html"/>'
    attributes = " ".join(f'x{i}="{i}"' for i in range(MAX_ELEMENT_ATTRIBUTES))  # at the limit: kept
    body = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        f"<entry {attributes}><title>Atom</title>{link}<id>urn:a</id></entry></feed>"
    ).encode()
    parsed = parse_feed(body, feed_id="f", base_url="http://news.example/")
    assert [(e.title, e.url) for e in parsed.entries] == [("Atom", "http://news.example/atom")]


def test_the_explanation_of_one_endless_sentence_stays_small(profile: TopicProfile) -> None:
    """Tags are stored with every article and indexed: one 150 KB 'sentence' naming the
    sides thousands of times is quoted in part, not copied whole with every hit."""
    import json

    from seedwatch.relevance.scorer import EXPLAINED_SENTENCE_CHARS

    text = _repeat("Turkey sends troops to Libya under the accord, ", 150_000)
    tag = tag_article(profile, title="Turkey and Libya", text=text, language="en")
    quoted = [s for s in tag.explanation["sentences"] if s["where"] == "body"]
    assert quoted and all(len(s["text"]) <= EXPLAINED_SENTENCE_CHARS for s in quoted)
    assert all(t["end"] <= EXPLAINED_SENTENCE_CHARS for s in quoted for t in s["terms"])
    assert len(json.dumps(tag.to_dict())) < 50_000
