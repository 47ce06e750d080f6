"""Tagging throughput: articles per second on one core.

    .venv/bin/python bench/relevance_bench.py [--rounds 5] [--topic T] [--seeds-only]

Tags every item of the dev set (feed items, excerpts and full articles); only the dev set's
full articles (long: median about 8,500 characters, up to 48,000); and the 181 article
bodies of the AEB extraction benchmark (real news pages of every kind, as the pipeline
would extract them). The profile is compiled once before timing, as in the pipeline, and
that one-off cost (induction from the seeds, the gazetteer, the matcher) is printed
apart. ``--seeds-only`` times the profile drawn from the seeds alone (every country of
the gazetteer in its matcher). Rates are CPU time of this process (one core), best of
``--rounds``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seedwatch.relevance import load_profiles, tag_article  # noqa: E402
from seedwatch.relevance.evaluate import LabelledItem, read_items  # noqa: E402

DEV = ROOT / "tests/fixtures/relevance/dev.jsonl"
AEB = ROOT / "tests/fixtures/extraction/aeb/ground-truth.json"


def _rate(profile, items, rounds: int) -> float:  # noqa: ANN001 - a bench script
    best = 0.0
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            tag_article(profile, title=item.title, text=item.text, language=item.language)
        best = max(best, len(items) / (time.process_time() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--topic", help="a seeds/<topic>/ directory (default: the first)")
    parser.add_argument("--seeds-only", action="store_true", help="ignore the curated profile file")
    args = parser.parse_args()
    start = time.process_time()
    profiles = load_profiles(ROOT / "config/topics", ROOT / "seeds", seeds_only=args.seeds_only)
    profile = profiles[args.topic or sorted(profiles)[0]]
    _ = profile.matcher  # compile once, outside the timing
    print(
        f"profile {profile.name} ({'seeds only' if args.seeds_only else 'seeds + curated file'}): "
        f"loaded and compiled in {time.process_time() - start:.2f} s CPU, {len(profile.entities)} entities"
    )
    items = read_items(DEV)
    full = [i for i, raw in zip(items, DEV.read_text().splitlines(), strict=True) if '"kind": "full_article"' in raw]
    chars = statistics.median(len(i.text) for i in full)
    print(f"all dev items ({len(items)}): {_rate(profile, items, args.rounds):,.0f} articles/s")
    print(
        f"dev full articles ({len(full)}, median {chars:,.0f} chars): {_rate(profile, full, args.rounds):,.0f} articles/s"
    )
    truth = json.loads(AEB.read_text(encoding="utf-8"))
    pages = [
        LabelledItem(id=key, title=value.get("title") or "", text=value.get("articleBody") or "", grade=0)
        for key, value in truth.items()
    ]
    chars = statistics.median(len(p.text) for p in pages)
    print(
        f"AEB news articles ({len(pages)}, median {chars:,.0f} chars): {_rate(profile, pages, args.rounds):,.0f} articles/s"
    )


if __name__ == "__main__":
    main()
