"""Alert rules (``config/alerts.yaml``) and SMTP settings, validated when loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from seedwatch.errors import ConfigError, ConfigErrors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A rule's name keys its ledger rows and, behind this prefix, its lease (send.py, operations.py).
RULE_LEASE_PREFIX = "alerts:"


def rule_name_max_length() -> int:
    """The longest rule name the store's columns hold (PostgreSQL refuses longer ones; SQLite would not)."""
    from seedwatch.alerting.ledger import alert_ledger
    from seedwatch.store.schema import leases

    return min(alert_ledger.c.rule.type.length, leases.c.name.type.length - len(RULE_LEASE_PREFIX))


class SmtpSettings(_Strict):
    """How to reach the mail server: ``smtp:`` in seedwatch.yaml (CLI) or the Airflow connection."""

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    # ssl: TLS from the first byte (usually port 465); starttls: upgrade a plain session (587).
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    # Never in a file: SEEDWATCH_SMTP_PASSWORD, or the Airflow connection's password.
    password: SecretStr | None = Field(default_factory=lambda: _env_secret("SEEDWATCH_SMTP_PASSWORD"))
    sender: str = "seedwatch@localhost"
    timeout_s: float = 30.0


def _env_secret(name: str) -> SecretStr | None:
    value = os.environ.get(name)
    return SecretStr(value) if value else None


def smtp_settings_from_airflow_connection(conn: Any) -> SmtpSettings:
    """SMTP settings from an Airflow connection (``seedwatch_smtp``).

    ``extra`` may say ``security`` (none | starttls | ssl) outright; otherwise the SMTP
    provider's own keys are honoured as Airflow reads them (``disable_ssl``/``disable_tls``:
    SSL unless disabled, else STARTTLS unless disabled), then the older ``use_ssl``/``use_tls``.
    """
    extra = getattr(conn, "extra_dejson", {}) or {}
    if "security" in extra:
        security = extra["security"]
    elif "disable_ssl" in extra or "disable_tls" in extra:
        security = (
            "ssl"
            if not _true(extra.get("disable_ssl"))
            else "starttls"
            if not _true(extra.get("disable_tls"))
            else "none"
        )
    elif _true(extra.get("use_ssl")):
        security = "ssl"
    elif _true(extra.get("use_tls", extra.get("starttls"))):
        security = "starttls"
    else:
        security = "none"
    return SmtpSettings(
        host=conn.host or "127.0.0.1",
        port=conn.port or (465 if security == "ssl" else 587 if security == "starttls" else 25),
        security=security,
        username=conn.login or None,
        password=SecretStr(conn.password) if conn.password else None,
        sender=extra.get("from_email", extra.get("sender", "seedwatch@localhost")),
        timeout_s=float(extra.get("timeout", 30)),
    )


