"""Logging set-up: structlog key-value lines on stderr, so stdout stays for results."""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure_logging(level: str | None = None) -> None:
    """Route structlog and stdlib logging to stderr at ``level`` ($SEEDWATCH_LOG_LEVEL, default WARNING)."""
    name = (level or os.environ.get("SEEDWATCH_LOG_LEVEL", "WARNING")).upper()
    numeric = logging.getLevelNamesMapping().get(name, logging.WARNING)
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
