"""Files the Elasticsearch backend and the stack set-up need at run time.

They ship inside the package (``seedwatch/index/resources/``, read with
:mod:`importlib.resources`), so an installed seedwatch (a wheel, the Docker image)
needs no checkout beside it.

The one rule for overrides: **a file in the configuration directory wins over the
packaged default of the same relative path.** The configuration directory is the
one ``seedwatch.yaml`` is read from (``SEEDWATCH_CONFIG_DIR``, default ``./config``,
or the directory a caller passes). So ``<config>/elasticsearch/articles-template.json``
replaces the packaged article template; ``<config>/kibana/seedwatch.ndjson``
replaces the Kibana objects seedwatch renders (see :mod:`seedwatch.index.kibana`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

# Packaged defaults, by the path an override takes under the configuration directory.
PACKAGED = {
    "elasticsearch/articles-template.json": "articles-template.json",
    "elasticsearch/feeds-template.json": "feeds-template.json",
    "elasticsearch/percolator-mapping.json": "percolator-mapping.json",
}


def config_dir(explicit: Path | None = None) -> Path:
    """The configuration directory overrides are looked up in (the settings' own rule)."""
    if explicit is not None:
        return explicit
    from seedwatch.settings import config_dir_from_env  # late: settings imports the index package

    return config_dir_from_env()


def override_path(relative: str, directory: Path | None = None) -> Path | None:
    """``<config dir>/<relative>`` if that file exists, else None."""
    candidate = config_dir(directory) / relative
    return candidate if candidate.is_file() else None


def packaged_text(relative: str) -> str:
    """The packaged default of ``relative`` (a key of :data:`PACKAGED`)."""
    return resources.files(__name__).joinpath(PACKAGED[relative]).read_text(encoding="utf-8")


def read_text(relative: str, directory: Path | None = None) -> str:
    """The override in the configuration directory if there is one, else the packaged default."""
    override = override_path(relative, directory)
    return override.read_text(encoding="utf-8") if override else packaged_text(relative)


def load_json(relative: str, directory: Path | None = None) -> dict[str, Any]:
    """:func:`read_text` parsed; cached per resolved file, so callers must copy before changing it."""
    override = override_path(relative, directory)
    return _parse(str(override) if override else None, relative)


@cache
def _parse(override: str | None, relative: str) -> dict[str, Any]:
    text = Path(override).read_text(encoding="utf-8") if override else packaged_text(relative)
    return json.loads(text)
