"""Print seedwatch's Kibana saved objects (NDJSON) for a configuration.

    python docker/kibana_objects.py [--config DIR] [--prefix PREFIX] > seedwatch.ndjson

The objects are rendered by :mod:`seedwatch.index.kibana` for the configured
``index_prefix`` and topics; ``seedwatch-init`` renders and imports them itself, so
this is for importing by hand (Kibana: Stack Management, Saved objects, Import) or
for starting an override (``<config>/kibana/seedwatch.ndjson``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seedwatch.index.kibana import saved_objects, to_ndjson, topics_from_settings
from seedwatch.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=None, help="configuration directory (default: as settings)")
    parser.add_argument("--prefix", default=None, help="index prefix (default: index.elasticsearch.index_prefix)")
    args = parser.parse_args(argv)
    settings = load_settings(args.config)
    es = settings.index.elasticsearch
    if args.prefix:
        es.index_prefix = args.prefix  # validated on assignment
    sys.stdout.buffer.write(to_ndjson(saved_objects(es, topics_from_settings(settings))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
