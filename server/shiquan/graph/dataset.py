"""The dataset pipeline, written once: load the files, infer, validate against the shapes, and leave no half-made
store behind.

The server's keeper (or, with an on-disk store, the server itself), ``shiquan load`` and a reload all prepare
their dataset with :func:`prepare`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shiquan.graph import loading, validation


def prepare(settings: Mapping[str, Any], path: str | None = None, progress: loading.Progress | None = None, *,
            fmt: str | None = None, validate: bool | None = None) -> loading.KnowledgeGraph:
    """The ontology, data and OWL RL inferences of ``settings`` in a new store (in memory, or on disk at ``path``),
    checked against the shapes when ``validate`` (default: VALIDATE_ON_LOAD).

    The store is emptied when any step fails. Raises BadInput for unreadable or bad files, InconsistentGraph when
    the inferences contradict the ontology, BadInput naming the files when the data violates the shapes.
    """
    kg = loading.build_store(settings, path, progress, fmt)  # load → infer; emptied by build_store on failure
    if validate if validate is not None else settings.get("VALIDATE_ON_LOAD", True):
        try:
            validation.refuse_invalid_store(kg, settings, progress)
        except BaseException:
            kg.store.clear()
            raise
    if path:
        kg.store.flush()
    return kg
