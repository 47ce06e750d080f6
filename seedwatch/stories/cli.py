"""Command bodies for ``seedwatch cluster`` and ``seedwatch eval stories``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from seedwatch.stories.dataset import DatasetError, cluster_items, read_story_items
from seedwatch.stories.events import EventIndex
from seedwatch.stories.metrics import score_clustering

__all__ = ["cluster_file", "eval_stories"]


def _index(window_days: int) -> EventIndex:
    return EventIndex(window=timedelta(days=window_days) if window_days else None)


def cluster_file(path: Path, *, window_days: int, err: Console) -> int:
    """Print ``{"id": ..., "story": ...}`` per article, in file order; the exit code."""
    try:
        items = list(read_story_items(path))
    except DatasetError as exc:
        err.print(f"[red]{exc}[/]")
        return 2
    ids = [item.id for item in items]
    for item, assignment in zip(items, cluster_items(items, _index(window_days)), strict=True):
        # A story is named by the id of its first article, as in the pipeline.
        story = ids[int(assignment.story_id.removeprefix("item-"))]
        sys.stdout.write(json.dumps({"id": item.id, "story": story}, ensure_ascii=False) + "\n")
    return 0


def eval_stories(path: Path, *, as_json: bool, window_days: int, console: Console, err: Console) -> int:
    """B-cubed and pairwise scores of the pipeline's story assignment against ``cluster_id``."""
    try:
        items = list(read_story_items(path))
    except DatasetError as exc:
        err.print(f"[red]{exc}[/]")
        return 2
    unlabelled = [item.id for item in items if item.cluster_id is None]
    if unlabelled or not items:
        err.print(f"[red]{path}: every line needs a 'cluster_id' to evaluate against (missing on {unlabelled[:3]})[/]")
        return 2
    predicted = [assignment.story_id for assignment in cluster_items(items, _index(window_days))]
    scores = score_clustering(predicted, [item.cluster_id for item in items])
    if as_json:
        console.print_json(json.dumps({"file": str(path), "window_days": window_days, **asdict(scores)}))
        return 0
    table = Table(title=f"Stories vs events: {path.name}", title_justify="left")
    for column in ("", "precision", "recall", "F1"):
        table.add_column(column, justify="right" if column else "left")
    table.add_row(
        "B-cubed", *(f"{value:.3f}" for value in (scores.bcubed_precision, scores.bcubed_recall, scores.bcubed_f1))
    )
    table.add_row(
        "pairwise",
        *(f"{value:.3f}" for value in (scores.pairwise_precision, scores.pairwise_recall, scores.pairwise_f1)),
    )
    console.print(table)
    console.print(f"{scores.articles} articles, {scores.events} events, {scores.stories} stories")
    return 0
