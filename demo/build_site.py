"""Build the offline demo's news site from real material (run once; output is committed).

Sources (read-only, beside the checkout in ../shared):
- the first seed document (seeds/libya_turkey/), published by two outlets: the
  original report and a wire copy with its own lead, as syndication does;
- real news items labelled for Libya–Turkey relevance (data/relevance/dev.jsonl):
  each becomes an article page with the markup news sites use (Open Graph,
  JSON-LD NewsArticle, a byline, navigation and a related-stories footer);
- real article pages of the Article Extraction Benchmark (data/extraction/aeb/),
  served as they were saved, for stories that have nothing to do with the topic.

Feeds are RSS 2.0 with links under ``{BASE_URL}``, which the demo replaces with
its local server's address when it serves them.

    python demo/build_site.py ../shared
"""

from __future__ import annotations

import gzip
import html
import json
import sys
from email.utils import format_datetime
from datetime import UTC, datetime
from pathlib import Path

SITE = Path(__file__).parent / "site"

# Items of the relevance set, by id prefix, per demo feed (chosen to show grouping
# of syndicated copies, other languages, partial matches and hard negatives).
FEEDS = {
    "wire": ("Regional Wire (en)", "en", [
        "plane-crash", "greece-expel", "sirte", "troops", "negatives-en",
    ]),
    "regional": ("Regional Press (ar, fr, de)", "fr", ["arabic", "french", "german"]),
}
AEB_PAGES = 4


def _date(value: str) -> datetime:
    value = value.replace(" ", "T")
    for fmt, size in (("%Y-%m-%dT%H:%M:%S", 19), ("%Y-%m-%d", 10), ("%Y-%m", 7), ("%Y", 4)):
        try:
            return datetime.strptime(value[:size], fmt).replace(tzinfo=UTC, hour=9)
        except ValueError:
            continue
    return datetime(2025, 9, 1, 9, tzinfo=UTC)


def article_page(*, slug: str, title: str, text: str, outlet: str, language: str, published: datetime, author: str) -> str:
    paragraphs = "\n".join(f"      <p>{html.escape(p.strip())}</p>" for p in text.split("\n") if p.strip())
    direction = "rtl" if language in ("ar", "ur", "fa") else "ltr"
    ld = json.dumps({
        "@context": "https://schema.org", "@type": "NewsArticle", "headline": title,
        "datePublished": published.isoformat(), "author": {"@type": "Person", "name": author},
        "publisher": {"@type": "Organization", "name": outlet}, "inLanguage": language,
    }, ensure_ascii=False)
    return f"""<!DOCTYPE html>
<html lang="{language}" dir="{direction}">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)} | {html.escape(outlet)}</title>
  <meta property="og:title" content="{html.escape(title)}">
  <meta property="og:type" content="article">
  <meta property="article:published_time" content="{published.isoformat()}">
  <meta property="article:section" content="World">
  <link rel="canonical" href="{{BASE_URL}}/articles/{slug}.html">
  <script type="application/ld+json">{ld}</script>
</head>
<body>
  <header><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/politics">Politics</a> | <a href="/subscribe">Subscribe</a></nav></header>
  <main>
    <article>
      <h1>{html.escape(title)}</h1>
      <p class="byline">By {html.escape(author)} · <time datetime="{published.isoformat()}">{published:%d %B %Y}</time></p>
{paragraphs}
    </article>
  </main>
  <aside><h2>Most read</h2><ul><li><a href="/a">Markets close higher as oil steadies</a></li><li><a href="/b">Weather: storms expected over the weekend</a></li></ul></aside>
  <footer><p>Sign up for our newsletter to get the top stories every morning.</p><p>© {published:%Y} {html.escape(outlet)}. All rights reserved.</p></footer>
</body>
</html>
"""


def rss(title: str, language: str, items: list[dict]) -> str:
    entries = []
    for item in items:
        entries.append(f"""    <item>
      <title>{html.escape(item['title'])}</title>
      <link>{{BASE_URL}}{item['path']}</link>
      <guid isPermaLink="false">{item['guid']}</guid>
      <pubDate>{format_datetime(item['published'])}</pubDate>
      <description>{html.escape(item['summary'])}</description>
    </item>""")
    body = "\n".join(entries)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>{html.escape(title)}</title>
    <link>{{BASE_URL}}/</link>
    <description>seedwatch demo feed built from real news items</description>
    <language>{language}</language>
{body}
  </channel>
