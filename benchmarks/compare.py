"""Compare two plans, and stream every ruling as CSV, on the national-scale graph of benchmarks/national.py.

    python benchmarks/compare.py [--scale 1.0] [--fields 12] [--provinces 31] [--requests 50] [--workdir DIR]
                                 [--in-memory] [--downloads 3] [--store-cache]

It writes the graph (or reuses DIR/national.nq), starts `shiquan serve` on it (validation off, as the graph is
generated to pass the shapes), and prints, one ``key: value`` line each:

- ``compare p50/p95 ms``: GET /compare?plan=<province>&plan=<city> (Accept: application/json) over HTTP, a
  provincial plan against a city plan based on it (level groups mapped: the province's 市县 covers 市 and 县区);
  target p50 ≤ 100 ms;
- ``tables written s``: from the server answering /health until the tables of every ruling are in DUMPS_DIR, CSV
  then XLSX (the keeper's kept child writes them, zh and en, once per dataset version, after the server is ready);
- ``rulings csv s (median of N)``: GET /download/rulings.csv of the published file read to the end, the median of
  ``--downloads`` downloads; target ≤ 10 s;
- ``server PSS MB before/peak``: the proportional set size of the server and all its processes, before the downloads
  and at its peak during them: memory stays flat when the peak is close to the start;
- ``rulings csv live s``: the same download with the published tables moved aside, so that the server streams the
  table as it reads it from the workers (how every download was served before the tables were published), and
  whether its bytes are the published file's (``same bytes``).

Without ``--in-memory`` (an on-disk store, no keeper) no tables are published: only the live figures are printed.
The server runs with DUMPS_DIR in the work folder (emptied first) and no store cache.

Exit status 0, or 1 when the server fails.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import shutil
import statistics
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


def pss_mb(pid: int) -> float:
    """Proportional set size of a process and all its descendants (the keeper, the workers, the kept child), in MB:
    pages shared by the forked workers are counted once."""
    total, todo, seen = 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:  # ended meanwhile
            continue
        total += int(next(line for line in rollup.splitlines() if line.startswith("Pss:")).split()[1])
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
    parser.add_argument("--downloads", type=int, default=3, help="downloads of the published CSV (median)")
    parser.add_argument("--compare-xlsx", action="store_true",
                        help="also download each published XLSX and the live one (tables moved aside) and compare their "
                             "cells with openpyxl (the live XLSX is built whole in memory: use it on small graphs)")
    parser.add_argument("--store-cache", action="store_true",
                        help="keep the prepared store in DIR/stores (emptied first), as `shiquan serve` does by default, "
                             "and print when it is written (the kept child writes it between the CSV and the XLSX)")
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
    dumps, stores = folder / "dumps", folder / "stores"
    for made in (dumps, stores):
        shutil.rmtree(made, ignore_errors=True)
    server = Endpoint(folder, workers=2, data=[graph], private_store=not args.in_memory,
                      env={"SHIQUAN_VALIDATE_ON_LOAD": "false", "SHIQUAN_DUMPS_DIR": str(dumps),
                           "SHIQUAN_STORE_CACHE_DIR": str(stores) if args.store_cache else ""})
    server.start()
    try:
        server.wait_ready(timeout_s=3600)
        written = TablesWatch(dumps, stores if args.store_cache else None) if args.in_memory else None
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
        if written is not None:
            print(f"tables written s (after ready): csv {written.seconds('csv'):.1f}")
            downloads(server, args.downloads)
            if args.store_cache:
                print(f"store cache written s (after ready): {written.seconds('store'):.1f}")
            print(f"tables written s (after ready): xlsx {written.seconds('xlsx'):.1f}")
        live(server, dumps)
        if args.compare_xlsx and written is not None:
            compare_xlsx(server, dumps)
    finally:
        server.stop()
    return 0


class TablesWatch:
    """Watches DUMPS_DIR from the server's ready on for the folders of published tables (CSV, then XLSX), and
    ``stores`` (when given) for the kept store."""

    def __init__(self, dumps: Path, stores: Path | None = None):
        self.started = time.perf_counter()
        self.at: dict[str, float] = {}
        self.done = {extension: (lambda e=extension: published_folder(dumps, e)) for extension in ("csv", "xlsx")}
        if stores is not None:
            self.done["store"] = lambda: next(stores.glob("*/manifest.json"), None)
        self.found = {what: threading.Event() for what in self.done}
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while len(self.at) < len(self.found):
            for what, event in self.found.items():
                if not event.is_set() and self.done[what]():
                    self.at[what] = time.perf_counter() - self.started
                    event.set()
            time.sleep(0.2)

    def seconds(self, what: str, timeout_s: float = 1800) -> float:
        if not self.found[what].wait(timeout_s):
            raise SystemExit(f"no {what} within {timeout_s:g} s")
        return self.at[what]


def published_folder(dumps: Path, extension: str) -> Path | None:
    """The folder of the published tables as ``extension`` (whole: its manifest is there), None before."""
    return next((m.parent for m in dumps.glob(f"*-rulings-*-{extension}/manifest.json")), None)


def download(server: Endpoint, path: str = "/download/rulings.csv") -> tuple[float, bytes, int, list[float]]:
    """GET ``path`` read to the end, sampling the server's PSS every 0.1 s: (seconds, SHA-256, bytes, samples)."""
    samples, done = [pss_mb(server.process.pid)], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            samples.append(pss_mb(server.process.pid))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    conn = connect(server.port, timeout_s=600)
    digest, size, started = hashlib.sha256(), 0, time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    try:
        while chunk := response.read(1 << 16):
            size += len(chunk)
            digest.update(chunk)
    except http.client.IncompleteRead as exc:  # the server broke the stream off (an error after the headers)
        size += len(exc.partial)
        print(f"rulings csv broken off: after {size} bytes ({exc!r}); see the server's log")
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    if response.status != 200:
        print(f"rulings csv status: {response.status}")
    return seconds, digest.digest(), size, samples


