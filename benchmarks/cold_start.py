"""Time ``shiquan serve``'s cold start on a dataset exactly as ``scale.py`` does, without the rest of its run.

Each run starts ``shiquan serve --data <data>`` (the console script beside this interpreter: run it with
``PYTHONPATH=server`` to time a checkout) with an empty STORE_CACHE_DIR and DUMPS_DIR, and the VALIDATED_DIR kept
from ``shiquan validate`` (run first with ``--validate``, as scale.py does, or kept from an earlier run of this
script): "start to /health 200" is then reading the files, the inferences, the workers and the first answer, and
no shapes check. It prints that figure and /health's loadSeconds per run, their medians, and the load average.

    flock /work/bench/national.lock python benchmarks/cold_start.py --data national17.nq --runs 3 --validate
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness_common import Endpoint, machine_facts, serve_command  # noqa: E402


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the dataset to serve (an RDF file or folder)")
    parser.add_argument("--runs", type=int, default=3, help="cold starts, one after the other (default 3; 0 with --validate: only keep the verdict)")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/shiquan-cold-start"),
                        help="work folder: the kept verdict, the server's log (default /tmp/shiquan-cold-start)")
    parser.add_argument("--validate", action="store_true", help="run `shiquan validate <data>` first, to keep its "
                        "verdict (needed once per dataset and version of the shapes, inference and SHACL code)")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for /health 200, in seconds")
    return parser.parse_args()


def cold_start(folder: Path, data: Path, timeout_s: float, run: int) -> tuple[float, float]:
    """One cold start: seconds from the server's start to /health 200, and /health's loadSeconds. Raises
    BenchmarkError when the server does not start."""
    for name in ("stores", "published"):
        shutil.rmtree(folder / name, ignore_errors=True)
    env = {"SHIQUAN_VALIDATED_DIR": str(folder / "validated"), "SHIQUAN_STORE_CACHE_DIR": str(folder / "stores"),
           "SHIQUAN_DUMPS_DIR": str(folder / "published")}
    endpoint = Endpoint(folder, data=[data], private_store=False, env=env)
    started, epoch = time.perf_counter(), time.time()
    endpoint.start()
    try:
        health = endpoint.wait_ready(timeout_s)
        ready = time.perf_counter() - started
    finally:
        endpoint.stop()
        # The keeper's child writing the tables and the kept store outlives it: stop it, or it runs into the next start.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(endpoint.process.pid, signal.SIGKILL)
    # The server's log beside the epochs it started and answered at, to read its own timestamps against.
    (folder / f"serve-{run}.log").write_bytes(endpoint.log_path.read_bytes())
    (folder / f"serve-{run}.epochs").write_text(f"{epoch:.3f} {epoch + ready:.3f}\n", encoding="ascii")
    if health.get("store", {}).get("cache") != "missed":
        raise SystemExit(f"not a cold start: /health says {health.get('store')}")
    return ready, float(health["loadSeconds"])


def main() -> None:
    args = arguments()
    args.folder.mkdir(parents=True, exist_ok=True)
    for line in machine_facts():
        print(line)
    if args.validate:
        command = [*serve_command()[:-1], "validate", str(args.data)]
        env = dict(os.environ, SHIQUAN_VALIDATED_DIR=str(args.folder / "validated"))
        clock = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=True)
        print(f"shiquan validate {args.data.name}: {time.perf_counter() - clock:.1f} s (its verdict is kept)")
    readies, loads = [], []
    for run in range(1, args.runs + 1):
        ready, load = cold_start(args.folder, args.data, args.timeout, run)
        readies.append(ready)
        loads.append(load)
        print(f"run {run}: start to /health 200 {ready:.2f} s, of which /health loadSeconds {load:.2f} s; "
              "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    if readies:
        print(f"median of {args.runs}: start to /health 200 {statistics.median(readies):.2f} s, "
              f"loadSeconds {statistics.median(loads):.2f} s")


if __name__ == "__main__":
    main()
