"""Command bodies for ``seedwatch profile show``, ``seedwatch eval relevance`` and ``seedwatch tag``.

Plain functions: the main CLI registers them with typer. They return an exit code
(0 success, 1 targets missed or bad input, 2 unknown topic) where one is meaningful.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seedwatch.relevance.evaluate import DatasetError, evaluate, read_items
from seedwatch.relevance.profile import ProfileError, TopicProfile, load_profiles
from seedwatch.relevance.scorer import tag_article


def _profiles(topics_dir: Path, seeds_dir: Path, topic: str | None) -> dict[str, TopicProfile] | None:
    err = Console(stderr=True)
    try:
        profiles = load_profiles(topics_dir, seeds_dir)
    except ProfileError as exc:
        err.print(f"[red]profile error:[/red] {exc}")
        return None
    if topic is not None:
        if topic not in profiles:
            err.print(f"[red]unknown topic[/red] '{topic}'; known: {', '.join(sorted(profiles)) or 'none'}")
            return None
        return {topic: profiles[topic]}
    return profiles


def profile_show(topic: str | None, topics_dir: Path, seeds_dir: Path) -> None:
    """Print each profile: sides, facets, entities with aliases, and the seed-derived terms."""
    console = Console()
    profiles = _profiles(topics_dir, seeds_dir, topic)
    if profiles is None:
        raise SystemExit(2)
    for profile in profiles.values():
        console.rule(f"[bold]{profile.name}[/bold]: {profile.title}")
        console.print(f"profile file: {profile.profile_file or '(none: seed similarity only)'}")
        console.print(f"seeds: {', '.join(str(p) for p in profile.seed_files)}")
        console.print(
            f"sides: {' / '.join(profile.sides) or '(none)'}   thresholds: "
            f"relevant ≥ {profile.thresholds.relevant}, partial ≥ {profile.thresholds.partial}"
        )
        facets = Table("facet", "label", "cues", title="Facets")
        for facet in profile.facets:
            facets.add_row(facet.id, facet.label, ", ".join(facet.cues[:12]) + (" …" if len(facet.cues) > 12 else ""))
        console.print(facets)
        entities = Table("kind", "name", "side", "facets", "aliases", title="Actors, places, agreements")
        for entity in profile.entities:
            entities.add_row(entity.kind, entity.name, entity.side, ", ".join(entity.facets), ", ".join(entity.aliases))
        console.print(entities)
        console.print(
            "[bold]seed terms[/bold] (TF-IDF against general news): "
            + ", ".join(f"{t} {w:.1f}" for t, w in list(profile.seed_terms.items())[:30])
        )
        console.print("[bold]seed names[/bold]: " + ", ".join(profile.seed_names))


def eval_relevance(file: Path, topic: str, as_json: bool, topics_dir: Path, seeds_dir: Path) -> int:
    """Evaluate ``topic`` on a labelled JSON-lines file; print a report (or one JSON object)."""
    profiles = _profiles(topics_dir, seeds_dir, topic)
    if profiles is None:
        return 2
    try:
        items = read_items(file)
    except (DatasetError, OSError) as exc:
        Console(stderr=True).print(f"[red]cannot read {file}:[/red] {exc}")
        return 1
    report = evaluate(profiles[topic], items)
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return 0
    _print_report(Console(), file, topic, report)
    return 0


def _print_report(console: Console, file: Path, topic: str, report: dict) -> None:
    console.rule(f"relevance of {file} to {topic} ({report['items']} items)")
    table = Table("target", "precision", "recall", "F1", "tp", "fp", "fn")
    for key, label in (("relevant", "grade 2"), ("relevant_or_partial", "grade ≥ 1")):
        m = report[key]
        table.add_row(
            label,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["tp"]),
            str(m["fp"]),
            str(m["fn"]),
        )
    console.print(table)
    confusion = Table("gold \\ predicted", "0", "1", "2", title="Confusion matrix")
    for gold, row in enumerate(report["confusion"]["rows_gold_cols_predicted"]):
        confusion.add_row(str(gold), *(str(n) for n in row))
    console.print(confusion)
    hard = report["hard_negatives"]
    console.print(
        f"hard negatives: {hard['false_positives']}/{hard['count']} tagged ≥ 1 "
        f"(false-positive rate {hard['false_positive_rate']:.2%})"
    )
    worst = Table("gold", "pred", "score", "title", "why (tagger)", "gold reason", title="Worst mistakes")
    for m in report["worst_mistakes"]:
        worst.add_row(
            str(m["gold"]),
            str(m["predicted"]),
            f"{m['score']:.2f}",
            escape(m["title"][:60]),
            escape(m["summary"] or ""),
            escape((m["reason"] or "")[:70]),
        )
    console.print(worst)


def tag_file(file: Path, topic: str | None, topics_dir: Path, seeds_dir: Path) -> int:
    """Tag every item of a JSON-lines file; one JSON line per item and topic on stdout."""
    profiles = _profiles(topics_dir, seeds_dir, topic)
    if profiles is None:
        return 2
    try:
        items = read_items(file, require_grade=False)
    except (DatasetError, OSError) as exc:
        Console(stderr=True).print(f"[red]cannot read {file}:[/red] {exc}")
        return 1
    out = sys.stdout
    for item in items:
        for profile in profiles.values():
            tag = tag_article(profile, title=item.title, text=item.text, language=item.language)
            out.write(
                json.dumps(
                    {
                        "id": item.id,
                        "topic": tag.topic,
                        "grade": tag.grade,
                        "score": tag.score,
                        "facets": list(tag.facets),
                        "actors": list(tag.actors),
                        "explanation": tag.explanation,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return 0
