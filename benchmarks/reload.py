"""A reload of the national graph under load: time to switch, peak memory while two datasets are held, and the
requests that failed meanwhile (issue 15, item 6).

    python benchmarks/reload.py --data national.nq [--clients 4] [--workers 2] [--ready-timeout 1800]
                                [--work-dir DIR]

One run:

1. a data folder in the work folder holding ``--data`` (a graph of ``benchmarks/national.py``, linked, not
   copied) and a private VALIDATED_DIR, so that both loads are checked against the shapes;
2. ``shiquan serve --data <folder>`` on a free 127.0.0.1 port, waited for;
3. ``--clients`` threads, each on a keep-alive connection, post a query one after another (a count of the plans
   of one field), from before the reload to two seconds after the old workers are closed;
4. the file is renamed in the data folder (the same triples, a new dataset version, validated again) and the
   server sent SIGHUP; /health is read every 0.2 s and the PSS of the server's process tree summed every 0.25 s.

It prints: the time from SIGHUP to the switch (/health shows the new version) and the server's own figures
(prepareSeconds, drainSeconds), the PSS of the process tree before, at its peak and after, and the requests sent
before, during and after the reload, with the failed ones (non-200 or a broken connection; must be 0).
Exit status 0 when the reload switched and no request failed, 1 otherwise, 2 on bad options.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from harness_common import HOST, BenchmarkError, Endpoint, connect, machine_facts, request, SPARQL_JSON
from scale import memory

QUERY = ("PREFIX sq: <https://w3id.org/shiquan/ontology#> "
         "SELECT (COUNT(?plan) AS ?n) WHERE { ?plan a sq:Plan ; sq:field ?field } GROUP BY ?field LIMIT 1")
MB = 1024 * 1024


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a national graph (benchmarks/national.py -o FILE)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ready-timeout", type=float, default=1800.0)
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args(argv)
    if not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    return args


class Clients:
    """Threads posting QUERY until stopped; every answer is kept as (time sent, ok, what went wrong)."""

    def __init__(self, port: int, count: int):
        self.port, self.answers, self.stopping = port, [], threading.Event()
        self.body = urllib.parse.urlencode({"query": QUERY}).encode()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        conn = connect(self.port, 120)
        while not self.stopping.is_set():
            sent = time.monotonic()
            try:
                status, body = request(conn, "POST", "/sparql", self.body, SPARQL_JSON)
                self.answers.append((sent, status == 200, "" if status == 200 else f"HTTP {status}: {body[:200]!r}"))
            except OSError as exc:
                self.answers.append((sent, False, f"{type(exc).__name__}: {exc}"))
                conn.close()
                conn = connect(self.port, 120)
        conn.close()

    def stop(self) -> list[tuple[float, bool, str]]:
        self.stopping.set()
        for thread in self.threads:
            thread.join(180)
        return sorted(self.answers)


def health(port: int) -> dict:
    conn = connect(port, 30)
    try:
        return json.loads(request(conn, "GET", "/health")[1])
    finally:
        conn.close()


def reload_under_load(server: Endpoint, data: Path, clients: int) -> dict:
    """Rename the data file, SIGHUP the server while ``clients`` query, and measure (see the module)."""
    before = health(server.port)
    base_pss = memory([server.process.pid]).pss
    running = Clients(server.port, clients)
    time.sleep(2.0)
    data.rename(data.with_name(f"reloaded-{data.name}"))
    sighup = time.monotonic()
    server.process.send_signal(signal.SIGHUP)
    peak, switched, last = base_pss, None, {}
    while "drainSeconds" not in last and last.get("status") != "refused":
        peak = max(peak, memory([server.process.pid]).pss)
        now = health(server.port)
        last = now["reload"]["last"] or {}
        if switched is None and now["version"] != before["version"]:
            switched = time.monotonic()
        if time.monotonic() - sighup > 3600:
            raise BenchmarkError("no reload outcome within an hour")
        time.sleep(0.2)
    drained = time.monotonic()
    time.sleep(2.0)
    answers = running.stop()
    return {"before": before, "after": health(server.port), "last": last, "sighup": sighup, "switched": switched,
            "drained": drained, "answers": answers, "base_pss": base_pss, "peak_pss": peak,
            "after_pss": memory([server.process.pid]).pss}


def report(run: dict) -> bool:
    """Print the figures of ``run``; True when the reload switched with no failed request."""
    last, answers, sighup = run["last"], run["answers"], run["sighup"]
    failed = [what for _, ok, what in answers if not ok]
    phases = {"before SIGHUP": [a for a in answers if a[0] < sighup],
              "SIGHUP → old workers closed": [a for a in answers if sighup <= a[0] < run["drained"]],
              "after": [a for a in answers if a[0] >= run["drained"]]}
    print(f"dataset: {run['before']['triples']:,} triples in {run['before']['graphs']:,} graphs, "
          f"version {run['before']['version']} → {run['after']['version']}")
    print(f"reload outcome: {last.get('status')} {last.get('reasons', '')}")
    if run["switched"] is not None:
        print(f"time to switch (SIGHUP → /health shows the new version): {run['switched'] - sighup:.1f} s")
    print(f"server: prepareSeconds {last.get('prepareSeconds')}, drainSeconds {last.get('drainSeconds')}")
    print(f"PSS of the process tree: before {run['base_pss'] / MB:,.0f} MB, peak while two datasets are held "
          f"{run['peak_pss'] / MB:,.0f} MB, after {run['after_pss'] / MB:,.0f} MB")
    for name, those in phases.items():
        print(f"requests {name}: {len(those)}, failed {sum(1 for a in those if not a[1])}")
    print(f"failed requests in all: {len(failed)} (must be 0)")
    for what in failed[:5]:
        print(f"  {what}")
    return last.get("status") == "switched" and not failed


def main(argv=None) -> int:
    args = parse_args(argv)
    for line in machine_facts():
        print(line)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="shiquan-reload-"))
    folder = work / "data"
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / args.data.name
    data.unlink(missing_ok=True)
    data.symlink_to(args.data.resolve())
    server = Endpoint(work, workers=args.workers, data=[folder], private_store=False,
                      env={"SHIQUAN_VALIDATED_DIR": tempfile.mkdtemp(dir=work, prefix="validated-")})
    started = time.monotonic()
    server.start()
    try:
        server.wait_ready(args.ready_timeout)
        print(f"shiquan ready in {time.monotonic() - started:.1f} s ({args.workers} workers, {args.clients} clients, "
              f"on {HOST}:{server.port})")
        ok = report(reload_under_load(server, data, args.clients))
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        ok = False
    finally:
        server.stop()
        for path in folder.iterdir():
            path.unlink()
    print(f"shiquan {server.stopped}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
