"""Quality gate: seedwatch's extractor on AEB and WCXB, against pinned floors."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bench.extraction_eval import (
    DATASETS,
    aggregate,
    author_matches,
    date_matches,
    load_pages,
    page_counts,
    shingles,
    title_matches,
)
from extractors import extract_article
from seedwatch.models import ExtractedArticle

FLOORS = Path(__file__).parent / "floors" / "extraction.json"
_EXTRACTED: dict[str, list[tuple[str, ExtractedArticle]]] = {}


def test_shingles_are_four_word_windows_of_word_tokens() -> None:
    assert shingles("One, two; three four five!") == {"One two three four": 1, "two three four five": 1}
    assert shingles("too short") == {"too short": 1}
    assert shingles("") == {}


def test_page_counts_are_normalised_and_aggregate_macro_averages() -> None:
    truth = "a b c d e f"  # shingles: abcd bcde cdef
    half = page_counts(truth, "a b c d e x")  # abcd bcde right, bcdx wrong, cdef missed
    assert half == pytest.approx((0.5, 0.25, 0.25))
    assert page_counts(truth, truth) == (1.0, 0.0, 0.0)
    assert page_counts("", "") == (0.0, 0.0, 0.0)
    # An empty prediction counts for recall only; precision averages the other page.
    f1, precision, recall = aggregate([half, page_counts(truth, "")])
    assert precision == pytest.approx(2 / 3)
    assert recall == pytest.approx((2 / 3 + 0) / 2)
    assert f1 == pytest.approx(2 * precision * recall / (precision + recall))


def test_metadata_matching_rules() -> None:
    assert title_matches("Deal signed: what’s next?", "Deal Signed - What's next")
    assert not title_matches("Deal signed | Example News", "Deal signed")
    assert not title_matches(None, "Deal signed") and not title_matches("", "")
    assert author_matches(("By Jane Doe", "John Roe"), "Jane Doe")
    assert author_matches(("Michael Greger",), "Michael Greger, M.D. FACLM") is False  # 2 of 5 tokens
    assert not author_matches(("Example News",), "Jane Doe") and not author_matches((), "Jane Doe")
    assert date_matches(datetime(2025, 9, 4, 22, 0, tzinfo=UTC), "2025-09-04")
    assert date_matches("2025-09-04", "2025-09-04") and date_matches(date(2025, 9, 4), "2025-09-04")
    assert not date_matches(datetime(2025, 9, 5, 1, 0, tzinfo=UTC), "2025-09-04")
    assert not date_matches(None, "2025-09-04")


def test_wcxb_pages_carry_title_author_and_date() -> None:
    pages = load_pages(DATASETS["wcxb"], limit=3)
    assert all(page.truth and page.title and page.author and len(page.published) == 10 for page in pages)
    assert all(not page.title for page in load_pages(DATASETS["aeb"], limit=3))


def _extracted(set_name: str) -> list[tuple[str, ExtractedArticle]]:
    """Each page's truth and seedwatch's record, extracted once per test session."""
    if set_name not in _EXTRACTED:
        _EXTRACTED[set_name] = [(p.truth, extract_article(p.html, p.url)) for p in load_pages(DATASETS[set_name])]
    return _EXTRACTED[set_name]


@pytest.mark.parametrize("set_name", sorted(DATASETS))
def test_scores_stay_above_pinned_floors_and_trafilatura(set_name: str) -> None:
    floors = json.loads(FLOORS.read_text())
    pinned = floors["sets"][set_name]
    truth_file = DATASETS[set_name] / "ground-truth.json"
    assert hashlib.sha256(truth_file.read_bytes()).hexdigest() == pinned["ground_truth_sha256"], (
        f"{set_name} ground truth changed: re-measure and re-pin tests/floors/extraction.json"
    )
    extracted = _extracted(set_name)
    assert len(extracted) == pinned["pages"]
    f1, precision, recall = aggregate([page_counts(truth, article.text) for truth, article in extracted])
    result = {"f1": f1, "precision": precision, "recall": recall}
    for metric, measured in pinned["measured"].items():
        assert result[metric] >= measured - floors["margin"], (set_name, metric, result[metric])
    # Plain trafilatura's F1 on the same pages, measured in the same eval run as the floors.
    assert f1 > pinned["trafilatura"]["f1"], (set_name, f1, pinned["trafilatura"])


def test_wcxb_metadata_match_rates_stay_above_pinned_floors() -> None:
    floors = json.loads(FLOORS.read_text())["sets"]["wcxb"]["metadata"]
    pages = load_pages(DATASETS["wcxb"])
    extracted = [article for _, article in _extracted("wcxb")]
    rates = {
        "title": sum(title_matches(a.title, p.title) for p, a in zip(pages, extracted, strict=True)) / len(pages),
        "author": sum(author_matches(a.authors, p.author) for p, a in zip(pages, extracted, strict=True)) / len(pages),
        "date": sum(date_matches(a.published_at, p.published) for p, a in zip(pages, extracted, strict=True))
        / len(pages),
    }
    for field, measured in floors["measured"].items():
        assert rates[field] >= measured - floors["margin"], (field, rates[field])
