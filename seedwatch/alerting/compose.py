"""The alert email: multipart plain text and HTML from templates, safe against hostile feeds.

Everything that comes from an article (titles, sentences, outlets, URLs) goes through
:mod:`seedwatch.safe_text` before it goes near a header or either part: one line, no
control, bidirectional or zero-width characters, titles cut at ``TITLE_MAX_CHARS``;
links are kept only when they are printable http(s), and HTML is autoescaped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from seedwatch.alerting.rules import AlertRule, SmtpSettings
from seedwatch.safe_text import TITLE_MAX_CHARS, display_text, display_url, visible_characters

_LOADER = PackageLoader("seedwatch.alerting", "templates")
_HTML = Environment(loader=_LOADER, autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
_TEXT = Environment(loader=_LOADER, autoescape=False, trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)


@dataclass
class Story:
    """One story (all copies sharing a ``story_id``) as a rule sees it."""

    story_id: str
    lead: dict[str, Any]  # the earliest matching article
    tag: dict[str, Any]  # the lead's tag for the rule's topic
    outlets: list[tuple[str, str, str]]  # (outlet, language, url) of the other outlets carrying it
    signature: dict[str, list[str]]  # facets, actors, outlets, languages of all copies
    first_seen_at: datetime
    is_update: bool = False
    what_new: list[str] = field(default_factory=list)  # for an update: what the analyst has not seen
    due_since: datetime | None = None  # first attempt, when an earlier one failed
    delay_reason: str = ""


def as_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


# Outlets, authors and other short labels: a hostile feed cannot fill a line with one.
LABEL_MAX_CHARS = 120
SENTENCE_MAX_CHARS = 600  # a quoted sentence of the article ("sentences" of the explanation)


def one_line(text: object, max_chars: int | None = None) -> str:
    """One line of visible text: breaks and spaces (CR, LF, U+2028, tabs…) become single
    spaces; control, bidirectional-override and zero-width characters go; cut at ``max_chars``."""
    return display_text(text or "", max_chars=max_chars)


def safe_url(url: object) -> str:
    """The URL if it is printable http(s), else nothing: no ``javascript:``, no hidden characters."""
    return display_url(url)


def highlight(sentence: dict[str, Any]) -> Markup:
    """The sentence escaped, on one line, with its matched terms in <mark>."""
    # Cleaned piece by piece (visible_characters), so the terms' offsets still hold.
    full = str(sentence.get("text", ""))
    text = full[:SENTENCE_MAX_CHARS]
    spans = sorted(
        (t["start"], t["end"])
        for t in sentence.get("terms", ())
        if isinstance(t, dict) and isinstance(t.get("start"), int) and isinstance(t.get("end"), int)
    )
    out, position = [], 0
    for start, end in spans:
        if start < position or end > len(text) or end <= start:
            continue
        out.append(escape(visible_characters(text[position:start])))
        out.append(Markup("<mark>") + escape(visible_characters(text[start:end])) + Markup("</mark>"))
        position = end
    out.append(escape(visible_characters(text[position:]) + ("…" if len(full) > len(text) else "")))
    return Markup("").join(out)


def duration(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours:.1f} h" if hours >= 1 else f"{max(1, round(delta.total_seconds() / 60))} min"


def _story_view(story: Story, rule: AlertRule, now: datetime) -> dict[str, Any]:
    lead, tag = story.lead, story.tag
    explanation = tag.get("explanation") or {}
    published = as_utc(lead.get("published_at")) or story.first_seen_at
    sentences = [s for s in explanation.get("sentences", []) if isinstance(s, dict)][:3]
    delay = now - story.due_since if story.due_since is not None else None
    return {
        "title": one_line(lead.get("title"), TITLE_MAX_CHARS) or one_line(safe_url(lead.get("url")), TITLE_MAX_CHARS),
        "url": safe_url(lead.get("url")),
        "outlet": one_line(lead.get("outlet"), LABEL_MAX_CHARS),
        "language": one_line(lead.get("language"), 16) or "?",
        "published_utc": published.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "published_local": published.astimezone(ZoneInfo(rule.timezone)).strftime(f"%Y-%m-%d %H:%M {rule.timezone}"),
        "grade": tag["grade"],
        "score": f"{tag['score']:.2f}",
        "summary": one_line(explanation.get("summary", "")),
        "actors": one_line(", ".join(story.signature.get("actors", []))),
        "facets": one_line(", ".join(story.signature.get("facets", []))),
        "sentences": [highlight(s) for s in sentences],
        "plain_sentences": [one_line(s.get("text", ""), SENTENCE_MAX_CHARS) for s in sentences],
        "others": [
            {"outlet": one_line(outlet, LABEL_MAX_CHARS), "language": one_line(lang, 16) or "?", "url": safe_url(url)}
            for outlet, lang, url in story.outlets
        ],
        "is_update": story.is_update,
        "what_new": one_line("; ".join(story.what_new)),
        "delay": duration(delay) if delay is not None and delay >= timedelta(minutes=1) else "",
        "due_since": story.due_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if story.due_since else "",
        "delay_reason": one_line(story.delay_reason, LABEL_MAX_CHARS * 2),
    }


def message_id(rule: AlertRule, stories: Sequence[Story], sender: str) -> str:
    """Deterministic: the same stories in the same state give the same Message-ID."""
    key = "|".join([rule.name, *(f"{s.story_id}:{sorted(s.signature.items())}" for s in stories)])
    domain = one_line(sender).rsplit("@", 1)[-1].strip("<>") or "seedwatch"
    return f"<{hashlib.sha1(key.encode()).hexdigest()}@{domain}>"


def _rison(text: str) -> str:
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


def kibana_url(rule: AlertRule, base_url: str | None) -> str | None:
    """Discover with the rule's topic, grade, facets and actors as a KQL query."""
    if not base_url:
        return None
    clauses = [f"topics:{rule.topic}", f"grade >= {rule.min_grade}"]
    if rule.facets:
        clauses.append("facets:(" + " or ".join(f'"{f}"' for f in rule.facets) + ")")
    if rule.actors:
        clauses.append("actors:(" + " or ".join(f'"{a}"' for a in rule.actors) + ")")
    query = quote(_rison(" and ".join(clauses)), safe="")
    return f"{base_url.rstrip('/')}/app/discover#/?_a=(query:(language:kuery,query:{query}))"


