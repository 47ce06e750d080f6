"""The ``seedwatch`` command line: the same core the DAGs run, without Airflow."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.style import Style
from rich.table import Table
from rich.text import Text

from seedwatch.errors import ConfigError, SeedwatchError

app = typer.Typer(help="seedwatch: monitor news feeds for one geopolitical story.", no_args_is_help=True)
feeds_app = typer.Typer(help="Feed sources and their health.", no_args_is_help=True)
profile_app = typer.Typer(help="Topic profiles built from the seeds.", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluations.", no_args_is_help=True)
index_app = typer.Typer(help="The article index.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")
app.add_typer(profile_app, name="profile")
app.add_typer(eval_app, name="eval")
app.add_typer(index_app, name="index")

console = Console()
ConfigDir = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Configuration directory (default: $SEEDWATCH_CONFIG_DIR or ./config)."),
]


def _settings(config_dir: Path | None):  # noqa: ANN202 - typed by load_settings
    from seedwatch.logs import configure_logging
    from seedwatch.settings import load_settings

    configure_logging()
    try:
        return load_settings(config_dir)
    except ConfigError as exc:
        console.print(f"[bold red]Configuration error[/]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


@app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Run the pipeline once and exit.")] = False,
    config: ConfigDir = None,
) -> None:
    """Run the monitoring pipeline (poll, fetch, extract, tag, index, alert) once."""
    from seedwatch.pipeline import run_once
    from seedwatch.report import print_run_report

    if not once:
        console.print(
            "Scheduling is Airflow's job: use [bold]--once[/] for one run here, or the seedwatch_monitor DAG."
        )
        raise typer.Exit(2)
    settings = _settings(config)
    with console.status("starting") as status:
        report = run_once(settings, now=datetime.now(UTC), on_stage=lambda name: status.update(f"stage: {name}"))
    print_run_report(console, settings, report)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(help='Words, "phrases", -exclusion, OR, outlet: lang: grade: facet: actor: date:A..B')
    ],
    limit: Annotated[int, typer.Option(help="How many results.")] = 20,
    config: ConfigDir = None,
) -> None:
    """Search the article index (SQLite FTS5 or Elasticsearch, as configured)."""
    from seedwatch.index import open_index

    settings = _settings(config)
    index = open_index(settings.index)
    try:
        results = index.search(query, limit=limit)
    except SeedwatchError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    finally:
        index.close()
    table = Table(title=f"{results.total} result(s) for {query!r}", show_lines=False)
    for column in ("published", "grade", "score", "outlet", "lang", "title"):
        table.add_column(column)
    for hit in results.hits:
        published = hit.published_at.strftime("%Y-%m-%d %H:%M") if hit.published_at else "?"
        table.add_row(
            published,
            str(hit.grade),
            f"{hit.score:.2f}",
            escape(hit.outlet),
            hit.language or "?",
            Text(hit.title, style=Style(link=hit.url)),  # titles are text, never markup
        )
    console.print(table)


@feeds_app.command("check")
def feeds_check(
    poll: Annotated[bool, typer.Option("--poll", help="Poll every enabled feed now, then show health.")] = False,
    config: ConfigDir = None,
) -> None:
    """Show every feed's health: last success, failures, cadence; --poll to test them now."""
    from seedwatch.report import print_feed_health

    settings = _settings(config)
    if poll:
        from seedwatch.pipeline import plan_feed_batches, poll_feeds

        now = datetime.now(UTC)
        with console.status("polling feeds"):
            plan_feed_batches(settings, now=now)
            poll_feeds(settings, [feed.feed_id for feed in settings.enabled_feeds()], now=now, force=True)
    print_feed_health(console, settings, now=datetime.now(UTC))


SeedsDir = Annotated[
    Path | None,
    typer.Option("--seeds", help="Seed directory (one sub-directory per topic) instead of the configured one."),
]
SeedsOnly = Annotated[bool, typer.Option("--seeds-only", help="Ignore the curated profile file: the seeds alone.")]


