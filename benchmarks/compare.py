"""Compare two plans, and stream every ruling as CSV, on the national-scale graph of benchmarks/national.py.

    python benchmarks/compare.py [--scale 1.0] [--fields 12] [--provinces 31] [--requests 50] [--workdir DIR]
                                 [--in-memory]

It writes the graph (or reuses DIR/national.nq), starts `shiquan serve` on it (validation off, as the graph is
generated to pass the shapes), and prints, one ``key: value`` line each:

- ``compare p50/p95 ms``: GET /compare?plan=<province>&plan=<city> (Accept: application/json) over HTTP, a
  provincial plan against a city plan based on it (level groups mapped: the province's 市县 covers 市 and 县区);
  target p50 ≤ 100 ms;
- ``rulings csv s``, ``rulings csv lines``, ``rulings csv MB``: GET /download/rulings.csv read to the end;
  target ≤ 10 s;
- ``server RSS MB`` before, at its peak during the download, and after: memory stays flat when the peak is
  close to the start (the table is read a few plans at a time and written as it goes).

Exit status 0, or 1 when the server fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import national  # noqa: E402
from harness_common import Endpoint, connect, machine_facts, ms, percentile, request, time_calls  # noqa: E402

PAIR = """PREFIX sq: <https://w3id.org/shiquan/ontology#>
SELECT ?city ?province WHERE { ?city sq:basedOn ?province ; sq:levelPair "市与县区"@zh .
  ?province sq:levelPair "省与市县"@zh } ORDER BY ?city LIMIT 1"""


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (the keeper and workers), in MB."""
    total = 0
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(c) for c in children]
    for p in list(pids):
        try:
            for child in Path(f"/proc/{p}/task").iterdir():
                pids += [int(c) for c in (child / "children").read_text().split() if int(c) not in pids]
        except FileNotFoundError:
            continue
    for p in set(pids):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def slug(iri: str) -> str:
    return iri.rsplit("/plan/", 1)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--fields", type=int, default=12)
    parser.add_argument("--provinces", type=int, default=31)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--in-memory", action="store_true",
                        help="serve from the keeper's in-memory store, as `shiquan serve` does by default, instead of "
                             "an on-disk store (--store) that the workers open read-only")
    args = parser.parse_args(argv)
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="shiquan-compare-"))
    folder.mkdir(parents=True, exist_ok=True)
    graph = folder / "national.nq"
    if not graph.is_file():
        with graph.open("w", encoding="utf-8") as out:
            facts = national.generate(out, args.scale, 1, args.fields, 0.15, args.provinces)
        print(f"triples: {facts.get('triples')}")
    for fact in machine_facts():
        print(fact)
    server = Endpoint(folder, workers=2, data=[graph], private_store=not args.in_memory,
                      env={"SHIQUAN_VALIDATE_ON_LOAD": "false"})
    server.start()
    try:
        server.wait_ready(timeout_s=3600)
        conn = connect(server.port, timeout_s=600)
        status, body = request(conn, "GET", "/sparql?query=" + urllib.parse.quote(PAIR), accept="application/sparql-results+json")
        binding = json.loads(body)["results"]["bindings"][0]
        city, province = slug(binding["city"]["value"]), slug(binding["province"]["value"])
        path = f"/compare?plan={province}&plan={city}"
        status, body = request(conn, "GET", path, accept="application/json")
        assert status == 200, body[:300]
        print(f"compared: {province} vs {city}, totals {json.loads(body)['totals']}")
        samples = time_calls(lambda: request(conn, "GET", path, accept="application/json"), args.requests, 3)
        print(f"compare p50 ms: {ms(percentile(samples, 50))}")
        print(f"compare p95 ms: {ms(percentile(samples, 95))}")
        stream(server)
    finally:
        server.stop()
    return 0


def stream(server: Endpoint) -> None:
    """Read /download/rulings.csv to the end, sampling the server's memory as it goes."""
    before = rss_mb(server.process.pid)
    peak, done = [before], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak.append(rss_mb(server.process.pid))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    conn = connect(server.port, timeout_s=600)
    started = time.perf_counter()
    conn.request("GET", "/download/rulings.csv")
    response = conn.getresponse()
    size = lines = 0
    try:
        while chunk := response.read(1 << 16):
            size += len(chunk)
            lines += chunk.count(b"\n")
    except http.client.IncompleteRead as exc:  # the server broke the stream off (an error after the headers)
        size += len(exc.partial)
        print(f"rulings csv broken off: after {size} bytes ({exc!r}); see the server's log")
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    print(f"rulings csv status: {response.status}")
    print(f"rulings csv s: {seconds:.2f}")
    print(f"rulings csv lines: {lines}")
    print(f"rulings csv MB: {size / 1e6:.1f}")
    print(f"server RSS MB before/peak/after: {before:.0f} / {max(peak):.0f} / {rss_mb(server.process.pid):.0f}")


if __name__ == "__main__":
    sys.exit(main())
