"""CPU per request of chosen mix templates over HTTP, each request a new text: what the web process and its query
workers spend on one query, and its latency; optionally every answer kept, to compare two servers byte for byte.

    python benchmarks/hot.py [--data FILE ...] [--templates b-level-pays-for,g-describe-assignment]
                             [--requests 300] [--warmup 50] [--runs 3] [--workers N] [--save FILE] [--compare FILE]

Starts ``shiquan serve`` (the interpreter's, so ``PYTHONPATH=server`` picks the code) on ``--data`` (default: the
project's seed graph), fills the templates of ``benchmarks/mix`` as ``scale.py`` does (pools read from the server,
draws seeded), and sends them in turn over one keep-alive connection, each numbered by a comment so that none is
replayed from the answer cache. Per run it prints the p50 latency per template and, for all requests, the CPU per
request of the server process and of its query workers (its descendants, less the keeper, which answers no query,
and any child at a lower priority: the kept job writing tables), from /proc. ``--save`` writes every request's
template, text, status and answer as JSON lines; ``--compare`` checks the answers against such a file (same flags:
the same texts) and exits 1 on any difference. Only 127.0.0.1 is contacted; the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--save", type=Path, help="write every timed request and its answer here (JSON lines)")
    parser.add_argument("--compare", type=Path, help="compare every answer with a file written by --save")
    return parser.parse_args(argv)


def _stat(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def cpu(server: int, keeper: int | None) -> tuple[float, float]:
    """CPU seconds so far of the server process and of its query workers (see the module docstring)."""
    tick, rows = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            rows[int(entry)] = (int(fields[1]), int(fields[16]), (int(fields[11]) + int(fields[12])) / tick)
    workers = sum(spent for pid, (parent, nice, spent) in rows.items()
                  if parent in (server, keeper) and pid != keeper and nice == 0)
    return rows.get(server, (0, 0, 0.0))[2], workers


def texts(templates, pools, count: int, seed: str) -> list[tuple[str, str, str]]:
    """(template name, Accept, numbered text) for ``count`` requests, the templates in turn."""
    rng, out = random.Random(seed), []
    for number in range(count):
        template = templates[number % len(templates)]
        out.append((template.name, template.accept, f"{pools.fill(template, rng)}\n# request {seed}-{number}\n"))
    return out


def one_run(port: int, pids, batch, warmup) -> tuple[dict[str, list[float]], float, float, list]:
    conn = connect(port)
    answers, latency = [], {}
    try:
        for name, accept, text in warmup:
            request(conn, "POST", "/sparql", urllib.parse.urlencode({"query": text}).encode(), accept)
        server, workers = cpu(*pids)
        for name, accept, text in batch:
            body = urllib.parse.urlencode({"query": text}).encode()
            started = time.perf_counter()
            status, answer = request(conn, "POST", "/sparql", body, accept)
            latency.setdefault(name, []).append((time.perf_counter() - started) * 1000)
            answers.append((name, text, status, answer))
        server_after, workers_after = cpu(*pids)
    finally:
        conn.close()
    bad = [a for a in answers if a[2] != 200]
    if bad:
        raise BenchmarkError(f"{bad[0][0]}: HTTP {bad[0][2]}: {bad[0][3][:300]!r}")
    return latency, (server_after - server) * 1e6 / len(batch), (workers_after - workers) * 1e6 / len(batch), answers


def keeper_of(server: int) -> int | None:
    """The server's child that has children of its own at normal priority … the keeper, whose children are workers."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None and int(fields[1]) == server:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    return int(entry)
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    wanted = args.templates.split(",")
    templates = [t for t in read_templates() if t.name in wanted]
    if len(templates) != len(wanted):
        print(f"unknown templates among {wanted}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="shiquan-hot-") as folder:
        endpoint = Endpoint(Path(folder), args.workers, data=args.data, private_store=False,
                            env={"SHIQUAN_STORE_CACHE_DIR": "", "SHIQUAN_DUMPS_DIR": str(Path(folder) / "dumps")})
        endpoint.start()
        try:
            health = endpoint.wait_ready(1800)
            print(f"serving version {health['version']}, {health['triples']} triples; {endpoint.command}", file=sys.stderr)
            pools = fetch_pools(types.SimpleNamespace(port=endpoint.port, path="/sparql", name="shiquan"), 120)
            pids = (endpoint.process.pid, keeper_of(endpoint.process.pid))
            figures, saved = [], []
            for run in range(args.runs):
                batch = texts(templates, pools, args.requests, f"run{run}")
                latency, server_us, workers_us, answers = one_run(endpoint.port, pids, batch,
                                                                  texts(templates, pools, args.warmup, f"warm{run}"))
                saved += answers
                p50 = {name: statistics.median(values) for name, values in latency.items()}
                figures.append((server_us, workers_us, p50))
                print(f"run {run + 1}: web {server_us:.0f} µs, workers {workers_us:.0f} µs per request; p50 "
                      + ", ".join(f"{name} {value:.2f} ms" for name, value in p50.items())
                      + f"; load {os.getloadavg()[0]:.2f}")
        finally:
            endpoint.stop()
    print(f"median of {args.runs}: web {statistics.median(f[0] for f in figures):.0f} µs, workers "
          f"{statistics.median(f[1] for f in figures):.0f} µs per request; p50 "
          + ", ".join(f"{t.name} {statistics.median(f[2][t.name] for f in figures):.2f} ms" for t in templates))
    rows = [{"template": name, "text": text, "status": status, "answer": answer.decode("utf-8")}
            for name, text, status, answer in saved]
    if args.save:
        args.save.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    if args.compare:
        before = [json.loads(line) for line in args.compare.read_text(encoding="utf-8").splitlines()]
        differ = [i for i, (old, new) in enumerate(zip(before, rows)) if old != new]
        print(f"compared {min(len(before), len(rows))} answers with {args.compare}: {len(differ)} differ"
              + (f" (first: request {differ[0]}, {rows[differ[0]]['template']})" if differ else ""))
        return 1 if differ or len(before) != len(rows) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
