"""What the benchmarks share: machine facts, percentiles, timing, a ``shiquan serve`` subprocess,
stopping processes, the HTTP client, the throughput loop and a local Virtuoso's configuration.

``endpoint.py`` and ``scale.py`` import it, and so does the external-store test (tests/test_remote.py, for
:func:`virtuoso_ini`); it prints nothing and starts nothing on import.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from shiquan.web import assets

HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0  # longest wait for the server to load and answer /health, unless told otherwise
REQUEST_TIMEOUT_S = 30.0  # socket timeout of every benchmark connection, unless told otherwise
STOP_TIMEOUT_S = 10.0  # wait after each of SIGINT, SIGTERM before the next, stronger signal
FORM = "application/x-www-form-urlencoded"
SPARQL_JSON = "application/sparql-results+json"
TURTLE = "text/turtle"


class BenchmarkError(Exception):
    """The run cannot give figures: the server did not start, or a request failed."""


# ------------------------------------------------------------------ facts, statistics, timing


def machine_facts(libraries: Sequence[str] = ("pyoxigraph", "rdflib", "waitress", "flask")) -> list[str]:
    """CPU, operating system, load, Python and the versions of ``libraries``, as lines to print."""
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), "")
    load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()) if hasattr(os, "getloadavg") else "load average unknown"
    names = ", ".join(f"{name} {version(name)}" for name in libraries)
    return [
        f"machine: {cpus} CPUs ({usable} usable){', ' + model if model else ''}; {platform.platform()}; {load} at start",
        f"python:  {platform.python_implementation()} {platform.python_version()}; {names}",
    ]


def percentile(samples: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by the nearest-rank method (a value that was measured)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def time_calls(call: Callable[[], object], requests: int, warmup: int) -> list[float]:
    """Milliseconds of each of ``requests`` calls of ``call``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def ms(value: float) -> str:
    """Milliseconds for a table: two decimals, none from 100 up."""
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def render_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Plain-text columns: the first left-aligned, the others right-aligned, a rule under the header."""
    lines = [list(header), *map(list, rows)]
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]

    def render(row: list[str]) -> str:
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return "\n".join([render(lines[0]), render(["-" * w for w in widths]), *map(render, lines[1:])])


# ------------------------------------------------------------------ processes


def free_port() -> int:
    """A loopback port that was free a moment ago (bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def default_sigint() -> None:
    """In a child process, before it runs: SIGINT back to its default (see :meth:`Endpoint.start`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_process(process: subprocess.Popen | None) -> str:
    """Stop ``process``: SIGINT, then SIGTERM, then SIGKILL, each after a wait; say how it went.

    Returns "" when there was nothing to stop.
    """
    if process is None or process.poll() is not None:
        return ""
    started, sig = time.perf_counter(), signal.SIGINT
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            process.send_signal(sig)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:  # also when a second Ctrl-C cuts the waits short
        if process.poll() is None:
            process.kill()
            process.wait()
    return f"stopped by {signal.Signals(sig).name} in {time.perf_counter() - started:.1f} s, exit status {process.returncode}"


def serve_command() -> list[str]:
    """``shiquan serve`` of this interpreter: the console script beside it, else ``python -m shiquan.cli``."""
    script = Path(sys.executable).with_name("shiquan")
    return [str(script), "serve"] if script.is_file() else [sys.executable, "-m", "shiquan.cli", "serve"]


class Endpoint:
    """A ``shiquan serve`` subprocess on a loopback port, with its store, assets and log in ``folder``.

    ``data``: files to serve instead of the project's data; ``workers``: query worker processes
    (None: the server's default); ``private_store``: pass ``--store <folder>/store`` (False: the
    server's default store); ``env``: more environment variables for the server.
    """

    def __init__(self, folder: Path, workers: int | None = None, data: Sequence[Path] = (), private_store: bool = True,
                 env: dict[str, str] | None = None):
        self.folder = folder
        self.env = dict(env or {})
        self.port = free_port()
        self.command = [*serve_command(), "--host", HOST, "--port", str(self.port)]
        if private_store:
            self.command += ["--store", str(folder / "store")]
        for path in data:
            self.command += ["--data", str(path)]
        if workers is not None:
            self.command += ["--workers", str(workers)]
        self.log_path = folder / "serve.log"
        self.process: subprocess.Popen | None = None
        self.stopped = "not stopped"  # how stop() went, for the report

    def start(self) -> None:
        """Start the server; it loads in the background while the caller goes on."""
        env = dict(os.environ, SHIQUAN_ASSETS_DIR=str(self._placeholder_assets()), **self.env)
        with open(self.log_path, "wb") as log:
            # A session of its own: a Ctrl-C at the terminal reaches only us, and we stop the server in order.
            # SIGINT back to its default, so that the server can stop cleanly on it even when we were started
            # with SIGINT ignored (as background jobs of a shell are).
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                start_new_session=True,
                preexec_fn=default_sigint,
            )

    def _placeholder_assets(self) -> Path:
        """A folder where the query page's assets look installed, so that the server fetches nothing."""
        base = self.folder / "assets"
        target = assets.assets_dir({"ASSETS_DIR": str(base)})
        target.mkdir(parents=True, exist_ok=True)
        for name in assets.YASGUI["files"]:
            (target / Path(name).name).write_bytes(b"")
        return base

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote to stderr and stdout."""
        return log_tail(self.log_path, lines)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> dict:
        """Wait for the "serving … at http://…/sparql" line on our port, then for /health; return its JSON.

        Raises BenchmarkError when the server exits, or is not ready within ``timeout_s``.
        """
        assert self.process is not None, "start() first"
        banner = f"SPARQL endpoint at http://{HOST}:{self.port}/sparql"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the server exited with status {self.process.returncode}:\n{self.log_tail()}")
            if banner in self.log_tail(lines=200):
                conn = connect(self.port, timeout_s=2)
                try:
                    status, body = request(conn, "GET", "/health")
                except (OSError, http.client.HTTPException):
                    status, body = 0, b""
                finally:
                    conn.close()
                if status == 200:
                    return json.loads(body)
            time.sleep(0.1)
        raise BenchmarkError(f"the server was not ready within {timeout_s:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server: SIGINT (it closes its workers), then SIGTERM, then SIGKILL, each after a wait."""
        self.stopped = stop_process(self.process) or exited(self.process) or self.stopped


def exited(process: subprocess.Popen | None) -> str:
    """"had exited with status N" for a process that ended by itself, else ""."""
    return f"had exited with status {process.returncode}" if process is not None and process.returncode is not None else ""


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ------------------------------------------------------------------ HTTP


def connect(port: int, timeout_s: float = REQUEST_TIMEOUT_S) -> http.client.HTTPConnection:
    """A keep-alive HTTP/1.1 connection to the loopback server (opened on first use)."""
    return http.client.HTTPConnection(HOST, port, timeout=timeout_s)


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, accept: str | None = None
) -> tuple[int, bytes]:
    """Send one request on ``conn`` and read the whole response: (status, body).

    A ``body`` is sent form-encoded (``application/x-www-form-urlencoded``).
    """
    headers = {"Accept": accept} if accept else {}
    if body is not None:
        headers["Content-Type"] = FORM
    conn.request(method, path, body=body, headers=headers)  # headers and a bytes body go out in one send
    response = conn.getresponse()
    return response.status, response.read()


@dataclass(frozen=True)
class Request:
    """One POST: the path, the form-encoded body and the media type asked for."""

    path: str
    body: bytes
    accept: str


@dataclass(frozen=True)
class Throughput:
    """Completed requests and errors of ``clients`` concurrent clients over ``seconds``.

    ``failures``: the first few errors, described (status and start of the body, or the exception).
    """

    clients: int
    requests: int
    errors: int
    seconds: float
    failures: tuple[str, ...] = field(default=())

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


FAILURES_KEPT = 5  # errors described per throughput run


def measure_throughput(
    port: int,
    requests_for: Callable[[int], Iterator[Request]],
    clients: int,
    duration_s: float,
    timeout_s: float = REQUEST_TIMEOUT_S,
) -> Throughput:
    """``clients`` threads, each on its own keep-alive connection, send ``requests_for(i)`` for ``duration_s``.

    A request counts when it was sent before the end and answered 200 with a body; anything
    else (another status, an empty body, a broken connection) is an error, and a broken
    connection is reopened. The iterators are made before the clock starts.
    Raises BenchmarkError when a client does not finish.
    """
    start: list[float] = []
    barrier = threading.Barrier(clients, action=lambda: start.append(time.perf_counter()))
    done = [0] * clients
    errors = [0] * clients
    finished = [0.0] * clients
    failures: list[str] = []
    sources = [requests_for(i) for i in range(clients)]

    def fail(index: int, what: str) -> None:
        errors[index] += 1
        if len(failures) < FAILURES_KEPT:
            failures.append(what)

    def client(index: int) -> None:
        conn = connect(port, timeout_s)
        source = sources[index]
        barrier.wait()
        deadline = start[0] + duration_s
        while time.perf_counter() < deadline:
            req = next(source)
            try:
                status, body = request(conn, "POST", req.path, req.body, req.accept)
            except (OSError, http.client.HTTPException) as exc:
                fail(index, f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = connect(port, timeout_s)
                continue
            if status == 200 and body:
                done[index] += 1
            else:
                fail(index, f"HTTP {status}: {body[:200]!r}")
        finished[index] = time.perf_counter()
        conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration_s + timeout_s + 5)
    if any(thread.is_alive() for thread in threads):
        raise BenchmarkError(f"a client at {clients} clients did not finish")
    return Throughput(clients, sum(done), sum(errors), max(finished) - start[0], tuple(failures))


def virtuoso_ini(folder: Path, *, sql_port: int, http_port: int, dirs: Sequence[Path] = (), buffers: int = 10000,
                 max_dirty: int = 6000, threads: int = 10, max_execution_s: int = 30) -> str:
    """A ``virtuoso.ini`` for a Virtuoso 7 of our own: database, logs and lock in ``folder``, SQL and HTTP on
    loopback ports, files readable by the bulk loader in ``folder`` and ``dirs``, ``buffers`` 8 KB pages of
    buffer, answers of up to a million rows, queries stopped after ``max_execution_s`` (0: never)."""
    allowed = ", ".join(str(d) for d in (folder, *dirs))
    return f"""\
[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx

[Parameters]
ServerPort = {HOST}:{sql_port}
DisableUnixSocket = 1
DirsAllowed = {allowed}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {max_dirty}

[HTTPServer]
ServerPort = {HOST}:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
ServerThreads = {threads}

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryCostEstimationTime = 0
MaxQueryExecutionTime = {max_execution_s}
"""
