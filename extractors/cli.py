"""``seedwatch extract FILE... [--url URL]``: saved HTML pages to one JSON line each."""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from extractors.news import extract_article

_GZIP_MAGIC = b"\x1f\x8b"


def read_html_file(path: Path) -> bytes:
    """The bytes of a saved page, decompressed when it is gzipped (by content, not name)."""
    data = path.read_bytes()
    return gzip.decompress(data) if data.startswith(_GZIP_MAGIC) else data


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def run(files: list[Path], url: str | None) -> int:
    """Print one JSON object per file on stdout; exit code 1 if any file could not be read."""
    status = 0
    for path in files:
        try:
            html = read_html_file(path)
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            print(json.dumps({"file": str(path), "error": str(error)}, ensure_ascii=False))
            status = 1
            continue
        article = extract_article(html, url)
        record = {"file": str(path), **{key: _json_value(value) for key, value in asdict(article).items()}}
        print(json.dumps(record, ensure_ascii=False))
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seedwatch extract", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path, help="saved HTML pages (plain or .gz)")
    parser.add_argument("--url", default=None, help="the pages' URL (resolves links, date candidate)")
    args = parser.parse_args(argv)
    return run(args.files, args.url)


if __name__ == "__main__":
    sys.exit(main())
