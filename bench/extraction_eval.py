"""Extraction benchmarks (AEB and WCXB): seedwatch's extractor and plain trafilatura, side by side.

Usage::

    .venv/bin/python -m bench.extraction_eval [--sets aeb,wcxb] [--json] [--limit N] [--repeat N]
    .venv/bin/python -m bench.extraction_eval --ablate          # each step off, per set, and the truth it removes
    .venv/bin/python -m bench.extraction_eval --cross-validate  # thresholds tuned on one set, measured on the other
    .venv/bin/python -m bench.extraction_eval --losses 20       # pages where seedwatch recalls less than trafilatura

The metric re-implements the Article Extraction Benchmark's published evaluation (its
README): texts are split into ``\\w+`` tokens, 4-token shingles of truth and prediction
are counted, per page tp/fp/fn are normalised to sum to 1, precision and recall are
macro-averaged over pages (a page with nothing on a side is left out of that side's
mean) and F1 is computed from the two means. WCXB is scored the same way. Where the
ground truth has a title, author and publication date (WCXB), the run also reports how
often each extractor's metadata matches them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from itertools import product
from pathlib import Path
from typing import Any
from unittest.mock import patch

import trafilatura

from extractors import extract_article
from extractors.cleanup import normalise

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "extraction"
DATASETS = {"aeb": FIXTURES / "aeb", "wcxb": FIXTURES / "wcxb"}
DEFAULT_DATA = DATASETS["aeb"]
SHINGLE_SIZE = 4
_TOKEN = re.compile(r"\w+", re.UNICODE)
# WCXB writes missing metadata as the string "None".
_MISSING = {"", "None", "null"}
# Tables are wide; a narrow terminal would wrap every cell.
WIDTH = 140


@dataclass(frozen=True, slots=True)
class Page:
    page_id: str
    url: str
    html: bytes
    truth: str
    title: str = ""
    author: str = ""
    published: str = ""  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class Scores:
    name: str
    f1: float
    precision: float
    recall: float
    pages: int
    pages_per_second: float


@dataclass(frozen=True, slots=True)
class MetadataRates:
    """Share of pages whose ground-truth field the extractor matched (pages with that field only)."""

    name: str
    title: float
    author: float
    date: float
    pages: int


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


def _field(entry: dict[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None or str(value) in _MISSING else str(value)


def load_pages(data: Path = DEFAULT_DATA, limit: int | None = None) -> list[Page]:
    """Pages of one benchmark directory (``html/<id>.html.gz`` + ``ground-truth.json``), sorted by id.

    AEB's truth is ``articleBody``; WCXB's is ``body``, with ``title``, ``author`` and
    ``publish_date`` beside it.
    """
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    pages = [
        Page(
            page_id,
            entry.get("url", ""),
            gzip.decompress((data / "html" / f"{page_id}.html.gz").read_bytes()),
            entry["articleBody"] if "articleBody" in entry else entry.get("body", ""),
            _field(entry, "title"),
            _field(entry, "author"),
            _field(entry, "publish_date")[:10],
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
    """Scores of one extractor alone (what the regression test and the cross-validation run)."""
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


# --- metadata -------------------------------------------------------------------------


def title_matches(found: str | None, expected: str) -> bool:
    """Equal after lower-casing and keeping word characters only (punctuation, entities, spacing aside)."""
    return bool(expected) and normalise(found or "") == normalise(expected)


def author_matches(found: Sequence[str], expected: str) -> bool:
    """At least half of the expected author's name tokens appear among the found authors' tokens.

    Token overlap, so "By Jane Doe", "Jane Doe, MD" and ["Jane Doe", "John Roe"] all match
    "Jane Doe"; a site name or an empty byline does not.
    """
    wanted = set(_TOKEN.findall(expected.casefold()))
    got = set(_TOKEN.findall(" ".join(found).casefold()))
    return bool(wanted) and len(wanted & got) >= 0.5 * len(wanted)


def date_matches(found: datetime | date | str | None, expected: str) -> bool:
    """Same calendar date (seedwatch's dates are in UTC, so a late-evening local time can be a day on)."""
    if not expected or found is None:
        return False
    day = found.date() if isinstance(found, datetime) else found
    return (day.isoformat() if isinstance(day, date) else str(day)[:10]) == expected


def metadata_rates(pages: list[Page]) -> list[MetadataRates]:
    """How often seedwatch's and trafilatura's title, author and date match the ground truth."""
    found: dict[str, list[tuple[str | None, Sequence[str], Any]]] = {"seedwatch": [], "trafilatura": []}
    for page in pages:
        article = extract_article(page.html, page.url)
        found["seedwatch"].append((article.title, article.authors, article.published_at))
        document = trafilatura.extract_metadata(trafilatura.load_html(page.html), default_url=page.url or None)
        authors = (document.author or "").split("; ") if document and document.author else []
        found["trafilatura"].append(
            (document.title if document else None, authors, document.date if document else None)
        )
    return [_rates(name, pages, values) for name, values in found.items()]


def _rates(name: str, pages: list[Page], values: list[tuple[str | None, Sequence[str], Any]]) -> MetadataRates:
    def share(hits: list[bool]) -> float:
        return sum(hits) / len(hits) if hits else 0.0

    titles = [title_matches(v[0], p.title) for p, v in zip(pages, values, strict=True) if p.title]
    authors = [author_matches(v[1], p.author) for p, v in zip(pages, values, strict=True) if p.author]
    dates = [date_matches(v[2], p.published) for p, v in zip(pages, values, strict=True) if p.published]
    return MetadataRates(name, share(titles), share(authors), share(dates), len(pages))


# --- where recall goes: ablations and page-level losses ---------------------------------

# Each entry switches one step of the extractor off (or one threshold back), to show what it is worth.
ABLATIONS: dict[str, dict[str, Any]] = {
    "without headline-echo removal": {"extractors.news.title_keys": lambda titles: set()},
    "without lead-in blocks": {"extractors.cleanup.LEAD_IN": re.compile("(?!)")},
    "without trailing-furniture trim": {"extractors.cleanup._trim_tail": lambda body, anchors: None},
    "without sibling-chunk recovery": {"extractors.news.add_sibling_chunks": lambda tree, body: None},
    "without the prose-coverage check": {"extractors.news.MIN_PROSE_SHARE": 0.0},
    "without the recall-mode second opinion": {"extractors.news.RECALL_BELOW_COVERAGE": 0.0},
    "without teaser-box headings": {"extractors.cleanup.TAIL_SECTION": re.compile("(?!)")},
    "without the fast first pass": {"extractors.news._looks_like_the_article": lambda text, headline: False},
    "with trafilatura's precision mode": {"extractors.news.FAVOR_PRECISION": True},
    "dropping furniture that holds the article": {"extractors.news.MAX_FURNITURE_PARAGRAPH_SHARE": float("inf")},
    "without dropping inert elements": {"extractors.news._drop_inert_elements": lambda tree: None},
}


@contextmanager
def patched(replacements: dict[str, Any]) -> Iterator[None]:
    with ExitStack() as stack:
        for target, value in replacements.items():
            stack.enter_context(patch(target, value))
        yield


@dataclass(frozen=True, slots=True)
class Ablation:
    scores: Scores
    truth_removed: float  # share of ground-truth shingles the step removes (macro-averaged)
    noise_removed: float  # share of the output's non-truth shingles the step removes


def ablate(data: Path = DEFAULT_DATA, limit: int | None = None) -> list[Ablation]:
    """Seedwatch's scores with each step switched off in turn, and what the step removes.

    ``truth_removed`` is the recall a step costs: ground-truth shingles present in the
    output without the step and missing with it. A negative value means the step adds truth.
    """
    pages = load_pages(data, limit)
    full = [seedwatch_text(page) for page in pages]
    results = [Ablation(replace(_scores(pages, full), name="full pipeline"), 0.0, 0.0)]
    for label, replacements in ABLATIONS.items():
        with patched(replacements):
            texts = [seedwatch_text(page) for page in pages]
        truth, noise = _removed(pages, with_step=full, without_step=texts)
        results.append(Ablation(replace(_scores(pages, texts), name=label), truth, noise))
    return results


def _scores(pages: list[Page], texts: list[str]) -> Scores:
    f1, precision, recall = aggregate([page_counts(p.truth, t) for p, t in zip(pages, texts, strict=True)])
    return Scores("seedwatch", f1, precision, recall, len(pages), 0.0)


def _removed(pages: list[Page], with_step: list[str], without_step: list[str]) -> tuple[float, float]:
    truth_shares, noise_shares = [], []
    for page, kept, unkept in zip(pages, with_step, without_step, strict=True):
        expected = shingles(page.truth)
        on, off = shingles(kept), shingles(unkept)
        truth_total = sum(expected.values()) or 1
        net_truth = sum((off & expected).values()) - sum((on & expected).values())
        truth_shares.append(net_truth / truth_total)
        noise_off = off - expected
        noise_shares.append(sum((noise_off - (on - expected)).values()) / (sum(noise_off.values()) or 1))
    return sum(truth_shares) / len(truth_shares), sum(noise_shares) / len(noise_shares)


def recall_losses(pages: list[Page], threshold: float = 0.05) -> list[tuple[str, str, float, float, int, int]]:
    """Pages where seedwatch's recall is below trafilatura's by more than ``threshold``, worst first.

    Rows: (id, url, seedwatch recall, trafilatura recall, seedwatch words, trafilatura words).
    """
    rows = []
    for page in pages:
        ours, theirs = seedwatch_text(page), trafilatura_text(page)
        recall_ours, recall_theirs = _recall(page.truth, ours), _recall(page.truth, theirs)
        if recall_theirs - recall_ours > threshold:
            rows.append((page.page_id, page.url, recall_ours, recall_theirs, len(ours.split()), len(theirs.split())))
    return sorted(rows, key=lambda row: row[2] - row[3])


def _recall(truth: str, prediction: str) -> float:
    tp, _, fn = page_counts(truth, prediction)
    return tp / (tp + fn) if tp + fn else 1.0


# --- cross-validation of the thresholds ---------------------------------------------------

# The extractor's routing thresholds; each combination of a grid is scored on both sets,
# the other thresholds staying as shipped. Two grids, not their product: it would take an hour.
GRIDS: tuple[dict[str, tuple[Any, ...]], ...] = (
    {
        "extractors.news.FAVOR_PRECISION": (True, False),
        "extractors.news.MIN_PROSE_SHARE": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    },
    {
        "extractors.news.RECALL_BELOW_COVERAGE": (0.0, 0.5, 0.6, 0.7, 0.8),
        "extractors.news.MIN_RECALL_GAIN": (1.0, 1.1, 1.2, 1.5),
    },
)


@dataclass(frozen=True, slots=True)
class GridPoint:
    settings: dict[str, Any]
    scores: dict[str, Scores]  # per set


def grid_scores(sets: dict[str, list[Page]]) -> list[GridPoint]:
    points = []
    for grid in GRIDS:
        for values in product(*grid.values()):
            settings = dict(zip(grid, values, strict=True))
            with patched(settings):
                points.append(GridPoint(settings, {name: score(pages) for name, pages in sets.items()}))
    return points


def best_on(points: list[GridPoint], set_name: str) -> GridPoint:
    """The grid point with the best F1 on ``set_name`` (what tuning on that set alone would pick)."""
    return max(points, key=lambda point: point.scores[set_name].f1)


# --- output ---------------------------------------------------------------------------------


def _short(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key.rsplit('.', 1)[-1]}={value}" for key, value in settings.items())


def _print_scores(results: dict[str, list[Scores]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Extraction benchmarks (shingle metric)")
    for column in ("set", "pages", "extractor", "F1", "precision", "recall", "pages/s", "speed"):
        table.add_column(column, justify="left" if column in {"set", "extractor"} else "right")
    for set_name, scores in results.items():
        base = {s.name: s for s in scores}.get("trafilatura")
        for s in scores:
            ratio = f"{s.pages_per_second / base.pages_per_second:.0%}" if base and base.pages_per_second else ""
            table.add_row(
                set_name, str(s.pages), s.name, f"{s.f1:.4f}", f"{s.precision:.4f}", f"{s.recall:.4f}",
                f"{s.pages_per_second:.1f}", ratio,
            )  # fmt: skip
    Console(width=WIDTH).print(table)


def _print_metadata(rates: dict[str, list[MetadataRates]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="Metadata matching the ground truth (title: normalised equality; author: token overlap; date: same day)"
    )
    for column in ("set", "extractor", "title", "author", "date"):
        table.add_column(column, justify="left" if column in {"set", "extractor"} else "right")
    for set_name, rows in rates.items():
        for r in rows:
            table.add_row(set_name, r.name, f"{r.title:.1%}", f"{r.author:.1%}", f"{r.date:.1%}")
    Console(width=WIDTH).print(table)


def _print_ablations(results: dict[str, list[Ablation]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title="Each step switched off, and what the step removes (truth: recall it costs; noise: share of non-truth)"
    )
    for column in ("set", "configuration", "F1", "precision", "recall", "truth removed", "noise removed"):
        table.add_column(column, justify="left" if column in {"set", "configuration"} else "right")
    for set_name, rows in results.items():
        for row in rows:
            s = row.scores
            table.add_row(
                set_name, s.name, f"{s.f1:.4f}", f"{s.precision:.4f}", f"{s.recall:.4f}",
                f"{row.truth_removed:+.4f}", f"{row.noise_removed:.4f}",
            )  # fmt: skip
    Console(width=WIDTH).print(table)


def _print_cross_validation(points: list[GridPoint], baseline: dict[str, Scores]) -> None:
    from rich.console import Console
    from rich.table import Table

    names = list(baseline)
    table = Table(title="Threshold grid (F1 / precision / recall per set)")
    table.add_column("settings")
    for name in names:
        table.add_column(name, justify="right")
    for point in points:
        table.add_row(_short(point.settings), *(_triple(point.scores[n]) for n in names))
    table.add_row("plain trafilatura", *(_triple(baseline[n]) for n in names))
    console = Console(width=WIDTH)
    console.print(table)
    for tune_on in names:
        for measure_on in names:
            if tune_on == measure_on:
                continue
            chosen = best_on(points, tune_on)
            console.print(
                f"tuned on {tune_on} ({_short(chosen.settings)}): {tune_on} {_triple(chosen.scores[tune_on])}; "
                f"measured on {measure_on} {_triple(chosen.scores[measure_on])} "
                f"(trafilatura {_triple(baseline[measure_on])})"
            )


def _triple(s: Scores) -> str:
    return f"{s.f1:.4f} / {s.precision:.4f} / {s.recall:.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(DATASETS), help="comma-separated: " + ", ".join(DATASETS))
    parser.add_argument("--data", type=Path, default=None, help="one benchmark directory instead of --sets")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages of each set")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds; each page keeps its fastest")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--ablate", action="store_true", help="score seedwatch with each step switched off")
    mode.add_argument("--cross-validate", action="store_true", help="tune thresholds on one set, measure on the other")
    mode.add_argument(
        "--losses", type=int, metavar="N", help="list the N pages where seedwatch recalls least vs trafilatura"
    )
    args = parser.parse_args(argv)
    sets = {args.data.name: args.data} if args.data else {name: DATASETS[name] for name in args.sets.split(",")}
    if args.ablate:
        ablations = {name: ablate(path, args.limit) for name, path in sets.items()}
        _emit(args.json, {name: [asdict(row) for row in rows] for name, rows in ablations.items()})
        if not args.json:
            _print_ablations(ablations)
    elif args.cross_validate:
        pages = {name: load_pages(path, args.limit) for name, path in sets.items()}
        baseline = {name: score(set_pages, "trafilatura") for name, set_pages in pages.items()}
        points = grid_scores(pages)
        _emit(
            args.json, [{"settings": p.settings, "scores": {k: asdict(v) for k, v in p.scores.items()}} for p in points]
        )
        if not args.json:
            _print_cross_validation(points, baseline)
    elif args.losses:
        losses = {name: recall_losses(load_pages(path, args.limit))[: args.losses] for name, path in sets.items()}
        _emit(args.json, losses)
        if not args.json:
            for name, rows in losses.items():
                for page_id, url, ours, theirs, our_words, their_words in rows:
                    print(
                        f"{name}\t{page_id}\trecall {ours:.3f} vs {theirs:.3f}\twords {our_words} vs {their_words}\t{url}"
                    )
    else:
        results = {name: run(path, args.limit, args.repeat) for name, path in sets.items()}
        pages = {name: load_pages(path, args.limit) for name, path in sets.items()}
        rates = {
            name: metadata_rates(set_pages) for name, set_pages in pages.items() if any(p.title for p in set_pages)
        }
        _emit(args.json, {
            "scores": {name: [asdict(s) for s in scores] for name, scores in results.items()},
            "metadata": {name: [asdict(r) for r in rows] for name, rows in rates.items()},
        })  # fmt: skip
        if not args.json:
            _print_scores(results)
            if rates:
                _print_metadata(rates)
    return 0


def _emit(as_json: bool, output: Any) -> None:
    if as_json:
        print(json.dumps(output, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