DOWNLOAD_TARGET_S = 10.0
PUBLISHED: dict[str, bytes] = {}


def downloads(server: Endpoint, count: int) -> None:
    """The published CSV downloaded ``count`` times: the median time against the target, and the server's PSS."""
    before = pss_mb(server.process.pid)
    timings, peak = [], before
    for _ in range(count):
        seconds, digest, size, samples = download(server)
        timings.append(seconds)
        peak = max(peak, *samples)
        PUBLISHED["digest"], PUBLISHED["size"] = digest, size
    median = statistics.median(timings)
    verdict = "PASS" if median <= DOWNLOAD_TARGET_S else "FAIL"
    print(f"rulings csv s (median of {count}): {median:.2f} ({', '.join(f'{t:.2f}' for t in timings)})")
    print(f"rulings csv MB: {PUBLISHED['size'] / 1e6:.1f}")
    print(f"  {verdict}  all-rulings CSV <= {DOWNLOAD_TARGET_S:g} s: {median:.2f} s")
    print(f"server PSS MB before/peak during the downloads: {before:.0f} / {peak:.0f}")


def live(server: Endpoint, dumps: Path) -> None:
    """The CSV streamed live, with the published tables moved aside (put back after), compared with the file."""
    folder = published_folder(dumps, "csv")
    aside = folder.with_name("aside-" + folder.name) if folder else None
    if folder:
        folder.rename(aside)
    try:
        before = pss_mb(server.process.pid)
        seconds, digest, size, samples = download(server)
    finally:
        if folder:
            aside.rename(folder)
    print(f"rulings csv live s: {seconds:.2f} ({size / 1e6:.1f} MB)")
    print(f"server PSS MB before/peak during the live stream: {before:.0f} / {max(samples):.0f}")
    if PUBLISHED:
        print(f"rulings csv live and published: {'same bytes' if digest == PUBLISHED['digest'] else 'DIFFERENT'}")


def compare_xlsx(server: Endpoint, dumps: Path) -> None:
    """Each language's published XLSX against the one built live (the published tables moved aside), cell by cell."""
    import openpyxl

    def cells(path: str) -> list[tuple]:
        conn = connect(server.port, timeout_s=600)
        conn.request("GET", path)
        body = conn.getresponse().read()
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
        return [tuple(row) for row in book["rulings"].iter_rows(values_only=True)]

    for lang in ("zh", "en"):
        path = f"/download/rulings.xlsx?lang={lang}"
        published = cells(path)
        folder = published_folder(dumps, "xlsx")
        aside = folder.with_name("aside-" + folder.name)
        folder.rename(aside)
        try:
            built = cells(path)
        finally:
            aside.rename(folder)
        same = "same cells" if published == built else "DIFFERENT"
        print(f"rulings xlsx {lang} live and published: {same} ({len(published) - 1} rulings)")


if __name__ == "__main__":
    sys.exit(main())
