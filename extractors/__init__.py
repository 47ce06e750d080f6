"""Article extraction: typed results from saved or fetched HTML pages.

The public surface is :func:`extract_article`; see :mod:`extractors.news`.
"""

from __future__ import annotations

from extractors.news import extract_article

__all__ = ["extract_article"]
