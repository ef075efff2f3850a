"""Every setting of Shiquan with its default; the README's configuration table matches this class."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Defaults:
    # Folder of the ontology's Turtle files (shiquan.ttl, alignments.ttl).
    ONTOLOGY_DIR = str(PROJECT_ROOT / "ontology")
    # Folder of the SHACL shapes, one Turtle file per target class.
    SHAPES_DIR = str(PROJECT_ROOT / "shapes")
    # Files or folders of instance data to serve; folders are read for RDF files, not recursively.
    DATA_PATHS = [str(PROJECT_ROOT / "data")]
    # Folder of the example queries shown on the query page and tested.
    QUERIES_DIR = str(PROJECT_ROOT / "queries")
    # Seconds a query may run before it is stopped and answered with 503.
    QUERY_TIMEOUT_S = 10.0
    # Most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) one answer may hold.
    MAX_RESULT_ROWS = 100_000
    # Largest request body accepted, in bytes (queries and /validate uploads).
    MAX_BODY_BYTES = 5 * 1024 * 1024
    # Endpoints a query may call with SERVICE; empty refuses every SERVICE call.
    SERVICE_ALLOWLIST: list[str] = []
    # Public base of instance IRIs; the server answers them at /id/… on its own host.
    ID_BASE = "https://w3id.org/shiquan/id/"


def from_env(prefix: str = "SHIQUAN", environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings named ``{prefix}_{KEY}`` in the environment, read as Flask's ``from_prefixed_env`` reads them:
    JSON when the value parses as JSON, else the plain string."""
    found: dict[str, Any] = {}
    for name, raw in (os.environ if environ is None else environ).items():
        if not name.startswith(prefix + "_"):
            continue
        try:
            found[name[len(prefix) + 1 :]] = json.loads(raw)
        except ValueError:
            found[name[len(prefix) + 1 :]] = raw
    return found


def settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``SHIQUAN_*`` environment settings, then ``overrides``: what the CLI runs with."""
    merged = {key: getattr(Defaults, key) for key in dir(Defaults) if key.isupper()}
    merged.update(from_env())
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return merged
