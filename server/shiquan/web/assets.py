"""Front-end assets the pages need (the YASGUI build for the query page, Apache ECharts for the charts), fetched
from the npm registry and checked.

Each package is pinned by version and by the registry's sha512 integrity hash, so
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
    "folder": "yasgui",
}
ECHARTS = {
    "name": "echarts",
    "version": "6.1.0",
    "tarball": "https://registry.npmjs.org/echarts/-/echarts-6.1.0.tgz",
    "integrity": "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
    "files": ["dist/echarts.min.js"],
    "licence": "Apache-2.0",
    "folder": "echarts",
}
PACKAGES = (YASGUI, ECHARTS)


def assets_dir(config: Mapping[str, Any], package: Mapping[str, Any] = YASGUI) -> Path:
    """Where a package's files live (YASGUI's by default): under ASSETS_DIR, else ~/.cache/shiquan/assets."""
    base = Path(config.get("ASSETS_DIR") or Path.home() / ".cache" / "shiquan" / "assets")
    return base / f"{package['folder']}-{package['version']}"


def present(config: Mapping[str, Any], package: Mapping[str, Any] = YASGUI) -> bool:
    """Whether every file of ``package`` (YASGUI by default) is installed."""
    folder = assets_dir(config, package)
    return all((folder / Path(name).name).is_file() for name in package["files"])


def _check_integrity(data: bytes, package: Mapping[str, Any]) -> None:
    algorithm, _, expected = package["integrity"].partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ShiquanError(f"{package['tarball']} does not match its pinned {algorithm} integrity hash; not installed")


def install_package(config: Mapping[str, Any], package: Mapping[str, Any], timeout_s: float = 60) -> Path:
    """Fetch, check and unpack the pinned ``package`` unless it is there already; return its folder.

    Raises ShiquanError when the registry cannot be reached or the download
    does not match its integrity hash.
    """
    folder = assets_dir(config, package)
    if present(config, package):
        return folder
    try:
        with urllib.request.urlopen(package["tarball"], timeout=timeout_s) as response:  # noqa: S310 (fixed https URL)
            data = response.read()
    except OSError as exc:
        raise ShiquanError(f"cannot fetch {package['name']} {package['version']} from the npm registry: {exc}") from exc
    _check_integrity(data, package)
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for name in package["files"]:
            member = archive.extractfile(f"package/{name}")
            if member is None:
                raise ShiquanError(f"{name} is missing from {package['tarball']}")
            target = folder / Path(name).name
            partial = target.with_suffix(target.suffix + ".part")
            partial.write_bytes(member.read())
            partial.replace(target)
    return folder


def install(config: Mapping[str, Any], timeout_s: float = 60) -> Path:
    """Install every package of PACKAGES (see :func:`install_package`); return YASGUI's folder. Raises ShiquanError
    as it does."""
    for package in PACKAGES:
        install_package(config, package, timeout_s)
    return assets_dir(config)