</rss>
"""


def select(rows: list[dict], group: str) -> list[dict]:
    def match(title_words: tuple[str, ...], **where: object) -> list[dict]:
        return [r for r in rows if all(r.get(k) == v for k, v in where.items())
                and any(w.lower() in r["title"].lower() for w in title_words)]

    if group == "plane-crash":
        return match(("plane crash",), grade=2)[:3]
    if group == "greece-expel":
        return match(("expel",), grade=2, language="en")[:3]
    if group == "sirte":
        return match(("sisi",), language="en")[:2]
    if group == "troops":
        return match(("troops", "deployment"), grade=2, language="en")[:2]
    if group == "negatives-en":
        picked, kinds = [], {}
        for r in rows:
            kind = r.get("neg_type")
            if r["grade"] == 0 and r["kind"] != "feed_item" and r["language"] == "en" and kinds.get(kind, 0) < 2:
                kinds[kind] = kinds.get(kind, 0) + 1
                picked.append(r)
        return picked[:8]
    if group == "arabic":
        return [r for r in rows if r["language"] == "ar"][:2]
    if group == "french":
        return [r for r in rows if r["language"] == "fr" and r["grade"] >= 1 and r["kind"] != "feed_item"][:2]
    if group == "german":
        return [r for r in rows if r["language"] == "de" and r["grade"] == 2][:2]
    raise ValueError(group)


def main(shared: Path) -> None:
    rows = [json.loads(line) for line in (shared / "data/relevance/dev.jsonl").read_text(encoding="utf-8").splitlines()]
    pages, sources = SITE / "articles", []
    pages.mkdir(parents=True, exist_ok=True)
    (SITE / "feeds").mkdir(exist_ok=True)

    seed = next((shared / "seeds").glob("*.txt")).read_text(encoding="utf-8").strip()
    seed_title = "Haftar plans to visit Turkiye after thaw with Ankara"
    seed_items = []
    for slug, outlet, author, text, title in (
        ("mee-haftar-turkiye-visit", "Middle East Eye", "MEE staff", seed.replace(", APA reports, citing Middle East Eye", ""), seed_title),
        ("apa-haftar-turkiye-visit", "APA", "APA", seed, f"{seed_title} (APA citing Middle East Eye)"),
    ):
        published = datetime(2025, 9, 8, 10, tzinfo=UTC) if slug.startswith("mee") else datetime(2025, 9, 8, 13, tzinfo=UTC)
        (pages / f"{slug}.html").write_text(article_page(slug=slug, title=title, text=text, outlet=outlet, language="en", published=published, author=author), encoding="utf-8")
        seed_items.append({"title": title, "path": f"/articles/{slug}.html", "guid": slug, "published": published, "summary": text.split("\n")[0]})
        sources.append(f"| articles/{slug}.html | the seed document (shared/seeds), as published by {outlet} |")

    for feed, (title, language, groups) in FEEDS.items():
        items = list(seed_items) if feed == "wire" else []
        for group in groups:
            for row in select(rows, group):
                slug = f"{group}-{row['id'][:10]}"
                published = _date(row["date"])
                (pages / f"{slug}.html").write_text(article_page(
                    slug=slug, title=row["title"], text=row["text"], outlet=row["outlet"], language=row["language"],
                    published=published, author=f"{row['outlet']} staff"), encoding="utf-8")
                items.append({"title": row["title"], "path": f"/articles/{slug}.html", "guid": row["id"], "published": published,
                              "summary": row["text"].split("\n")[0][:300]})
                sources.append(f"| articles/{slug}.html | relevance item {row['id']} ({row['outlet']}, {row['link']}), grade {row['grade']} |")
        if feed == "wire":  # a story whose page answers 500: it is kept from the feed
            items.append({"title": "Turkish and Libyan officials discuss energy projects in Ankara", "path": "/articles/server-error.html",
                          "guid": "server-error", "published": datetime(2025, 9, 9, 8, tzinfo=UTC),
                          "summary": "Libyan and Turkish energy officials met in Ankara to discuss exploration under the 2022 hydrocarbons memorandum."})
        (SITE / "feeds" / f"{feed}.xml").write_text(rss(title, language, items), encoding="utf-8")

    truth = json.loads((shared / "data/extraction/aeb/ground-truth.json").read_text(encoding="utf-8"))
    world = []
    for path in sorted((shared / "data/extraction/aeb/html").glob("*.html.gz"))[:AEB_PAGES]:
        page_id = path.name.removesuffix(".html.gz")
        (pages / f"aeb-{page_id[:12]}.html").write_bytes(gzip.decompress(path.read_bytes()))
        body = truth[page_id]["articleBody"]
        world.append({"title": body.split("\n")[0][:90] or page_id[:12], "path": f"/articles/aeb-{page_id[:12]}.html", "guid": page_id,
                      "published": datetime(2025, 9, 7, 12, tzinfo=UTC), "summary": body[:200]})
        sources.append(f"| articles/aeb-{page_id[:12]}.html | AEB page {page_id} ({truth[page_id]['url']}), MIT |")
    (SITE / "feeds" / "world.xml").write_text(rss("World News (real pages)", "en", world), encoding="utf-8")
    (SITE / "feeds" / "broken.xml").write_text("<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>\n", encoding="utf-8")
    sources.append("| feeds/broken.xml | an HTML error page where a feed should be |")
    (SITE / "SOURCES.md").write_text(
        "# Demo site sources\n\nBuilt by `demo/build_site.py` from `../shared`. Feeds use `{BASE_URL}`, replaced when served.\n\n"
        "| file | source |\n|---|---|\n" + "\n".join(sources) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared"))
