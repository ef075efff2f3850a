"""CPU per request of chosen mix templates over HTTP, each request a new text: what the web process and its query
workers spend on one query, and its latency; optionally next to a server running other code, answers compared.

    python benchmarks/hot.py [--data FILE ...] [--templates b-level-pays-for,g-describe-assignment]
                             [--requests 300] [--warmup 50] [--runs 3] [--workers N] [--baseline DIR]

Starts ``shiquan serve`` (the interpreter's, so ``PYTHONPATH=server`` picks the code) on ``--data`` (default: the
project's seed graph), fills the templates of ``benchmarks/mix`` as ``scale.py`` does (pools read from the server,
draws seeded), and sends them in turn over one keep-alive connection, each numbered by a comment so that none is
replayed from the answer cache. Per run it prints the p50 latency per template and, for all requests, the CPU per
request of the server process and of its query workers (the keeper's children at normal priority: not the kept job
writing tables at low priority), from /proc (in ticks of 10 ms: 25 µs a request over 400 requests); a worker replaced
during a run (over WORKER_MEMORY_MB) takes what it spent with it, so the workers' figure is then a little low.

With ``--baseline DIR`` a second server runs the code of ``DIR`` (its ``PYTHONPATH``, e.g. the ``server`` folder of
an older checkout) on the same data, beside the first: each request goes to both, in alternating order, so that
both are measured under the same load of a shared machine, and their answers are compared byte for byte (exit
status 1 on any difference). Only 127.0.0.1 is contacted; the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import types
import urllib.parse
from pathlib import Path

from harness_common import BenchmarkError, Endpoint, connect, request
from scale import fetch_pools, read_templates

DEFAULT_TEMPLATES = "b-level-pays-for,g-describe-assignment,h-cities-without-plan,f-county-ancestors"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", type=Path, default=[], help="data file to serve (repeatable)")
    parser.add_argument("--templates", default=DEFAULT_TEMPLATES, help=f"mix templates (default {DEFAULT_TEMPLATES})")
    parser.add_argument("--requests", type=int, default=300, help="timed requests per run, all templates (default 300)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests before each run (default 50)")
    parser.add_argument("--runs", type=int, default=3, help="runs; the medians are printed last (default 3)")
    parser.add_argument("--workers", type=int, default=None, help="query workers (default: the server's)")
    parser.add_argument("--baseline", type=Path, help="PYTHONPATH of a second server to measure beside the first")
    return parser.parse_args(argv)


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


class Server:
    """One ``shiquan serve`` measured: its endpoint, pids, keep-alive connection and figures."""

    def __init__(self, label: str, endpoint: Endpoint):
        self.label, self.endpoint = label, endpoint
        self.keeper: int | None = None
        self.conn = None
        self.figures: list[tuple[float, float, dict[str, float]]] = []

    def found(self) -> None:
        """Find the keeper (the server's child that multiprocessing spawned) and open the connection."""
        server = self.endpoint.process.pid
        for entry in os.listdir("/proc"):
            if entry.isdigit() and (fields := _stat(int(entry))) is not None and int(fields[1]) == server:
                with contextlib.suppress(OSError), open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if b"spawn_main" in cmdline.read():
                        self.keeper = int(entry)
        self.conn = connect(self.endpoint.port)

    def cpu(self, rows: dict[int, tuple[int, int, float]]) -> dict[int, float]:
        """CPU seconds so far of the server process (key 0) and of each of its query workers, from ``rows`` (see
        :func:`processes`)."""
        server = self.endpoint.process.pid
        spent = {pid: seconds for pid, (parent, nice, seconds) in rows.items()
                 if parent in (server, self.keeper) and pid != self.keeper and nice == 0}
        spent[0] = rows.get(server, (0, 0, 0.0))[2]
        return spent

    def ask(self, accept: str, text: str) -> tuple[int, bytes, float]:
        body = urllib.parse.urlencode({"query": text}).encode("utf-8")
        started = time.perf_counter()
        status, answer = request(self.conn, "POST", "/sparql", body, accept)
        return status, answer, (time.perf_counter() - started) * 1000


def processes() -> dict[int, tuple[int, int, float]]:
    """pid → (parent, nice, CPU seconds) of every process."""
    tick, rows = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            rows[int(entry)] = (int(fields[1]), int(fields[16]), (int(fields[11]) + int(fields[12])) / tick)
    return rows


def texts(templates, pools, count: int, seed: str) -> list[tuple[str, str, str]]:
    """(template name, Accept, numbered text) for ``count`` requests, the templates in turn."""
    rng, out = random.Random(seed), []
    for number in range(count):
        template = templates[number % len(templates)]
        out.append((template.name, template.accept, f"{pools.fill(template, rng)}\n# request {seed}-{number}\n"))
    return out


def one_run(servers: list[Server], batch, warmup) -> int:
    """Send ``warmup`` then ``batch`` to every server, each request to all in alternating order; append each one's
    figures. Returns how many answers differed between the servers. Raises BenchmarkError for a status other than 200."""
    for _name, accept, text in warmup:
        for server in servers:
            server.ask(accept, text)
    rows = processes()
    before = [server.cpu(rows) for server in servers]
    latency: list[dict[str, list[float]]] = [{} for _ in servers]
    differ = 0
    for number, (name, accept, text) in enumerate(batch):
        order = list(range(len(servers)))[:: 1 if number % 2 else -1]
        answers = {}
        for index in order:
            status, answer, ms = servers[index].ask(accept, text)
            if status != 200:
                raise BenchmarkError(f"{servers[index].label}, {name}: HTTP {status}: {answer[:300]!r}")
            latency[index].setdefault(name, []).append(ms)
            answers[index] = answer
        differ += len(set(answers.values())) > 1
    rows = processes()
    for server, start, times in zip(servers, before, latency):
        end = server.cpu(rows)
        # A worker replaced meanwhile (WORKER_MEMORY_MB) takes its CPU with it: what it spent in the run is left out.
        workers = sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items() if pid)
        server.figures.append(((end[0] - start[0]) * 1e6 / len(batch), workers * 1e6 / len(batch),
                               {name: statistics.median(values) for name, values in times.items()}))
    return differ


