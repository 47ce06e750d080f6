"""The alert ledger: what was alerted, per rule and story, and what is in flight.

One row per (rule, story). ``state``:

- ``sending``  claimed and committed *before* the email goes to the server, with the
  Message-ID it carries. Found by a later run, it means the sender died between
  the send and the record: the email is sent again with the same Message-ID.
- ``deferred`` the server could not be reached or refused (4xx/5xx): sent on a later
  run; ``claimed_at`` keeps the first attempt, so the email can show the delay.
- ``sent``     the server answered 250; ``signature`` says what the analyst has seen.

``signature`` is ``{"sent": {...} | None, "pending": {...} | None}``: the facets,
actors, outlets and languages of the story as last alerted, and as in the email in
flight. An update is due when the story gains facets, actors or languages beyond
``sent``. Rows whose ``story_id`` is not a story (``digest-slot``, ``ops:<date>``)
are the digest clocks of a rule.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from seedwatch.store.schema import UTC as UTC_COLUMN
from seedwatch.store.schema import metadata

alert_ledger = sa.Table(
    "alert_ledger",
    metadata,
    sa.Column("rule", sa.String(120), primary_key=True),
    sa.Column("story_id", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(12), nullable=False),  # sending | deferred | sent
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("signature", sa.JSON, nullable=False),  # {"sent": ..., "pending": ...}
    sa.Column("first_seen_at", UTC_COLUMN, nullable=False),
    sa.Column("claimed_at", UTC_COLUMN, nullable=False),  # first attempt of the email in flight
    sa.Column("sent_at", UTC_COLUMN),
    sa.Column("updates", sa.Integer, nullable=False, default=0),
    sa.Column("latency_s", sa.Float),  # first seen -> first alert accepted by the server
)

DIGEST_SLOT = "digest-slot"  # a rule's digest clock: sent_at is the last slot handled

Signature = dict[str, list[str]]


def sent_signature(row: Any) -> Signature | None:
    """What the analyst has seen of the story (None: never alerted)."""
    signature = row.signature or {}
    if "sent" in signature or "pending" in signature:
        return signature.get("sent")
    return signature if row.state == "sent" else None  # rows written before the pending/sent split


def pending_signature(row: Any) -> Signature | None:
    return (row.signature or {}).get("pending")


def upsert(conn: sa.Connection) -> Any:
    """INSERT … ON CONFLICT for the connection's dialect (SQLite or PostgreSQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(alert_ledger)


def where(rule: str, story_id: str) -> sa.ColumnElement[bool]:
    return sa.and_(alert_ledger.c.rule == rule, alert_ledger.c.story_id == story_id)
