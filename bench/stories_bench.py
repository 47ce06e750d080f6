"""Story assignment at scale: the de-duplication stage on distinct articles, on a real store.

``pipeline_bench.py`` repeats the 181 AEB pages under distinct URLs, so almost every
article there is a copy found at the cheapest level (same text); ``--copies`` does the same
here, without the rest of the pipeline. By default this benchmark is the other extreme:
every article is a distinct text, so every one goes through the near-
duplicate lookup *and* the event level (features, document frequencies, postings,
centroids). Articles are made from the sentences of the AEB article bodies shipped in
``tests/fixtures/extraction/aeb`` (a title and eight sentences drawn at random, a fixed
seed), written to a fresh SQLite (or ``--state-url``) store as processed articles, then
``assign_stories`` runs over them in batches of 500 and is timed, in slices, so the table
shows whether the rate holds as the store grows.

    .venv/bin/python bench/stories_bench.py --articles 50000
    .venv/bin/python bench/stories_bench.py --articles 50000 --copies
    .venv/bin/python bench/stories_bench.py --articles 10000 --state-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seedwatch.dedup import fingerprints, url_key  # noqa: E402
from seedwatch.models import stable_id  # noqa: E402
from seedwatch.pipeline import assign_stories  # noqa: E402
from seedwatch.settings import Settings  # noqa: E402
from seedwatch.store import NewArticle, StateStore, new_owner  # noqa: E402

AEB_TRUTH = Path(__file__).resolve().parents[1] / "tests/fixtures/extraction/aeb/ground-truth.json"
START = datetime(2026, 1, 1, tzinfo=UTC)


def sentences() -> list[str]:
    truth = json.loads(AEB_TRUTH.read_text(encoding="utf-8"))
    found = []
    for entry in truth.values():
        found += [s.strip() for s in re.split(r"(?<=[.!?])\s+", entry.get("articleBody") or "") if len(s.split()) >= 6]
    return found


def bodies() -> list[str]:
    truth = json.loads(AEB_TRUTH.read_text(encoding="utf-8"))
    return [entry["articleBody"] for entry in truth.values() if entry.get("articleBody")]


def fill(store: StateStore, count: int, *, per_minute: int, copies: bool = False) -> None:
    """``count`` processed articles, ``per_minute`` of them first seen each minute: distinct
    texts, or (``copies``) the AEB bodies again and again from 1,000 outlets, as
    ``pipeline_bench.py`` serves them."""
    pool, whole = sentences(), bodies()
    rng = random.Random(7)
    owner = new_owner("bench")
    for start in track(range(0, count, 1000), description="writing articles", console=Console(stderr=True)):
        found, results = [], []
        for n in range(start, min(start + 1000, count)):
            at = START + timedelta(minutes=n // per_minute)
            url = f"https://bench.example/{n}"
            outlet = f"outlet{n % 1000}.example"
            if copies:
                text = whole[n % len(whole)]
                title = text.split(".")[0][:120]
            else:
                title = rng.choice(pool)[:120]
                text = " ".join(rng.sample(pool, 8))
            found.append(
                NewArticle(url_key(url), url, url, stable_id(outlet), None, None, outlet, None, "en", title, "", at)
            )
            content_hash, minhash = fingerprints(text)
            results.append(
                (url_key(url), {"title": title, "text": text, "language": "en", "content_hash": content_hash,
                                "minhash": minhash, "body_source": "page", "processed_at": at, "fetch_attempts": 1})
            )  # fmt: skip
        store.record_discovered(found, now=START)
        store.claim_articles(
            [i for i, _ in results], now=START + timedelta(days=3650), owner=owner, lease_s=3600, max_attempts=3
        )
        store.save_processed_many(results, owner=owner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--slice", type=int, default=10_000, help="articles assigned per timed slice")
    parser.add_argument("--per-minute", type=int, default=10, help="articles first seen per minute")
    parser.add_argument("--state-url", help="default: a fresh SQLite file in a temporary directory")
    parser.add_argument("--copies", action="store_true", help="the AEB bodies repeated, as pipeline_bench serves them")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as work:
        url = args.state_url or f"sqlite:///{Path(work) / 'state.db'}"
        store = StateStore.open(url)
        fill(store, args.articles, per_minute=args.per_minute, copies=args.copies)
        settings = Settings(state={"url": url})
        _release(store, -1)
        kind = "copies of 181 texts" if args.copies else "distinct texts"
        table = Table(title=f"assign_stories over {args.articles:,} articles, {kind} ({url.split(':')[0]})")
        for column in ("articles so far", "slice", "seconds", "articles/s", "new stories", "same event", "copies"):
            table.add_column(column, justify="right")
        done, total_s = 0, 0.0
        while done < args.articles:
            # The slice is what is processed by then: assign_stories takes every unassigned article.
            size = min(args.slice, args.articles - done)
            _release(store, size)
            began = time.perf_counter()
            summary = assign_stories(settings, now=datetime.now(UTC), batch=500)
            seconds = time.perf_counter() - began
            done += summary.articles
            total_s += seconds
            table.add_row(
                f"{done:,}", f"{summary.articles:,}", f"{seconds:.1f}", f"{summary.articles / seconds:,.0f}",
                f"{summary.new_stories:,}", f"{summary.same_event:,}", f"{summary.exact_duplicates + summary.near_duplicates:,}",
            )  # fmt: skip
            if not summary.articles:
                break
        store.close()
        console.print(table)
        console.print(f"all: {done:,} articles in {total_s:.1f} s = {done / total_s:,.0f} articles/s")


def _release(store: StateStore, count: int) -> None:
    """Make the next ``count`` held articles (first seen first) processed, as a run would find them."""
    import sqlalchemy as sa

    from seedwatch.store.schema import articles

    with store.engine.begin() as conn:
        if count < 0:  # hold every article back
            conn.execute(sa.update(articles).values(status="held"))
            return
        held = (
            sa.select(articles.c.article_id)
            .where(articles.c.status == "held")
            .order_by(articles.c.first_seen_at, articles.c.article_id)
            .limit(count)
        )
        conn.execute(sa.update(articles).where(articles.c.article_id.in_(held)).values(status="processed"))


if __name__ == "__main__":
    main()
