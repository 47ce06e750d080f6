"""How much the tagger depends on which article the analyst chose as the seed.

A monitor is drawn from its seed alone, and analysts hand seedwatch whatever article they
have. For each labelled set, this draws a profile from the set's own seed, then from each
of up to ``--seeds`` other relevant items used as the seed instead (long ones, at least
``--min-chars``), and scores the rest of the set with each. The spread shows what a
different seed gains or loses; a rule that helps the official seed and hurts the others is
fitted to that seed.

    .venv/bin/python bench/seed_swap_eval.py                       # both visible topics
    .venv/bin/python bench/seed_swap_eval.py --set FILE.jsonl SEEDS_DIR TOPIC
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seedwatch.relevance import load_profiles  # noqa: E402
from seedwatch.relevance.evaluate import LabelledItem, evaluate, read_items  # noqa: E402

SECOND = ROOT.parent / "shared/data/relevance/topics/china_philippines"
DEFAULT_SETS = (
    (ROOT / "tests/fixtures/relevance/dev.jsonl", ROOT / "seeds", "libya_turkey"),
    (SECOND / "items.jsonl", SECOND / "seeds", "china_philippines"),
)


def figures(seeds_dir: Path, topic: str, items: list[LabelledItem]) -> dict[str, float]:
    profiles = load_profiles(ROOT / "config/topics", seeds_dir, seeds_only=True, orphans_ok=True)
    result = evaluate(profiles[topic], items)
    return {
        "precision": result["relevant"]["precision"],
        "recall": result["relevant"]["recall"],
        "recall_partial": result["relevant_or_partial"]["recall"],
        "hard_negative_fpr": result["hard_negatives"]["false_positive_rate"],
    }


def swapped(path: Path, topic: str, limit: int, min_chars: int) -> list[tuple[str, dict[str, float]]]:
    """Figures with each of the first ``limit`` long relevant items (by id) as the only seed."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = read_items(path)
    chosen = sorted(
        (r for r in rows if r.get("grade") == 2 and len(r.get("text", "")) >= min_chars and not r.get("is_seed")),
        key=lambda r: str(r["id"]),
    )[:limit]
    out = []
    for row in chosen:
        with tempfile.TemporaryDirectory() as directory:
            (Path(directory) / topic).mkdir()
            (Path(directory) / topic / "seed.txt").write_text(f"{row['title']}\n\n{row['text']}", encoding="utf-8")
            rest = [item for item in items if item.id != str(row["id"])]
            out.append((f"{row['id']} ({row.get('language')})", figures(Path(directory), topic, rest)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", nargs=3, metavar=("FILE", "SEEDS_DIR", "TOPIC"), action="append")
    parser.add_argument("--seeds", type=int, default=15, help="other items tried as the seed, per set")
    parser.add_argument("--min-chars", type=int, default=1200, help="shortest text tried as a seed")
    parser.add_argument("--verbose", action="store_true", help="one row per swapped seed")
    args = parser.parse_args()
    sets = [(Path(f), Path(s), t) for f, s, t in args.set] if args.set else DEFAULT_SETS
    table = Table(
        title="Relevance from one seed: the set's own, and other relevant items as the seed",
        caption="P, R: grade-2 precision and recall; R (≥1): relevant or partial; FPR: hard negatives tagged ≥ 1",
    )
    table.add_column("topic", no_wrap=True)
    table.add_column("seed", no_wrap=True)
    for column in ("P (2)", "R (2)", "R (≥1)", "FPR"):
        table.add_column(column, justify="right")
    console = Console()
    for path, seeds_dir, topic in sets:
        if not path.is_file():
            console.print(f"[yellow]{path} not found: skipped[/]")
            continue
        own = figures(seeds_dir, topic, read_items(path))
        table.add_row(topic, "its own", *(f"{own[k]:.3f}" for k in own))
        runs = swapped(path, topic, args.seeds, args.min_chars)
        for label, run in runs if args.verbose else ():
            table.add_row("", label, *(f"{run[k]:.3f}" for k in run))
        if runs:
            means = {k: statistics.mean(run[k] for _, run in runs) for k in own}
            lows = {k: min(run[k] for _, run in runs) for k in own}
            table.add_row("", f"{len(runs)} others, mean", *(f"{means[k]:.3f}" for k in own))
            table.add_row("", f"{len(runs)} others, lowest", *(f"{lows[k]:.3f}" for k in own))
    console.print(table)


if __name__ == "__main__":
    main()
