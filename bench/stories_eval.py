"""How the event-story threshold was chosen: a sweep and a cross-validation on labelled events.

For each join threshold, the B-cubed and pairwise F1 of the pipeline's story assignment
over a labelled JSON-lines file (``seedwatch eval stories`` at one threshold). Then a
two-fold cross-validation: the events are split into two halves by group (ECB+ pairs two
events of one kind under one topic number, ``16_ecb``/``16_ecbplus``: a pair stays in one
half, so a fold never tunes on the twin of an event it is measured on); the threshold
that scores best on one half is measured on the other, both ways.

    .venv/bin/python bench/stories_eval.py ../shared/data/stories/ecbplus/dev.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seedwatch.stories.dataset import StoryItem, cluster_items, read_story_items  # noqa: E402
from seedwatch.stories.events import JOIN_THRESHOLD, EventIndex  # noqa: E402
from seedwatch.stories.metrics import ClusterScores, score_clustering  # noqa: E402

THRESHOLDS = (0.12, 0.14, 0.16, 0.18, 0.20, 0.22, 0.24, 0.26, 0.28, 0.30)


def scores(items: list[StoryItem], threshold: float) -> ClusterScores:
    predicted = [a.story_id for a in cluster_items(items, EventIndex(window=None, threshold=threshold))]
    return score_clustering(predicted, [item.cluster_id for item in items])


def group(item: StoryItem, pattern: re.Pattern[str]) -> str:
    match = pattern.match(item.cluster_id or "")
    return match.group(1) if match else item.cluster_id or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--group", default=r"^(\d+)_", help="regex whose group 1 names an event's group")
    args = parser.parse_args()
    items = list(read_story_items(args.file))
    console = Console()

    sweep = Table(title=f"join threshold sweep: {args.file.name} ({len(items)} articles)")
    for column in ("threshold", "B³ P", "B³ R", "B³ F1", "pair P", "pair R", "pair F1", "stories"):
        sweep.add_column(column, justify="right")
    for threshold in THRESHOLDS:
        s = scores(items, threshold)
        mark = " ←" if abs(threshold - JOIN_THRESHOLD) < 1e-9 else ""
        sweep.add_row(
            f"{threshold:.2f}{mark}",
            *(f"{v:.3f}" for v in (s.bcubed_precision, s.bcubed_recall, s.bcubed_f1)),
            *(f"{v:.3f}" for v in (s.pairwise_precision, s.pairwise_recall, s.pairwise_f1)),
            str(s.stories),
        )
    console.print(sweep)

    pattern = re.compile(args.group)
    groups = sorted({group(item, pattern) for item in items})
    halves = [set(groups[0::2]), set(groups[1::2])]
    folds = Table(title="two-fold cross-validation over event groups (tune on one half, measure on the other)")
    for column in ("tuned on", "best threshold", "measured on", "B³ F1", "pair F1"):
        folds.add_column(column, justify="right")
    for tune, test in ((0, 1), (1, 0)):
        tune_items = [item for item in items if group(item, pattern) in halves[tune]]
        test_items = [item for item in items if group(item, pattern) in halves[test]]
        best = max(THRESHOLDS, key=lambda t: scores(tune_items, t).bcubed_f1)
        s = scores(test_items, best)
        folds.add_row(f"half {tune + 1} ({len(tune_items)})", f"{best:.2f}", f"half {test + 1} ({len(test_items)})",
                      f"{s.bcubed_f1:.3f}", f"{s.pairwise_f1:.3f}")  # fmt: skip
    console.print(folds)


if __name__ == "__main__":
    main()
