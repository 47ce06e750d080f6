"""Exceptions of seedwatch.

Expected failures of feeds and pages (timeouts, 500s, broken XML, refused URLs)
are *values* (``PollStatus``, ``FetchStatus``), not exceptions. Exceptions are
for what the operator must fix, or for bugs, so Airflow retries and reports them::

    SeedwatchError
    ├── ConfigError        a configuration file or value is invalid (names file, key, fix)
    ├── StoreError         the state store cannot be used: down, unreachable, read-only,
    │                      corrupted, locked or timed out (one sentence naming it)
    └── QueryError         a search query cannot be parsed (see seedwatch.index.query)
"""

from __future__ import annotations


class SeedwatchError(Exception):
    """Base class of every error seedwatch raises on purpose."""


class ConfigError(SeedwatchError):
    """An invalid configuration: says which file, which key, what is wrong and the fix."""

    def __init__(self, file: str, key: str, problem: str, fix: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.file}: {key}: {problem}. Fix: {fix}")


class ConfigErrors(ConfigError):  # noqa: N818 - a collection of ConfigError
    """Several configuration errors found at once (all reported, not just the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.file, first.key, first.problem, first.fix)
        self.args = ("\n".join(str(e) for e in errors),)

    def __str__(self) -> str:
        return self.args[0]


class StoreError(SeedwatchError):
    """The state store cannot be opened, migrated, read or written.

    Raised for faults of the store itself (see ``seedwatch.store.state``), with one sentence
    that names the store (never its password) and what to check; a value one row cannot hold
    stays a database error, handled per item by the pipeline.
    """


class QueryError(SeedwatchError):
    """A search query cannot be parsed."""