def _topic_dirs(settings, seeds: Path | None) -> tuple[Path, Path]:
    return settings.paths.topics_dir, (seeds.resolve() if seeds else settings.paths.seeds_dir)


@profile_app.command("show")
def profile_show(
    topic: Annotated[str | None, typer.Argument(help="Topic name (default: all).")] = None,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    config: ConfigDir = None,
) -> None:
    """Print a topic profile: sides, actors, places, facets, each marked induced or curated."""
    from seedwatch.relevance import cli as relevance_cli

    relevance_cli.profile_show(
        topic, *_topic_dirs(_settings(config), seeds), seeds_only=seeds_only, other_seeds=seeds is not None
    )


@profile_app.command("draft")
def profile_draft(
    topic: Annotated[str, typer.Argument(help="Topic name: a directory of seeds.")],
    write: Annotated[bool, typer.Option("--write", help="Write config/topics/TOPIC.yaml instead of printing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --write: replace an existing profile file.")] = False,
    seeds: SeedsDir = None,
    config: ConfigDir = None,
) -> None:
    """Draw a profile from the seeds alone and print it as commented YAML for an analyst to edit."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.profile_draft(
            topic, topics_dir, seeds_dir, write=write, force=force, other_seeds=seeds is not None
        )
    )


@eval_app.command("relevance")
def eval_relevance(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Labelled items (JSON lines).")],
    topic: Annotated[str | None, typer.Option(help="Topic to evaluate (default: the only topic).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    cv: Annotated[
        int, typer.Option("--cv", min=0, help="Also cross-validate over split_group with this many folds.")
    ] = 0,
    config: ConfigDir = None,
) -> None:
    """Precision, recall, F1, confusion matrix and worst mistakes on a labelled file."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.eval_relevance(
            file, topic, as_json, topics_dir, seeds_dir, seeds_only=seeds_only, folds=cv, other_seeds=seeds is not None
        )
    )


@app.command()
def tag(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Items as JSON lines (id, title, text, language).")
    ],
    topic: Annotated[str | None, typer.Option(help="Topic (default: every topic).")] = None,
    seeds: SeedsDir = None,
    seeds_only: SeedsOnly = False,
    config: ConfigDir = None,
) -> None:
    """Tag every item of a JSON-lines file; print one JSON line per item."""
    from seedwatch.relevance import cli as relevance_cli

    topics_dir, seeds_dir = _topic_dirs(_settings(config), seeds)
    raise typer.Exit(
        relevance_cli.tag_file(file, topic, topics_dir, seeds_dir, seeds_only=seeds_only, other_seeds=seeds is not None)
    )


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Saved HTML pages (plain or .gz).")],
    url: Annotated[str | None, typer.Option(help="The pages' URL (helps dates and links).")] = None,
) -> None:
    """Extract saved pages; print the typed result as one JSON line per file."""
    from extractors.cli import run as run_extract

    raise typer.Exit(run_extract(files, url))


@index_app.command("reindex")
def index_reindex(
    version: Annotated[int, typer.Option(help="The new physical index version (e.g. 2).")],
    config: ConfigDir = None,
) -> None:
    """Elasticsearch: create the next index version, reindex into it, swap the aliases."""
    from seedwatch.index.elastic import reindex_and_swap

    settings = _settings(config)
    report = reindex_and_swap(settings.index, version)
    console.print(report)


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option(help="Forget the previous demo runs' state first.")] = False,
    airflow: Annotated[
        bool, typer.Option(help="Run the DAG through Airflow (else the same pipeline in-process).")
    ] = True,
) -> None:
    """The offline demo: a local news site and SMTP server, one real DAG run, a summary.

    State is kept between runs, so a second run shows what a scheduled re-run does.
    """
    from seedwatch.demo import run_demo

    raise typer.Exit(run_demo(console, fresh=fresh, through_airflow=airflow))


def main() -> None:  # pragma: no cover - console entry point
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