def _true(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


class AlertRule(_Strict):
    """One rule of alerts.yaml: who gets which stories of one topic, and when."""

    name: str = Field(min_length=1, pattern=r"^[\w.-]+$")
    recipients: list[str] = Field(min_length=1)
    topic: str = ""  # a seeds/<topic>/ directory; required for a stories rule
    kind: Literal["stories", "operations"] = "stories"
    min_grade: int = Field(2, ge=0, le=2)
    min_score: float = Field(0.0, ge=0, le=1)
    facets: list[str] = []
    actors: list[str] = []
    query: str | None = None
    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    daily_at: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    subject_prefix: str = "[seedwatch]"
    # Only stories with a copy first seen this recently: a new rule on a full store does
    # not email its whole history, and each run reads a bounded slice of the store.
    lookback_hours: int = Field(72, ge=1, le=24 * 366)

    @field_validator("name")
    @classmethod
    def _fits_the_store(cls, value: str) -> str:
        if len(value) > (limit := rule_name_max_length()):
            raise ValueError(f"the name is {len(value)} characters long; the store holds at most {limit}")
        return value

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        # Parsed now, not at the first run: a query that fails there stops the rule every run.
        from seedwatch.index.query import parse, to_elasticsearch

        if value is not None:
            try:
                to_elasticsearch(parse(value))
            except Exception as exc:  # noqa: BLE001 - QuerySyntaxError, or whatever a translation raises
                raise ValueError(f"the query is not valid: {exc}") from None
        return value

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        for value in values:
            local, at, domain = value.rpartition("@")
            if (
                not at
                or not local
                or not domain
                or "@" in local
                or any(c in value for c in " ,;<>\"'")
                or not value.isprintable()
            ):
                raise ValueError(f"{value!r} is not an email address")
        return values

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("subject_prefix")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("the subject prefix must be one line of printable text")
        return value

    @model_validator(mode="after")
    def _stories_need_a_topic(self) -> AlertRule:
        if self.kind == "stories" and not self.topic:
            raise ValueError("a stories rule needs 'topic': the name of a seeds/<topic>/ directory")
        return self

    @model_validator(mode="after")
    def _operations_are_daily(self) -> AlertRule:
        if self.kind == "operations" and "mode" in self.model_fields_set and self.mode != "daily":
            raise ValueError("an operations digest is sent once a day (at daily_at)")
        return self


class _RuleFile(_Strict):
    rules: list[AlertRule] = []


# How to fix each kind of mistake: the error names the file and the key, and says this.
_FIX_BY_FIELD = {
    "name": "use letters, digits, '.', '_' or '-' only, keep it short, and give each rule a unique name",
    "query": "correct the query (the `seedwatch search` syntax, docs/elasticsearch.md), or remove the key",
    "recipients": "list plain addresses, one per item, e.g. [analyst@example.org]",
    "timezone": "use an IANA time zone name such as Europe/Istanbul or UTC",
    "daily_at": 'write the local time quoted, as "HH:MM" (24-hour clock), e.g. daily_at: "08:00"',
    "min_grade": "use 2 (relevant), 1 (relevant or partial) or 0",
    "min_score": "use a number between 0 and 1",
    "lookback_hours": "use a whole number of hours from 1 to 8784, e.g. lookback_hours: 72",
    "subject_prefix": "write it on one line",
    "mode": "use immediate, hourly or daily",
    "kind": "use stories or operations",
}


def _fix(error: Any) -> str:
    field = str(error["loc"][-1]) if error["loc"] else ""
    if error["type"] == "extra_forbidden":
        known = ", ".join(AlertRule.model_fields) if len(error["loc"]) > 1 else "rules"
        return f"remove it or correct its spelling; the keys a rule takes are: {known}"
    if error["type"] == "missing":
        return f"add {field} to the rule"
    if error["type"] == "literal_error":
        return f"use one of {error['ctx']['expected']}"
    if field in _FIX_BY_FIELD:
        return _FIX_BY_FIELD[field]
    if error["type"] == "value_error" and "operations" in error["msg"]:
        return "remove mode from the operations rule, or set it to daily"
    return "correct the value (see docs/alerts.md)"


def _problem(error: Any, data: Any) -> str:
    problem = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        problem = "unknown key"
    loc = error["loc"]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):  # name the rule, not just its position
        try:
            name = data["rules"][loc[1]].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            name = None
        if name:
            problem = f"rule {name!r}: {problem}"
    return problem


def load_alert_rules(path: Path) -> list[AlertRule]:
    """The rules of ``path``; raises ConfigError (ConfigErrors for several) naming file, key and fix."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "(file)", f"not valid YAML ({exc})", "fix the YAML syntax") from None
    try:
        rules = _RuleFile.model_validate(data).rules
    except ValidationError as exc:
        errors = [
            ConfigError(str(path), ".".join(map(str, e["loc"])) or "(file)", _problem(e, data), _fix(e))
            for e in exc.errors()
        ]
        raise (ConfigErrors(errors) if len(errors) > 1 else errors[0]) from None
    names = [rule.name for rule in rules]
    for position, name in enumerate(names):
        if names.index(name) != position:
            raise ConfigError(
                str(path), f"rules.{position}.name", f"duplicate rule name {name!r}", "give each rule a unique name"
            )
    return rules
