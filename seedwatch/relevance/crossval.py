"""Cross-validated figures: what the tagger scores on items its thresholds were not fitted on.

Items are split into folds by ``split_group`` (one story, or one outlet-day, stays in one
fold), so that near-copies of an item never sit on both sides. For each fold the grade
thresholds are fitted on the other folds (the pair that maximises grade-2 F1, then
grade ≥ 1 F1) and applied to the held-out fold; the held-out predictions of every fold
are pooled into one set of figures. A wide gap between these and the whole-set figures
means the thresholds fit the items, not the task.
"""

from __future__ import annotations

import hashlib
from typing import Any

from seedwatch.relevance.evaluate import HARD_NEGATIVE_TYPES, LabelledItem, _prf
from seedwatch.relevance.profile import Thresholds, TopicProfile
from seedwatch.relevance.scorer import tag_article

_RELEVANT_GRID = [round(0.40 + 0.05 * i, 2) for i in range(11)]  # 0.40 … 0.90
_PARTIAL_GRID = [round(0.15 + 0.05 * i, 2) for i in range(8)]  # 0.15 … 0.50


def _fold_of(item: LabelledItem, folds: int) -> int:
    key = item.split_group or item.id
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % folds


def _grade(score: float, thresholds: Thresholds) -> int:
    return 2 if score >= thresholds.relevant else 1 if score >= thresholds.partial else 0


def _f1(pairs: list[tuple[int, float]], thresholds: Thresholds, level: int) -> float:
    tp = fp = fn = 0
    for gold, score in pairs:
        predicted = _grade(score, thresholds) >= level
        tp += predicted and gold >= level
        fp += predicted and gold < level
        fn += gold >= level and not predicted
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def fit_thresholds(pairs: list[tuple[int, float]], default: Thresholds) -> Thresholds:
    """The grid pair with the best grade-2 F1, ties broken by grade ≥ 1 F1, then by the default's closeness."""
    best: tuple[tuple[float, float, float], Thresholds] | None = None
    for relevant in _RELEVANT_GRID:
        for partial in _PARTIAL_GRID:
            if partial >= relevant:
                continue
            candidate = Thresholds(relevant=relevant, partial=partial)
            closeness = -abs(relevant - default.relevant) - abs(partial - default.partial)
            key = (_f1(pairs, candidate, 2), _f1(pairs, candidate, 1), closeness)
            if best is None or key > best[0]:
                best = (key, candidate)
    return best[1] if best else default


def cross_validate(profile: TopicProfile, items: list[LabelledItem], *, folds: int = 5) -> dict[str, Any]:
    """Pooled held-out figures over ``folds`` group folds, with the thresholds each fold chose."""
    scores = [tag_article(profile, title=i.title, text=i.text, language=i.language).score for i in items]
    fold_of = [_fold_of(i, folds) for i in items]
    predicted = [0] * len(items)
    chosen = []
    for fold in range(folds):
        train = [(i.grade, s) for i, s, f in zip(items, scores, fold_of, strict=True) if f != fold]
        thresholds = fit_thresholds(train, profile.thresholds)
        chosen.append({"relevant": thresholds.relevant, "partial": thresholds.partial})
        for index, f in enumerate(fold_of):
            if f == fold:
                predicted[index] = _grade(scores[index], thresholds)

    def at_least(level: int) -> dict[str, float]:
        pairs = [(i.grade >= level, p >= level) for i, p in zip(items, predicted, strict=True)]
        return _prf(
            sum(g and p for g, p in pairs), sum(p and not g for g, p in pairs), sum(g and not p for g, p in pairs)
        )

    hard = [p for i, p in zip(items, predicted, strict=True) if i.grade == 0 and i.neg_type in HARD_NEGATIVE_TYPES]
    return {
        "folds": folds,
        "relevant": at_least(2),
        "relevant_or_partial": at_least(1),
        "hard_negative_fpr": round(sum(p >= 1 for p in hard) / len(hard), 4) if hard else 0.0,
        "thresholds": chosen,
    }
