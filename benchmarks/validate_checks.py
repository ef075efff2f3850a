"""What each compiled SHACL check costs on a dataset: the time of the checks alone, then check by check.

    python benchmarks/validate_checks.py DATA [--threads 1,2] [--top 20]

Loads DATA (files or folders, as ``shiquan validate``) with the ontology and the OWL RL
inferences once, printing the seconds of each phase (the files' load, with the ontology's rules read after it;
each inference step as :mod:`shiquan.graph.reasoning` reports it; then the strict check's wait
and the graph counts), then runs the compiled checks (``graph.shacl``) once per ``--threads``
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
from shiquan.graph import loading, reasoning, validation
from shiquan.graph.shacl import timed_validation


def _digest(report) -> list[tuple[str, ...]]:
    return sorted((str(r.source_shape), str(r.focus_node), str(r.path), str(r.value), *map(str, r.messages))
                  for r in report.results)


class Phases:
    """A progress callback that times the stages (and inference steps) of a load, in the order they come."""

    def __init__(self):
        self.started = self.mark = time.perf_counter()
        self.current = "starting"
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        name = stage if stage != "inferring" else f"inferring: {_step(done)}"
        if name != self.current:
            self.close(name)

    def close(self, following: str = "") -> None:
        now = time.perf_counter()
        self.seconds[self.current] = self.seconds.get(self.current, 0.0) + now - self.mark
        self.current, self.mark = following, now

    def print(self) -> None:
        self.close()
        for name, seconds in self.seconds.items():
            print(f"  {seconds:6.2f} s  {name}")


def _step(done: int) -> str:
    steps = reasoning.STEPS
    return steps[done] if done < len(steps) else "done; then the strict check's wait and the graph counts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts, one run each")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    settings = {**config.settings(), "DATA_PATHS": args.data}
    phases = Phases()
    kg = loading.build_store(settings, progress=phases)
    print(f"load and inferences: {time.perf_counter() - phases.started:.1f} s, load average {os.getloadavg()[0]:.2f}")
    phases.print()
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
        print(f"{check.seconds:8.2f} s {check.cpu:8.2f} s CPU {check.rows:7d} rows  {check.label}")
    if any(d != digests[0] for d in digests):
        print("the reports differ between thread counts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
