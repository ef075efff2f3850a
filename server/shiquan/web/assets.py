"""Front-end assets the query page needs (the YASGUI build), fetched from the npm registry and checked.

The package is pinned by version and by the registry's sha512 integrity hash, so
what is served is exactly what was reviewed; nothing is loaded from a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shiquan.errors import ShiquanError

YASGUI = {
    "name": "@zazuko/yasgui",
    "version": "4.6.2",
    "tarball": "https://registry.npmjs.org/@zazuko/yasgui/-/yasgui-4.6.2.tgz",
    "integrity": "sha512-Zw45KdPoAE1KRaAoxIHdQqeJxvaVG1oQdntw0hy0ktX35Zu8ZccuOLrXCLwR+GU+0xMzLw8Mjw6BkSZV2vUuQw==",
    "files": ["build/yasgui.min.js", "build/yasgui.min.css"],
    "licence": "MIT",
}


def assets_dir(config: Mapping[str, Any]) -> Path:
    """Where the YASGUI files live: ASSETS_DIR, else ~/.cache/shiquan/assets."""
    base = Path(config.get("ASSETS_DIR") or Path.home() / ".cache" / "shiquan" / "assets")
    return base / f"yasgui-{YASGUI['version']}"


def present(config: Mapping[str, Any]) -> bool:
    folder = assets_dir(config)
    return all((folder / Path(name).name).is_file() for name in YASGUI["files"])


def _check_integrity(data: bytes) -> None:
    algorithm, _, expected = YASGUI["integrity"].partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ShiquanError(f"{YASGUI['tarball']} does not match its pinned {algorithm} integrity hash; not installed")


def install(config: Mapping[str, Any], timeout_s: float = 60) -> Path:
    """Fetch, check and unpack the pinned YASGUI build unless it is there already; return its folder.

    Raises ShiquanError when the registry cannot be reached or the download
    does not match its integrity hash.
    """
    folder = assets_dir(config)
    if present(config):
        return folder
    try:
        with urllib.request.urlopen(YASGUI["tarball"], timeout=timeout_s) as response:  # noqa: S310 (fixed https URL)
            data = response.read()
    except OSError as exc:
        raise ShiquanError(f"cannot fetch {YASGUI['name']} {YASGUI['version']} from the npm registry: {exc}") from exc
    _check_integrity(data)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name in YASGUI["files"]:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise ShiquanError(f"{name} is missing from {YASGUI['tarball']}")
            target = folder / Path(name).name
            partial = target.with_suffix(target.suffix + ".part")
            partial.write_bytes(member.read())
            partial.replace(target)
    return folder
