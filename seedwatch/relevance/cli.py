"""Command bodies for ``seedwatch profile show``, ``seedwatch eval relevance`` and ``seedwatch tag``.

Plain functions: the main CLI registers them with typer. They return an exit code
(0 success, 1 targets missed or bad input, 2 unknown topic) where one is meaningful.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from seedwatch.models import TopicTag
from seedwatch.relevance.evaluate import DatasetError, LabelledItem, evaluate
from seedwatch.relevance.profile import ProfileError, TopicProfile, load_profiles
from seedwatch.relevance.scorer import tag_article


def _profiles(
    topics_dir: Path, seeds_dir: Path, topic: str | None, *, seeds_only: bool = False, other_seeds: bool = False
) -> dict[str, TopicProfile] | None:
    """The profiles, or None after printing why not. ``other_seeds``: the seeds come from a
    directory given on the command line, so profile files without seeds there are fine."""
    err = Console(stderr=True)
    try:
        orphans_ok = other_seeds
        profiles = load_profiles(topics_dir, seeds_dir, seeds_only=seeds_only, orphans_ok=orphans_ok)
    except ProfileError as exc:
        err.print(f"[red]profile error:[/red] {exc}")
        return None
    if topic is not None:
        if topic not in profiles:
            err.print(f"[red]unknown topic[/red] '{topic}'; known: {', '.join(sorted(profiles)) or 'none'}")
            return None
        return {topic: profiles[topic]}
    return profiles


def profile_show(
    topic: str | None, topics_dir: Path, seeds_dir: Path, *, seeds_only: bool = False, other_seeds: bool = False
) -> None:
    """Print each profile: sides, facets, entities with aliases and origin, and the seed-derived terms."""
    console = Console()
    profiles = _profiles(topics_dir, seeds_dir, topic, seeds_only=seeds_only, other_seeds=other_seeds)
    if profiles is None:
        raise SystemExit(2)
    for profile in profiles.values():
        console.rule(f"[bold]{profile.name}[/bold]: {profile.title}")
        console.print(f"profile file: {profile.profile_file or '(none: drawn from the seeds alone)'}")
        console.print(f"seeds: {', '.join(str(p) for p in profile.seed_files)}")
        console.print(
            f"sides: {' / '.join(profile.sides) or '(none: graded on seed similarity)'}   thresholds: "
            f"relevant ≥ {profile.thresholds.relevant}, partial ≥ {profile.thresholds.partial}"
        )
        facets = Table("facet", "origin", "the seeds say", "cues", title="Facets")
        for facet in profile.facets:
            label = f"{facet.id}\n[dim]{escape(facet.label)}{' (generic)' if facet.generic else ''}[/dim]"
            cues = f"{len(facet.cues)}: " + ", ".join(facet.cues[:5]) + (" …" if len(facet.cues) > 5 else "")
            facets.add_row(label, facet.origin, escape(", ".join(facet.in_seeds[:5])), escape(cues))
        console.print(facets)
        entities = Table("name", "side", "origin", "aliases", title="Actors, places, agreements")
        others = 0
        for entity in profile.entities:
            if entity.note == "another country":
                others += 1
                continue
            name = f"{escape(entity.name)} [dim]({entity.kind})[/dim]"
            if entity.note:
                name += f"\n[dim]{escape(entity.note)}[/dim]"
            aliases = ", ".join(entity.aliases[:6]) + (f" … ({len(entity.aliases)})" if len(entity.aliases) > 6 else "")
            entities.add_row(name, entity.side, entity.origin, escape(aliases))
        console.print(entities)
        if others:
            console.print(f"+ {others} other countries from the gazetteer, side 'other' (lists, third parties)")
        console.print(
            "[bold]seed terms[/bold] (TF-IDF against general news): "
            + ", ".join(f"{t} {w:.1f}" for t, w in list(profile.seed_terms.items())[:30])
        )


def profile_draft(
    topic: str, topics_dir: Path, seeds_dir: Path, *, write: bool, force: bool, other_seeds: bool = False
) -> int:
    """Print (or write to ``topics_dir/<topic>.yaml``) the profile drawn from the seeds alone."""
    from seedwatch.relevance.draft import draft_yaml

    err = Console(stderr=True)
    profiles = _profiles(topics_dir, seeds_dir, topic, seeds_only=True, other_seeds=other_seeds)
    if profiles is None:
        return 2
    text = draft_yaml(profiles[topic])
    if not write:
        sys.stdout.write(text)
        return 0
    target = topics_dir / f"{topic}.yaml"
    if target.exists() and not force:
        err.print(
            f"[red]{target} exists[/red]; review the draft on stdout (drop --write) or pass --force to replace it"
        )
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    err.print(f"wrote {target}: review it; it now extends and overrides what the seeds give")
    return 0


def eval_relevance(
    file: Path,
    topic: str | None,
    as_json: bool,
    topics_dir: Path,
    seeds_dir: Path,
    *,
    seeds_only: bool = False,
    folds: int = 0,
    other_seeds: bool = False,
) -> int:
    """Evaluate ``topic`` on a labelled JSON-lines file; print a report (or one JSON object).

    ``folds`` > 1 adds cross-validated figures: thresholds fitted on the other folds
    (grouped by ``split_group``), applied to each held-out fold.
    """
    profiles = _profiles(topics_dir, seeds_dir, topic, seeds_only=seeds_only, other_seeds=other_seeds)
    if profiles is None:
        return 2
    if topic is None:
        if len(profiles) != 1:
            Console(stderr=True).print(f"[red]which topic?[/red] pass --topic, one of: {', '.join(sorted(profiles))}")
            return 2
        topic = next(iter(profiles))
    # An evaluation on part of the file would mislead: the first bad line stops it.
    try:
        items = list(read_lines(file, require_grade=True))
    except OSError as exc:
        Console(stderr=True).print(Text(f"cannot read {file}: {exc.strerror or exc}", style="red"))
        return 1
    errors = [item for item in items if isinstance(item, DatasetError)]
    if errors:
        more = f" (and {len(errors) - 1} more bad line(s))" if len(errors) > 1 else ""
        Console(stderr=True, soft_wrap=True).print(Text(f"{errors[0]}{more}", style="red"))
        return 1
    report = evaluate(profiles[topic], [item for item in items if isinstance(item, LabelledItem)])
    if folds > 1:
        from seedwatch.relevance.crossval import cross_validate

        report["cross_validation"] = cross_validate(profiles[topic], items, folds=folds)
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
    cv = report.get("cross_validation")
    if cv:
        table = Table(
            "target", "precision", "recall", "F1", title=f"{cv['folds']}-fold cross-validation by split_group"
        )
        for key, label in (("relevant", "grade 2"), ("relevant_or_partial", "grade ≥ 1")):
            m = cv[key]
            table.add_row(label, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}")
        console.print(table)
        console.print(
            f"hard-negative false-positive rate {cv['hard_negative_fpr']:.2%}; thresholds per fold: {cv['thresholds']}"
        )


def read_lines(file: Path, *, require_grade: bool) -> Iterator[LabelledItem | DatasetError]:
    """Each non-blank line of a JSON-lines file as an item, or as the error that names it.

    Bytes are decoded per line, so one line that is not UTF-8 spoils only itself.
    """
    with Path(file).open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            where = f"{file}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield DatasetError(f"{where}: not UTF-8 (byte {exc.start + 1}); save the file as UTF-8")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield DatasetError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            yield _item(row, where, number, require_grade=require_grade)


def _item(row: object, where: str, number: int, *, require_grade: bool) -> LabelledItem | DatasetError:
    if not isinstance(row, dict):
        return DatasetError(f"{where}: a line must be a JSON object with title and text, not {type(row).__name__}")
    for key in ("title", "text", "language"):
        if row.get(key) is not None and not isinstance(row[key], str):
            return DatasetError(f"{where}: field '{key}' must be a string, got {type(row[key]).__name__}")
    grade = row.get("grade")
    if require_grade and (grade not in (0, 1, 2) or isinstance(grade, bool)):
        return DatasetError(f"{where}: field 'grade' must be 0, 1 or 2, got {grade!r}")
    optional = {key: row.get(key) for key in ("neg_type", "reason", "split_group")}
    return LabelledItem(
        id=str(row.get("id", number)),
        title=row.get("title") or "",
        text=row.get("text") or "",
        grade=grade if grade in (0, 1, 2) else -1,
        language=row.get("language"),
        **{key: str(value) if value is not None else None for key, value in optional.items()},
    )


def tag_file(
    file: Path,
    topic: str | None,
    topics_dir: Path,
    seeds_dir: Path,
    *,
    seeds_only: bool = False,
    other_seeds: bool = False,
) -> int:
    """Tag every item of a JSON-lines file; one JSON line per item and topic on stdout.

    A bad line is named on stderr and skipped; the others are tagged; the exit code is 1
    when any line was bad.
    """
    profiles = _profiles(topics_dir, seeds_dir, topic, seeds_only=seeds_only, other_seeds=other_seeds)
    if profiles is None:
        return 2
    err = Console(stderr=True, soft_wrap=True)
    bad = 0
    out = sys.stdout
    try:
        for item in read_lines(file, require_grade=False):
            if isinstance(item, DatasetError):
                bad += 1
                err.print(Text(str(item), style="red"))
                continue
            for profile in profiles.values():
                tag = tag_article(profile, title=item.title, text=item.text, language=item.language)
                out.write(json.dumps(_tag_json(item.id, tag), ensure_ascii=False) + "\n")
    except OSError as exc:
        err.print(Text(f"cannot read {file}: {exc.strerror or exc}", style="red"))
        return 1
    if bad:
        err.print(f"{bad} line(s) skipped; the others were tagged")
    return 1 if bad else 0


def _tag_json(item_id: str, tag: TopicTag) -> dict[str, object]:
    return {
        "id": item_id,
        "topic": tag.topic,
        "grade": tag.grade,
        "score": tag.score,
        "facets": list(tag.facets),
        "actors": list(tag.actors),
        "explanation": tag.explanation,
    }
