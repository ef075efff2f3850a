"""The wheel works from an empty folder: built from this checkout, installed alone into a fresh virtual environment.

The environment sees this machine's packages (``--system-site-packages``, plus the site-packages of the interpreter
running the tests when that is itself a virtual environment), so its dependencies come from here, not the network;
the wheel goes in with ``--no-deps``. Every command runs in ``tmp_path`` with PYTHONPATH removed, so only the
resources the wheel carries (shiquan/ontology, shapes, data, queries) can be found. Verdicts and assets go to
folders of the test. The whole file takes about 15 s on this project's 2-core machine, half of it building the wheel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from shiquan.web import assets

from .conftest import HAIDONG_PLAN, ROOT

# Besides the resources, the wheel's build reads pyproject.toml, README.md and server/: the checkout is copied
# without what a build would add to it or what it does not need.
NOT_BUILT = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", "build", "dist", ".venv", ".pytest_cache",
                                   "node_modules", "tests", "benchmarks")
MATTER_LABELS = f"""PREFIX sq: <https://w3id.org/shiquan/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?label WHERE {{
  ?assignment sq:statedIn <{HAIDONG_PLAN}> ; sq:matter/rdfs:label ?label .
  FILTER(lang(?label) = "zh")
}}"""
COMMAND_TIMEOUT_S = 180
SERVE_READY_S = 120


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of this checkout (a build writes build/ and *.egg-info next to its sources)."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "src", ignore=NOT_BUILT)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-w",
                  str(work / "dist"), str(work / "src")])
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = (work / "dist").glob("shiquan-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment holding the wheel, and this machine's packages for its dependencies."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", str(home)])
    assert made.returncode == 0, made.stderr
    python = str(home / "bin" / "python")
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True).stdout.strip()
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "shiquan-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    installed = _run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed",
                      "--disable-pip-version-check", "--quiet", str(wheel)])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The environment of a user who has only the wheel: no PYTHONPATH, no SHIQUAN_* settings but the test's folders."""
    folder = tmp_path / "assets"
    stand_in = assets.assets_dir({"ASSETS_DIR": str(folder)})
    stand_in.mkdir(parents=True)
    for name in assets.YASGUI["files"]:  # the page's editor is not under test: nothing is fetched
        (stand_in / Path(name).name).write_text("/* stand-in for the YASGUI build */\n", encoding="utf-8")
    kept = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SHIQUAN_")}
    return kept | {"SHIQUAN_VALIDATED_DIR": str(tmp_path / "validated"), "SHIQUAN_ASSETS_DIR": str(folder)}


@pytest.fixture
def empty(tmp_path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def _inside(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def test_the_venv_imports_shiquan_from_the_wheel(venv, env, empty):
    shown = _run([str(venv / "bin" / "python"), "-c", "import shiquan; print(shiquan.__file__)"], cwd=empty, env=env)
    assert shown.returncode == 0, shown.stderr
    assert _inside(shown.stdout.strip(), venv)
    assert not _inside(shown.stdout.strip(), ROOT)


def test_the_wheel_carries_the_ontology_shapes_data_and_queries(venv, env, empty):
    code = "from shiquan import config; print(*(config.resource_dir(n) for n in ('ontology', 'shapes', 'data', 'queries')))"
    shown = _run([str(venv / "bin" / "python"), "-c", code], cwd=empty, env=env)
    assert shown.returncode == 0, shown.stderr
    folders = shown.stdout.split()
    assert len(folders) == 4 and all(_inside(f, venv) for f in folders)
    assert all(any(Path(f).iterdir()) for f in folders)


def test_validate_from_an_empty_folder_conforms(venv, env, empty):
    result = _run([str(venv / "bin" / "shiquan"), "validate", "--no-progress"], cwd=empty, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Conforms" in result.stdout


def test_query_from_standard_input_answers_from_the_packaged_data(venv, env, empty):
    result = _run([str(venv / "bin" / "shiquan"), "query", "-"], input=MATTER_LABELS, cwd=empty, env=env)
    assert result.returncode == 0, result.stderr
    assert "专利奖励" in result.stdout


def test_export_writes_nquads_naming_the_haidong_plan(venv, env, empty):
    result = _run([str(venv / "bin" / "shiquan"), "export", "--format", "nquads"], cwd=empty, env=env)
    assert result.returncode == 0, result.stderr
    assert f"<{HAIDONG_PLAN}>" in result.stdout
    assert all(line.endswith(" .") for line in result.stdout.splitlines() if line)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _serving(command: list[str], log: Path, **kwargs):
    """Start ``command`` in its own process group; on leaving, SIGTERM it, and kill the group if it lingers."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # anything of the group still there: workers, a hung server
        process.wait()


def _first_answer(process: subprocess.Popen, url: str, log: Path) -> dict:
    """The server's first answer to ``url``, polled until it listens; fails if it exits or takes too long."""
    deadline = time.monotonic() + SERVE_READY_S
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"shiquan serve exited {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except OSError:  # refused until it listens
            time.sleep(0.25)
    pytest.fail(f"shiquan serve did not answer within {SERVE_READY_S} s:\n{log.read_text(errors='replace')}")


def test_serve_answers_a_query_over_a_socket_and_stops_on_sigterm(venv, env, empty, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}/sparql?" + urllib.parse.urlencode({"query": MATTER_LABELS})
    command = [str(venv / "bin" / "shiquan"), "serve", "--port", str(port), "--no-progress"]
    with _serving(command, log, cwd=empty, env=env) as process:
        answer = _first_answer(process, url, log)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text(errors="replace")
    assert "专利奖励" in {b["label"]["value"] for b in answer["results"]["bindings"]}
