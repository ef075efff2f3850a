"""The attacks of the hardening issue, rerun against a real ``shiquan serve`` with default settings.

Starts ``shiquan serve`` on a loopback port (its own store folder, placeholder query-page assets), then, while a
bystander client queries throughout, sends each reproduction and prints what came back: the status, the error code,
the seconds it took, whether a listener off the SERVICE allowlist was contacted, and the server's memory (PSS of
its process tree) before and after. Every request goes to 127.0.0.1; the server is stopped at the end.

    python benchmarks/attacks.py

Exit status 0 when every attack got the answer the Security section promises and the bystander was never refused,
1 otherwise.
"""

from __future__ import annotations

import http.client
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from harness_common import HOST, Endpoint, percentile

from shiquan.runtime.pool import private_mb

BYSTANDER = "SELECT (COUNT(*) AS ?n) WHERE { ?a <https://w3id.org/shiquan/ontology#statedIn> ?p }"
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "ha">'
          + "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
          + ']><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="http://e.org/">'
          '<rdf:Description rdf:about="http://e.org/s"><e:p>&l9;</e:p></rdf:Description></rdf:RDF>')
MIXED = " ".join(["21", '"26x"', '"97x"', "67", "10", "1", "38", '"71x"', '"52x"', '"22x"', '"96x"', '"90x"', "96",
                  "82", '"99x"', "6", "70", "51", '"88x"', '"7x"', '"39x"', '"40x"', '"76x"', "25", "50", '"46x"',
                  '"43x"', '"81x"', '"88x"', "86", "24", "93", '"6x"'])


class Listener:
    """A loopback port off the allowlist that counts the connections it gets."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port, self.connections, self.running = self.sock.getsockname()[1], 0, True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.running = False
        self.sock.close()


def send(port: int, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
         timeout_s: float = 120) -> tuple[int, str, float]:
    """One request: (status, error code or "", seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    code = ""
    if response.status >= 400 and data.startswith(b"{"):
        code = data.split(b'"error":', 1)[-1].split(b'"')[1].decode() if b'"error":' in data else ""
    return response.status, code, time.perf_counter() - started


def query(port: int, text: str) -> tuple[int, str, float]:
    return send(port, "POST", "/sparql", urllib.parse.urlencode({"query": text}).encode(),
                "application/x-www-form-urlencoded")


def attacks(listener: Listener) -> list[tuple[str, callable, set[int]]]:
    url = f"http://{HOST}:{listener.port}/sparql"
    spellings = [f"SELECT * WHERE {{ ?s ?p ?o SERVICESILENT <{url}> {{ ?a ?b ?c }} }}",
                 f"SELECT * WHERE {{ ?s ?p 1SERVICE <{url}> {{ ?a ?b ?c }} }}",
                 f"SELECT * WHERE {{ FILTER(trueSERVICE <{url}> {{ ?a ?b ?c }}) }}",
                 f"SELECT * WHERE {{ ?s ?p ?o . trueSERVICE <{url}> {{ ?a ?b ?c }} }}"]
    found = [(f"1 SERVICE spelling {i}", lambda p, q=q: query(p, q), {400, 403}) for i, q in enumerate(spellings, 1)]
    return found + [
        ("2 billion laughs upload", lambda p: send(p, "POST", "/validate", LAUGHS.encode(), "application/rdf+xml"), {400}),
        ("2 RDF/XML 50,000 deep", lambda p: send(p, "POST", "/validate", deep_xml(50_000), "application/rdf+xml"), {400}),
        ("3 ORDER BY crash", lambda p: query(p, f"SELECT ?x WHERE {{ VALUES ?x {{ {MIXED} }} }} ORDER BY ?x"), {200, 422}),
        ("3 ORDER BY crash again", lambda p: query(p, f"SELECT ?x WHERE {{ VALUES ?x {{ {MIXED} }} }} ORDER BY ?x"), {200, 422}),
        ("6 string doubling", lambda p: query(p, doubling()), {422, 503}),
        ("6 400 MB answer", lambda p: query(p, "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"), {422, 503}),
        ("7 body over the limit", lambda p: send(p, "POST", "/sparql", b"x" * (6 << 20), "application/sparql-query"), {413}),
        ("10 unknown function", lambda p: query(p, "PREFIX q: <http://example.org/> SELECT * WHERE { FILTER (q:name()) }"), {200}),
        ("10 _method=POST", lambda p: send(p, "GET", "/id/dataset/shiquan?_method=POST"), {303}),
    ]


def deep_xml(depth: int) -> bytes:
    head = '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    return (head + "<a>" * depth + "</a>" * depth + "</rdf:RDF>").encode()


def doubling() -> str:
    binds = " ".join(f"BIND(CONCAT(?s{i}, ?s{i}) AS ?s{i + 1})" for i in range(40))
    return f'SELECT (STRLEN(?s40) AS ?n) WHERE {{ BIND("xxxxxxxxxxxxxxxx" AS ?s0) {binds} }}'


def tree_pss_mb(pid: int) -> float:
    """PSS of ``pid`` and its descendants, MB."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += int(next(line for line in rollup.splitlines() if line.startswith("Pss:")).split()[1]) / 1024
            todo += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shiquan-attacks-") as folder:
        endpoint = Endpoint(Path(folder))
        endpoint.start()
        listener = Listener()
        try:
            endpoint.wait_ready()
            return run(endpoint, listener)
        finally:
            listener.close()
            endpoint.stop()


def run(endpoint: Endpoint, listener: Listener) -> int:
    port, pid = endpoint.port, endpoint.process.pid
    latencies, refused, stop = [], [], threading.Event()

    def bystander() -> None:
        while not stop.is_set():
            status, _code, seconds = query(port, BYSTANDER)
            latencies.append(seconds)
            if status != 200:
                refused.append(status)
            time.sleep(0.05)

    thread = threading.Thread(target=bystander, daemon=True)
    before = tree_pss_mb(pid)
    thread.start()
    ok = True
    print(f"shiquan serve on port {port}; memory before {before:,.0f} MB (PSS of the tree)")
    print(f"{'attack':28} {'status':>6} {'code':18} {'seconds':>8}  off-allowlist connections")
    for name, attack, expected in attacks(listener):
        status, code, seconds = attack(port)
        good = status in expected and status < 500 or code in ("memory_limit", "query_timeout")
        ok &= good and listener.connections == 0
        print(f"{name:28} {status:>6} {code:18} {seconds:8.2f}  {listener.connections}{'' if good else '  <- unexpected'}")
    stop.set()
    thread.join(timeout=30)
    after = tree_pss_mb(pid)
    print(f"memory after {after:,.0f} MB; private MB of the server process {private_mb(pid) or 0:,.0f}")
    print(f"bystander: {len(latencies)} queries, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, {len(refused)} refused")
    return 0 if ok and not refused else 1


if __name__ == "__main__":
    sys.exit(main())
