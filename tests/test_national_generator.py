"""The national-scale generator (benchmarks/national.py): a tiny graph conforms, is reproducible and is counted right."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from rdflib import RDF, Graph

from shiquan import config
from shiquan.graph import loading
from shiquan.graph import validation
from shiquan.vocab import SQ

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "national.py"
# One province keeps the divisions register small enough to validate in a few seconds;
# --scale 0.1 gives one provincial and one city plan, under the two national plans.
TINY = ["--scale", "0.1", "--fields", "2", "--provinces", "1", "--seed", "7"]


def generate(out: Path, *flags: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "-o", str(out), *flags],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=60,
    )
    return done.stdout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, str, Graph]:
    out = tmp_path_factory.mktemp("national") / "tiny.nq"
    printed = generate(out, *TINY)
    graphs = loading.read_file(out)
    return out, printed, graphs


def printed_number(printed: str, key: str, part: str | None = None) -> int:
    line = re.search(rf"^{key}: (.*)$", printed, re.MULTILINE).group(1)
    if part is None:
        return int(line.split()[0])
    return int(re.search(rf"\b{part} (\d+)", line).group(1))


def test_tiny_graph_conforms_to_the_shapes(tiny):
    _out, _printed, graphs = tiny
    data = loading.union(graphs.values())
    report = validation.validate_graph(data, *validation.schema(config.settings()))
    assert report.violations == []
    assert report.conforms


def test_same_flags_give_the_same_bytes(tiny, tmp_path):
    out, _printed, _graphs = tiny
    again = tmp_path / "again.nq"
    generate(again, *TINY)
    assert again.read_bytes() == out.read_bytes()


def test_another_seed_gives_other_bytes(tiny, tmp_path):
    out, _printed, _graphs = tiny
    other = tmp_path / "other.nq"
    generate(other, *TINY[:-1], "8")
    assert other.read_bytes() != out.read_bytes()


def test_printed_counts_match_the_file(tiny):
    out, printed, graphs = tiny
    union = loading.union(graphs.values())
    assert printed_number(printed, "triples") == sum(len(g) for g in graphs.values()) == len(union)
    assert printed_number(printed, "graphs") == len(graphs)
    assert printed_number(printed, "bytes") == out.stat().st_size
    plans = list(union.subjects(RDF.type, SQ.Plan))
    per_level = defaultdict(int)
    for plan in plans:
        per_level[str(union.value(plan, SQ.levelPair))] += 1
    assert printed_number(printed, "plans") == len(plans) == len(graphs) - 2
    assert printed_number(printed, "plans", "national") == per_level["中央与地方"] == 2
    assert printed_number(printed, "plans", "provincial") == per_level["省与市县"] >= 1
    assert printed_number(printed, "plans", "prefectural") == per_level["市与县区"] >= 1
    divisions = set(union.subjects(RDF.type, SQ.AdministrativeDivision))
    assert printed_number(printed, "divisions") == len(divisions)
    for part, level in (("country", SQ.CentralLevel), ("provincial", SQ.ProvincialLevel),
                        ("prefectural", SQ.PrefecturalLevel), ("county", SQ.CountyLevel)):
        assert printed_number(printed, "divisions", part) == sum(1 for d in divisions if union.value(d, SQ.level) == level)
    assert printed_number(printed, "matters") == len(set(union.subjects(RDF.type, SQ.Matter)))
    assert printed_number(printed, "assignments") == len(set(union.subjects(RDF.type, SQ.Assignment)))


def test_every_plan_has_its_own_named_graph_and_the_registers_theirs(tiny):
    _out, _printed, graphs = tiny
    names = {str(name).rsplit("/", 1)[1] for name in graphs}
    assert {"divisions", "matters"} <= names
    for name, graph in graphs.items():
        plans = set(graph.subjects(RDF.type, SQ.Plan))
        assert len(plans) == (0 if str(name).endswith(("/divisions", "/matters")) else 1)
        assert all(str(plan).rsplit("/", 1)[1] == str(name).rsplit("/", 1)[1] for plan in plans)


def test_joint_payers_shares_sum_to_hundred(tiny):
    _out, _printed, graphs = tiny
    union = loading.union(graphs.values())
    payers = set(union.subjects(RDF.type, SQ.JointPayer))
    assert payers, "the tiny graph should hold shared powers"
    for payer in payers:
        shares = [union.value(share, SQ.percentage).toPython() for share in union.objects(payer, SQ.share)]
        assert len(shares) == 2
        assert sum(shares, Decimal(0)) == 100


def test_plans_chain_up_to_a_national_plan(tiny):
    _out, _printed, graphs = tiny
    union = loading.union(graphs.values())
    for plan in union.subjects(SQ.levelPair, None):
        pair = str(union.value(plan, SQ.levelPair))
        steps = 0
        while (parent := union.value(plan, SQ.basedOn)) is not None:
            plan, steps = parent, steps + 1
        assert steps == {"中央与地方": 0, "省与市县": 1, "市与县区": 2}[pair]
