"""Shiquan's results writers (sparql/results.py) against pyoxigraph's own serialisers, on a synthetic answer.

Prints, per format, the seconds to read the answer through ``sparql.run.run`` (row limit, deadline, SELECT * order),
to write it with Shiquan's writer, and for pyoxigraph to evaluate and serialise the same query itself.
Usage: PYTHONPATH=server python benchmarks/results_writers.py [rows]
"""

from __future__ import annotations

import sys
import time

import pyoxigraph as ox

from shiquan.sparql import results
from shiquan.sparql.run import run

EX = "http://example.org/"
QUERY = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
FORMATS = {
    "json": (ox.QueryResultsFormat.JSON, results.write_json),
    "xml": (ox.QueryResultsFormat.XML, results.write_xml),
    "csv": (ox.QueryResultsFormat.CSV, results.write_csv),
    "tsv": (ox.QueryResultsFormat.TSV, results.write_tsv),
}


def store(rows: int) -> ox.Store:
    store = ox.Store()
    integer = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    store.extend(
        ox.Quad(ox.NamedNode(f"{EX}s{i}"), ox.NamedNode(f"{EX}p{i % 7}"),
                ox.Literal(f"值 {i}", language="zh") if i % 2 else ox.Literal(str(i), datatype=integer))
        for i in range(rows)
    )
    return store


def main(rows: int) -> None:
    data = store(rows)
    print(f"{rows} rows; seconds")
    print(f"{'format':8}{'run (read)':>12}{'shiquan write':>15}{'pyoxigraph eval+write':>24}")
    for name, (fmt, writer) in FORMATS.items():
        started = time.perf_counter()
        answer = run(data, QUERY, max_rows=rows)
        read = time.perf_counter()
        writer(answer)
        written = time.perf_counter()
        data.query(QUERY).serialize(format=fmt)
        native = time.perf_counter()
        print(f"{name:8}{read - started:12.2f}{written - read:15.2f}{native - written:24.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
