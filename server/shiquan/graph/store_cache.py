"""The prepared store kept on disk — loaded, inferred, validated — so that a restart on unchanged data reopens it.

An entry is a folder ``STORE_CACHE_DIR/<key>/`` holding ``store/`` (an Oxigraph RocksDB store, opened read-only)
and ``manifest.json`` (what :class:`loading.KnowledgeGraph` says of the dataset: counts, version, sources). The key
is a hash of everything that shapes the prepared store: the data and ontology files' bytes (the dataset version),
the shapes and the SHACL engine (the verdict), the loading and inference code, VALIDATE_ON_LOAD, and the shiquan
and pyoxigraph versions. An entry is written in a ``.partial-…`` folder and renamed into place only when complete,
under a lock file, so that a process killed halfway leaves nothing that is used and two servers starting on the
same data write it once. The newest KEEP entries are kept.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from shiquan.graph import dataset, loading, reasoning, shacl, validation

log = logging.getLogger(__name__)

KEEP = 3  # entries kept in STORE_CACHE_DIR, the most recently used first
MANIFEST = "manifest.json"
PARTIAL = ".partial-"


def root(settings: Mapping[str, Any]) -> Path | None:
    """The cache folder: STORE_CACHE_DIR, ~/.cache/shiquan/stores when None; None when it is the empty string (off),
    or when the store is not the default in-memory one (STORE_PATH, STORE_URL, no workers)."""
    folder = settings.get("STORE_CACHE_DIR")
    if folder == "" or settings.get("STORE_PATH") or settings.get("STORE_URL") or not int(settings["WORKERS"]):
        return None
    return Path(folder or Path.home() / ".cache" / "shiquan" / "stores")


def key(settings: Mapping[str, Any], version: str) -> str:
    """The entry's name for the dataset of ``version`` (:func:`loading.version_of` of the ontology and data files)
    under ``settings``: it changes with the shapes, the code that loads, infers and validates, and the library
    versions. Raises BadInput when a shapes file cannot be read."""
    digest = hashlib.sha256(f"{version}\0{bool(settings.get('VALIDATE_ON_LOAD', True))}\0".encode())
    digest.update(f"{_package_version()}\0{ox.__version__}\0".encode())
    code = [Path(m.__file__) for m in (loading, reasoning, dataset, validation)]
    code += sorted(Path(shacl.__file__).parent.glob("*.py"))
    for path in [*loading.rdf_files([settings["SHAPES_DIR"]]), *code]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def _package_version() -> str:
    try:
        return metadata.version("shiquan")
    except metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Entry:
    """A complete entry: its store folder, opened read-only by each worker, and what its manifest says."""

    path: Path
    counts: dict[str, int]
    version: str
    load_seconds: float

    @property
    def store(self) -> str:
        return str(self.path / "store")


def find(settings: Mapping[str, Any]) -> Entry | None:
    """The complete entry for the current files of ``settings``, None when there is none (or the cache is off).

    An entry whose manifest or store cannot be read is removed (and so rebuilt). Raises BadInput for files that
    cannot be read.
    """
    folder = root(settings)
    if folder is None or not any(folder.glob(f"*/{MANIFEST}")):  # nothing kept: the files need not be hashed
        return None
    name = key(settings, loading.version_of([path for path, _graph, _fmt in loading.plan(settings)]))
    path = folder / name
    if not path.is_dir():
        return None
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if manifest["key"] != name:
            raise ValueError(f"manifest of {manifest['key']}")
        ox.Store.read_only(str(path / "store"))  # refuses a store RocksDB cannot open
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:  # RocksDB: RuntimeError "Corruption: …"
        log.warning("the kept store %s is unusable (%s): removed, the data is prepared again", path, exc)
        shutil.rmtree(path, ignore_errors=True)
        return None
    os.utime(path / MANIFEST)  # the most recently used entry is the last pruned
    return Entry(path, manifest["counts"], manifest["version"], float(manifest["loadSeconds"]))


def write(kg: loading.KnowledgeGraph, settings: Mapping[str, Any]) -> Path | None:
    """Keep the prepared ``kg`` (an in-memory store) as the entry for its version; returns the entry's folder, or
    None when the cache is off or another process is writing it. Prunes all but the KEEP newest entries. Raises
    OSError when the folder cannot be written."""
    folder = root(settings)
    if folder is None:
        return None
    name = key(settings, kg.version)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is keeping this store: not written twice")
            return None
        if (folder / name / MANIFEST).exists():
            return folder / name
        _remove(folder, name)  # an incomplete folder, or what a killed writer left
        started = time.perf_counter()
        partial = folder / f"{PARTIAL}{name}"
        _fill_entry(kg, partial, name)
        os.rename(partial, folder / name)
        log.info("kept the prepared store in %s (%.1f s)", folder / name, time.perf_counter() - started)
    prune(folder, keep=KEEP)
    return folder / name


def _fill_entry(kg: loading.KnowledgeGraph, partial: Path, name: str) -> None:
    """Write the store and then the manifest of entry ``name`` into ``partial``. Raises OSError."""
    partial.mkdir()
    dump = partial / "dump.nq"
    # dump and bulk_load, all in Rust: national3 (883 k quads) in 0.7 + 11.8 s, bulk_extend over Python quads 37 s
    kg.store.dump(output=str(dump), format=ox.RdfFormat.N_QUADS)
    disk = ox.Store(str(partial / "store"))
    disk.bulk_load(path=str(dump), format=ox.RdfFormat.N_QUADS)
    disk.flush()
    del disk
    dump.unlink()
    manifest = {"key": name, "version": kg.version, "counts": kg.triples_per_graph, "loadSeconds": kg.load_seconds,
                "quads": sum(kg.triples_per_graph.values()), "pyoxigraph": ox.__version__}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _remove(folder: Path, name: str) -> None:
    for path in (folder / name, folder / f"{PARTIAL}{name}"):
        shutil.rmtree(path, ignore_errors=True)


def prune(folder: Path, keep: int = KEEP) -> None:
    """Remove all but the ``keep`` most recently used complete entries of ``folder`` (and their lock files)."""
    entries = sorted((p for p in folder.iterdir() if (p / MANIFEST).exists()),
                     key=lambda p: (p / MANIFEST).stat().st_mtime_ns, reverse=True)
    for old in entries[keep:]:
        log.info("removing the kept store %s (KEEP = %d)", old, keep)
        shutil.rmtree(old, ignore_errors=True)
        (folder / f"{old.name}.lock").unlink(missing_ok=True)