def readable_topic(topic: str) -> str:
    """A topic id as words: ``north_sea_fisheries`` → ``North sea fisheries``."""
    return topic.replace("_", " ").replace("-", " ").strip().capitalize()


def topic_titles(topics_dir: Path, topics: Iterable[str]) -> dict[str, str]:
    """The analyst's title of each topic that has one: ``title:`` of its profile file
    (``topics_dir/<topic>.yaml``). Read without building the profile (cheap, every run);
    a topic drawn from its seeds alone is named by the title its tags carry (:func:`compose`)."""
    titles = {}
    for topic in topics:
        title = None
        try:
            data = yaml.safe_load((topics_dir / f"{topic}.yaml").read_text(encoding="utf-8"))
            title = data.get("title") if isinstance(data, dict) else None
        except (OSError, yaml.YAMLError):
            pass  # no profile file, or one the profile loader reports
        if isinstance(title, str) and title.strip():
            titles[topic] = one_line(title)
    return titles


def subject_for(rule: AlertRule, stories: Sequence[Story], top_title: str) -> str:
    new = sum(not s.is_update for s in stories)
    updates = len(stories) - new
    parts = []
    if new:
        parts.append(f"{new} new {'story' if new == 1 else 'stories'}")
    if updates:
        parts.append(f"{updates} {'update' if updates == 1 else 'updates'}")
    return one_line(f"{rule.subject_prefix} {', '.join(parts)}: {top_title}")[:250]


def compose(
    rule: AlertRule,
    smtp: SmtpSettings,
    stories: Sequence[Story],
    *,
    now: datetime,
    kibana: str | None,
    message_id: str,
    topic_title: str | None = None,
) -> EmailMessage:
    """The email for ``stories`` (already in the order to show, the top one first).

    ``topic_title``: how the email names the topic (see :func:`topic_titles`); without
    one, the title the stories' tags carry (drawn from the seeds: "A–B relations"), else
    the topic's id made readable."""
    views = [_story_view(s, rule, now) for s in stories]
    subject = subject_for(rule, stories, views[0]["title"])
    count = len(stories)
    drawn = next((t for s in stories if isinstance(t := (s.tag.get("explanation") or {}).get("topic_title"), str)), "")
    title = one_line(topic_title) or one_line(drawn) or readable_topic(rule.topic)
    heading = f"{count} relevant {'story' if count == 1 else 'stories'}: {title}"
    context = {
        "subject": subject,
        "heading": heading,
        "stories": views,
        "kibana": kibana_url(rule, kibana),
        "rule": rule.name,
    }
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = smtp.sender
    message["To"] = ", ".join(rule.recipients)
    message["Date"] = formatdate(now.timestamp(), usegmt=True)
    message["Message-ID"] = message_id
    message["X-Seedwatch-Rule"] = rule.name
    message.set_content(_TEXT.get_template("stories.txt.j2").render(context))
    message.add_alternative(_HTML.get_template("stories.html.j2").render(context), subtype="html")
    # Headers fold only past RFC 5322's hard limit: at 78 characters, the library moves a
    # subject that fits on a line of its own to the next line, leaving "Subject:" empty.
    message.policy = message.policy.clone(max_line_length=998)
    return message
