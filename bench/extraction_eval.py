"""Article Extraction Benchmark: seedwatch's extractor and plain trafilatura, side by side.

Usage::

    .venv/bin/python -m bench.extraction_eval [--data DIR] [--json] [--limit N] [--repeat N] [--ablate]

The metric re-implements the benchmark's published evaluation: texts are split into
``\\w+`` tokens, 4-token shingles of truth and prediction are counted, per page
tp/fp/fn are normalised to sum to 1, precision and recall are macro-averaged over
pages (a page with nothing on a side is left out of that side's mean) and F1 is
computed from the two means.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import trafilatura

from extractors import extract_article

DEFAULT_DATA = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "extraction" / "aeb"
SHINGLE_SIZE = 4
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Page:
    page_id: str
    url: str
    html: bytes
    truth: str


@dataclass(frozen=True, slots=True)
class Scores:
    name: str
    f1: float
    precision: float
    recall: float
    pages: int
    pages_per_second: float


def shingles(text: str, size: int = SHINGLE_SIZE) -> Counter[str]:
    """Counts of ``size``-token shingles; a text shorter than ``size`` is one shingle."""
    tokens = _TOKEN.findall(text or "")
    return Counter(
        " ".join(tokens[i : i + size]) for i in range(max(1, len(tokens) - size + 1)) if tokens[i : i + size]
    )


def page_counts(truth: str, prediction: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of shingles for one page, normalised to sum to 1 (all 0 if both empty)."""
    expected, predicted = shingles(truth), shingles(prediction)
    tp = sum((expected & predicted).values())
    fp = sum((predicted - expected).values())
    fn = sum((expected - predicted).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def aggregate(counts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    """(F1, precision, recall) from per-page counts, macro-averaged as the benchmark does."""
    precisions = [tp / (tp + fp) for tp, fp, _ in counts if tp + fp > 0]
    recalls = [tp / (tp + fn) for tp, _, fn in counts if tp + fn > 0]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall


def load_pages(data: Path = DEFAULT_DATA, limit: int | None = None) -> list[Page]:
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [
        Page(
            page_id,
            entry.get("url", ""),
            gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes()),
            entry.get("articleBody", ""),
        )
        for page_id, entry in sorted(truth.items())
    ]
    return pages[:limit] if limit else pages


def seedwatch_text(page: Page) -> str:
    return extract_article(page.html, page.url).text


def trafilatura_text(page: Page) -> str:
    return trafilatura.extract(page.html, url=page.url) or ""


EXTRACTORS: dict[str, Callable[[Page], str]] = {"seedwatch": seedwatch_text, "trafilatura": trafilatura_text}


def score(pages: list[Page], name: str = "seedwatch") -> Scores:
    """Scores of one extractor alone (what the regression test runs)."""
    extract = EXTRACTORS[name]
    started = time.perf_counter()
    f1, precision, recall = aggregate([page_counts(page.truth, extract(page)) for page in pages])
    elapsed = time.perf_counter() - started
    return Scores(name, f1, precision, recall, len(pages), len(pages) / elapsed if elapsed else 0.0)


def run(data: Path = DEFAULT_DATA, limit: int | None = None, repeat: int = 1) -> list[Scores]:
    """Score both extractors on the same pages in the same process.

    The extractors take turns page by page, so a busy machine slows both alike, and
    with ``repeat`` > 1 each page keeps its fastest time per extractor (as ``timeit``
    does): background load only ever adds time.
    """
    pages = load_pages(data, limit)
    warm_up = "<html><body><p>" + "A warm-up page loads the language model before timing. " * 5 + "</p></body></html>"
    for extract in EXTRACTORS.values():
        extract(Page("warm-up", "", warm_up.encode(), ""))
    best: dict[str, list[float]] = {name: [float("inf")] * len(pages) for name in EXTRACTORS}
    counts: dict[str, list[tuple[float, float, float]]] = {name: [] for name in EXTRACTORS}
    for round_number in range(max(1, repeat)):
        for index, page in enumerate(pages):
            for name, extract in EXTRACTORS.items():
                started = time.perf_counter()
                prediction = extract(page)
                best[name][index] = min(best[name][index], time.perf_counter() - started)
                if round_number == 0:
                    counts[name].append(page_counts(page.truth, prediction))
    results = []
    for name in EXTRACTORS:
        f1, precision, recall = aggregate(counts[name])
        elapsed = sum(best[name])
        results.append(Scores(name, f1, precision, recall, len(pages), len(pages) / elapsed if elapsed else 0.0))
    return results


# Each entry switches one step of the extractor off, to show what it is worth.
ABLATIONS: dict[str, dict[str, Any]] = {
    "without headline-echo removal": {"extractors.news.title_keys": lambda titles: set()},
    "without lead-in blocks": {"extractors.cleanup.LEAD_IN": re.compile("(?!)")},
    "without trailing-furniture trim": {"extractors.cleanup._trim_tail": lambda body, anchors: None},
    "without sibling-chunk recovery": {"extractors.news.add_sibling_chunks": lambda tree, body: None},
    "without the default-mode retry": {"extractors.news.MIN_PRECISE_WORDS": 0},
    "without dropping inert elements": {"extractors.news._drop_inert_elements": lambda tree: None},
    "without the fast first pass": {"extractors.news._looks_like_the_article": lambda text, headline: False},
}


def ablate(data: Path = DEFAULT_DATA, limit: int | None = None) -> list[Scores]:
    """Scores of seedwatch's extractor with each step switched off in turn."""
    pages = load_pages(data, limit)
    results = [score(pages)]
    for label, replacements in ABLATIONS.items():
        with ExitStack() as stack:
            for target, value in replacements.items():
                stack.enter_context(patch(target, value))
            results.append(replace(score(pages), name=label))
    return results


def _print_table(results: list[Scores]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Article Extraction Benchmark ({results[0].pages} pages)")
    for column in ("extractor", "F1", "precision", "recall", "pages/s"):
        table.add_column(column, justify="left" if column == "extractor" else "right")
    for scores in results:
        table.add_row(
            scores.name,
            f"{scores.f1:.4f}",
            f"{scores.precision:.4f}",
            f"{scores.recall:.4f}",
            f"{scores.pages_per_second:.1f}",
        )
    Console().print(table)
    base = {s.name: s for s in results}
    if "trafilatura" not in base:
        return
    ratio = base["seedwatch"].pages_per_second / base["trafilatura"].pages_per_second
    Console().print(f"seedwatch throughput: {ratio:.0%} of plain trafilatura")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="AEB directory (html/ + ground-truth.json)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds; each page keeps its fastest")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--ablate", action="store_true", help="score seedwatch with each step switched off")
    args = parser.parse_args(argv)
    results = ablate(args.data, args.limit) if args.ablate else run(args.data, args.limit, args.repeat)
    if args.json:
        print(json.dumps([asdict(scores) for scores in results], indent=2))
    else:
        _print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