def line(server: Server, figures) -> str:
    web, workers, p50 = figures
    return (f"{server.label}: web {web:.0f} µs, workers {workers:.0f} µs per request; p50 "
            + ", ".join(f"{name} {value:.2f} ms" for name, value in p50.items()))


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = args.templates.split(",")
    templates = [t for t in read_templates() if t.name in wanted]
    if len(templates) != len(wanted):
        print(f"unknown templates among {wanted}", file=sys.stderr)
        return 2
    differ = 0
    with tempfile.TemporaryDirectory(prefix="shiquan-hot-") as folder:
        servers = []
        for label, path in [("this code", None), ("baseline", args.baseline)][: 2 if args.baseline else 1]:
            own = Path(folder) / label.replace(" ", "-")
            own.mkdir()
            env = {"SHIQUAN_STORE_CACHE_DIR": "", "SHIQUAN_DUMPS_DIR": str(own / "dumps")}
            if path is not None:
                env["PYTHONPATH"] = str(path.resolve())
            servers.append(Server(label, Endpoint(own, args.workers, data=args.data, private_store=False, env=env)))
        try:
            for server in servers:  # one after the other: two loads at once would share the cores
                server.endpoint.start()
                health = server.endpoint.wait_ready(1800)
                print(f"{server.label}: version {health['version']}, {health['triples']} triples", file=sys.stderr)
                server.found()
            first = servers[0].endpoint
            pools = fetch_pools(types.SimpleNamespace(port=first.port, path="/sparql", name="shiquan"), 120)
            for run in range(args.runs):
                differ += one_run(servers, texts(templates, pools, args.requests, f"run{run}"),
                                  texts(templates, pools, args.warmup, f"warm{run}"))
                print(f"run {run + 1} (load {os.getloadavg()[0]:.2f}): "
                      + "; ".join(line(server, server.figures[-1]) for server in servers))
        finally:
            for server in servers:
                if server.conn is not None:
                    server.conn.close()
                server.endpoint.stop()
    for server in servers:
        medians = tuple(statistics.median(f[i] for f in server.figures) for i in (0, 1))
        p50 = {t.name: statistics.median(f[2][t.name] for f in server.figures) for t in templates}
        print(f"median of {args.runs}, " + line(server, (*medians, p50)))
    if args.baseline:
        print(f"answers compared: {args.runs * args.requests}, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
