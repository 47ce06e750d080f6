"""How close a clustering is to the truth: B-cubed and pairwise precision, recall, F1.

B-cubed (Bagga and Baldwin, 1998) scores each article: the share of its predicted story
that is truly its event (precision) and the share of its event that is in its story
(recall), averaged over articles. Pairwise scores count pairs of articles put together
(predicted) against pairs that belong together (true), the metric of Miranda et al.
(EMNLP 2018) for streaming news clustering. Both are computed in linear time from the
contingency table of (story, event) counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["ClusterScores", "score_clustering"]


@dataclass(frozen=True)
class ClusterScores:
    articles: int
    events: int
    stories: int
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def score_clustering(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> ClusterScores:
    """Scores of ``predicted`` story labels against ``truth`` event labels, article by article."""
    if len(predicted) != len(truth):
        raise ValueError(f"{len(predicted)} predicted labels for {len(truth)} true ones")
    if not truth:
        raise ValueError("no articles to score")
    story_sizes = Counter(predicted)
    event_sizes = Counter(truth)
    overlap = Counter(zip(predicted, truth, strict=True))
    # Each article of a (story, event) cell of size n sees n articles of its event in its story.
    precision = sum(n * n / story_sizes[story] for (story, _), n in overlap.items()) / len(truth)
    recall = sum(n * n / event_sizes[event] for (_, event), n in overlap.items()) / len(truth)
    together = sum(_pairs(n) for n in overlap.values())
    predicted_pairs = sum(_pairs(n) for n in story_sizes.values())
    true_pairs = sum(_pairs(n) for n in event_sizes.values())
    pair_precision = together / predicted_pairs if predicted_pairs else 1.0
    pair_recall = together / true_pairs if true_pairs else 1.0
    return ClusterScores(
        articles=len(truth),
        events=len(event_sizes),
        stories=len(story_sizes),
        bcubed_precision=precision,
        bcubed_recall=recall,
        bcubed_f1=_f1(precision, recall),
        pairwise_precision=pair_precision,
        pairwise_recall=pair_recall,
        pairwise_f1=_f1(pair_precision, pair_recall),
    )
