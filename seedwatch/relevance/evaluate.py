"""Evaluate the tagger on a labelled JSON-lines file (the dev set's format).

Each line needs ``id``, ``title``, ``text`` and ``grade`` (2/1/0); ``language``,
``neg_type`` and ``reason`` are used when present. Hard negatives are the grade-0
items whose ``neg_type`` is ``libya_only``, ``turkey_only`` or
``libya_and_turkey_no_relation`` (the README of the dev set defines them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seedwatch.models import TopicTag
from seedwatch.relevance.profile import TopicProfile
from seedwatch.relevance.scorer import tag_article

# The first topic's set names its hard negatives by country; the other topics by role.
HARD_NEGATIVE_TYPES = frozenset(
    {"libya_only", "turkey_only", "libya_and_turkey_no_relation", "a_only", "b_only", "both_no_relation"}
)
WORST_MISTAKES = 10


class DatasetError(ValueError):
    """A line of the evaluation file is unusable; the message names the line and the field."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    title: str
    text: str
    grade: int
    language: str | None = None
    neg_type: str | None = None
    reason: str | None = None
    split_group: str | None = None  # story or outlet-day cluster: cross-validation folds keep a group together


def read_items(path: Path, *, require_grade: bool = True) -> list[LabelledItem]:
    """Read a JSON-lines file; blank lines are skipped, bad lines raise :class:`DatasetError`."""
    items = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{number}: not valid JSON ({exc})") from exc
            grade = row.get("grade")
            if require_grade and grade not in (0, 1, 2):
                raise DatasetError(f"{path}:{number}: field 'grade' must be 0, 1 or 2, got {grade!r}")
            items.append(
                LabelledItem(
                    id=str(row.get("id", number)),
                    title=row.get("title") or "",
                    text=row.get("text") or "",
                    grade=grade if grade in (0, 1, 2) else -1,
                    language=row.get("language"),
                    neg_type=row.get("neg_type"),
                    reason=row.get("reason"),
                    split_group=row.get("split_group"),
                )
            )
    return items


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def evaluate(profile: TopicProfile, items: list[LabelledItem]) -> dict[str, Any]:
    """Tag every item and compute the report (a JSON-serialisable dict)."""
    tags: list[TopicTag] = [tag_article(profile, title=i.title, text=i.text, language=i.language) for i in items]
    confusion = [[0, 0, 0] for _ in range(3)]  # [gold][predicted]
    for item, tag in zip(items, tags, strict=True):
        confusion[item.grade][tag.grade] += 1

    def at_least(level: int) -> dict[str, float]:
        pairs = [(i.grade >= level, t.grade >= level) for i, t in zip(items, tags, strict=True)]
        return _prf(
            sum(g and p for g, p in pairs), sum(p and not g for g, p in pairs), sum(g and not p for g, p in pairs)
        )

    hard = [(i, t) for i, t in zip(items, tags, strict=True) if i.grade == 0 and i.neg_type in HARD_NEGATIVE_TYPES]
    hard_fp = sum(t.grade >= 1 for _, t in hard)
    mistakes = sorted(
        ((i, t) for i, t in zip(items, tags, strict=True) if i.grade != t.grade),
        key=lambda it: (-abs(it[0].grade - it[1].grade), -abs(it[1].score - it[0].grade / 2)),
    )
    return {
        "items": len(items),
        "relevant": at_least(2),
        "relevant_or_partial": at_least(1),
        "confusion": {"labels": [0, 1, 2], "rows_gold_cols_predicted": confusion},
        "hard_negatives": {
            "count": len(hard),
            "false_positives": hard_fp,
            "false_positive_rate": round(hard_fp / len(hard), 4) if hard else 0.0,
        },
        "worst_mistakes": [
            {
                "id": i.id,
                "title": i.title,
                "gold": i.grade,
                "predicted": t.grade,
                "score": t.score,
                "reason": i.reason,
                "summary": t.explanation.get("summary"),
            }
            for i, t in mistakes[:WORST_MISTAKES]
        ],
    }
