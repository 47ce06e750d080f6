"""Quality gate: seedwatch's extractor on the Article Extraction Benchmark, against pinned floors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bench.extraction_eval import DEFAULT_DATA, aggregate, load_pages, page_counts, score, shingles

FLOORS = Path(__file__).parent / "floors" / "extraction.json"


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


def test_aeb_scores_stay_above_pinned_floors() -> None:
    floors = json.loads(FLOORS.read_text())
    truth_file = DEFAULT_DATA / "ground-truth.json"
    assert hashlib.sha256(truth_file.read_bytes()).hexdigest() == floors["ground_truth_sha256"], (
        "AEB ground truth changed: re-measure and re-pin tests/floors/extraction.json"
    )
    pages = load_pages()
    assert len(pages) == floors["pages"]
    result = score(pages)
    for metric, measured in floors["measured"].items():
        assert getattr(result, metric) >= measured - floors["margin"], (metric, getattr(result, metric))
