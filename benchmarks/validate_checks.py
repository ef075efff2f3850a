"""What each compiled SHACL check costs on a dataset: the time of the checks alone, then check by check.

    python benchmarks/validate_checks.py DATA [--threads 1,2] [--top 20]

Loads DATA (files or folders, as ``shiquan validate``) with the ontology and the OWL RL
inferences once, then runs the compiled checks (``graph.shacl``) once per ``--threads``
count over the same store, and prints for each run the wall and CPU seconds of the
checks and the load average, then the ``--top`` slowest checks of the last run (wall
seconds of each query while the other thread runs too, and its rows). The reports of
the runs must be the same, or the script says so and exits 1. National-scale data
(``national.py --fields 17``) takes up to 6 GB: run it under the shared lock.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from shiquan import config
from shiquan.graph import loading, validation
from shiquan.graph.shacl import timed_validation


def _digest(report) -> list[tuple[str, ...]]:
    return sorted((str(r.source_shape), str(r.focus_node), str(r.path), str(r.value), *map(str, r.messages))
                  for r in report.results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts, one run each")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    settings = {**config.settings(), "DATA_PATHS": args.data}
    started = time.perf_counter()
    kg = loading.build_store(settings)
    print(f"load and inferences: {time.perf_counter() - started:.1f} s")
    shapes = validation.schema(settings)[0]
    digests, checks = [], []
    for threads in (int(t) for t in args.threads.split(",")):
        wall, cpu = time.perf_counter(), time.process_time()
        checks, report = timed_validation(kg.store, shapes, threads=threads)
        print(f"checks on {threads} thread(s): {time.perf_counter() - wall:.1f} s wall, "
              f"{time.process_time() - cpu:.1f} s CPU, {len(report.results)} results, "
              f"load average {os.getloadavg()[0]:.2f}")
        digests.append(_digest(report))
    for check in sorted(checks, key=lambda c: -c.seconds)[:args.top]:
        print(f"{check.seconds:8.2f} s {check.rows:7d} rows  {check.label}")
    if any(d != digests[0] for d in digests):
        print("the reports differ between thread counts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
