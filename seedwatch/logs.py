"""Logging set-up: structlog key-value lines on stderr, so stdout stays for results."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog


class _StderrLogger:
    """A structlog logger writing to whatever ``sys.stderr`` is *now*.

    Binding the stream at set-up would keep writing to a closed file once a harness
    that swapped ``sys.stderr`` (a test runner, an embedding CLI) puts it back.
    """

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = err = critical = exception = fatal = failure = msg


class _StderrHandler(logging.StreamHandler):
    """The stdlib counterpart: a handler whose stream is always the current ``sys.stderr``."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str | None = None) -> None:
    """Route structlog and stdlib logging to stderr at ``level`` ($SEEDWATCH_LOG_LEVEL, default WARNING)."""
    name = (level or os.environ.get("SEEDWATCH_LOG_LEVEL", "WARNING")).upper()
    numeric = logging.getLevelNamesMapping().get(name, logging.WARNING)
    logging.basicConfig(handlers=[_StderrHandler()], level=numeric, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: _StderrLogger(),
        cache_logger_on_first_use=False,
    )
