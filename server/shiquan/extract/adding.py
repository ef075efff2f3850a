"""Adding a plan to a data folder: ``prepare`` reads it (a plan's text, extracted, or its Turtle), ``check``
validates it together with the whole folder, ``write`` puts it under its slug.

The plan is validated with every file of the folder (the registers of matters, divisions and bodies,
and the other plans), so that matters it reuses resolve; a plan already in the folder is refused
unless it is to be replaced, and then its old file is left out of the check.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import RDF, Graph, URIRef

from shiquan.errors import BadInput
from shiquan.extract.build import extract
from shiquan.extract.result import Extraction
from shiquan.extract.text import read_text
from shiquan.graph import loading, validation
from shiquan.graph.report import Report
from shiquan.vocab import SQ


@dataclass
class Candidate:
    """A plan read for adding: its graph, IRI and slug, the file it goes to, and the extraction (for a text)."""

    graph: Graph
    plan: URIRef
    slug: str
    target: Path
    extraction: Extraction | None = None


def _plan_of(graph: Graph, source: Path) -> URIRef:
    """The one plan of a Turtle file that has assignments stated in it. Raises BadInput otherwise."""
    plans = sorted({p for p in graph.objects(None, SQ.statedIn) if (p, RDF.type, SQ.Plan) in graph})
    if len(plans) != 1:
        raise BadInput(f"holds {len(plans)} plans with assignments (sq:statedIn); add one plan at a time", str(source))
    return plans[0]


def prepare(source: Path, data_dir: Path, overrides: Mapping[str, Any] | None = None, *,
            replace: bool = False) -> Candidate:
    """Read ``source`` (a plan's text, or Turtle by its .ttl suffix) against the graph of ``data_dir``.

    Raises BadInput when the file cannot be read or holds no one plan, when the folder cannot be
    read, and when the plan is already in the folder and ``replace`` is false.
    """
    if not data_dir.is_dir():
        raise BadInput("is not a data folder (--data)", str(data_dir))
    known = loading.union(loading.read_paths([data_dir]).values())
    extraction = None
    if source.suffix == ".ttl":
        graph = loading.union(loading.read_paths([source]).values())
        plan = _plan_of(graph, source)
    else:
        try:
            raw = source.read_bytes()
        except OSError as exc:
            raise loading.unreadable(source, exc) from exc
        extraction = extract(read_text(raw), known=known, overrides=overrides)
        graph, plan = extraction.graph, extraction.plan
    slug = str(plan).rsplit("/", 1)[-1]
    target = data_dir / f"{slug}.ttl"
    if not replace:
        if target.exists():
            raise BadInput(f"the plan {slug} is already in the data ({target}); give --replace to overwrite it")
        if (plan, SQ.text, None) in known or (plan, RDF.type, SQ.Plan) in known and any(known.subjects(SQ.statedIn, plan)):
            raise BadInput(f"the plan {slug} is already in the data folder {data_dir}; give --replace to overwrite it")
    return Candidate(graph, plan, slug, target, extraction)


def check(candidate: Candidate, data_dir: Path, settings: Mapping[str, Any]) -> Report:
    """Validate the plan with every RDF file of ``data_dir`` (its old file left out), ontology and inferences.

    Raises BadInput for an unreadable file, InconsistentGraph when the closure finds a contradiction.
    """
    others = [p for p in loading.rdf_files([data_dir]) if p.resolve() != candidate.target.resolve()]
    with tempfile.TemporaryDirectory(prefix="shiquan-add-") as folder:
        staged = Path(folder) / candidate.target.name
        staged.write_text(candidate.graph.serialize(format="turtle"), encoding="utf-8")
        return validation.validate(settings, paths=[*map(str, others), str(staged)])


def write(candidate: Candidate) -> Path:
    """Write the plan's Turtle to its file in the data folder, through a temporary file renamed into place."""
    staged = candidate.target.with_name(f".{candidate.target.name}.tmp")
    staged.write_text(candidate.graph.serialize(format="turtle"), encoding="utf-8")
    staged.replace(candidate.target)
    return candidate.target
