"""Time `shiquan export` of a dataset, cold and with a kept store, and check that every run wrote the same files.

    python benchmarks/export_timing.py --data /work/bench/national17.nq [--runs 3] [--reused] [--before DIR]

Cold: each run in an empty DUMPS_DIR with STORE_CACHE_DIR off (SHIQUAN_STORE_CACHE_DIR=""), the figure of
issue 16's target (≤ 30 s). Reused (--reused): a kept store of the data is written first (loading.build_store
then graph.store_cache.write, into a private STORE_CACHE_DIR; not timed) and each run reads its inferences and
counts from there instead of loading and inferring. Prints each run's wall time, the median, the load average
before and after, and the SHA-256 of the four dump files; with --before DIR (a DUMPS_DIR folder written by an
earlier version), whether every file is byte for byte the same as there. Runs `python -m` on the `shiquan`
that PYTHONPATH gives (the log line names its file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shiquan.publish import export

COMMAND = [sys.executable, "-c", "import sys; from shiquan.cli import main; sys.argv[0] = 'shiquan'; main()"]
FILES = ("shiquan.nq", "shiquan.trig", "shiquan.ttl", "shiquan.jsonld")


def digests(dumps: Path) -> dict[str, str]:
    """The SHA-256 of each dump file in ``dumps``, a version folder or a DUMPS_DIR holding one."""
    if not (dumps / FILES[0]).exists():
        (dumps,) = [p for p in dumps.iterdir() if p.is_dir()]
    return {name: export.file_sha256(dumps / name) for name in FILES}


def run(data: Path, work: Path, cache: str) -> tuple[float, dict[str, str]]:
    """One `shiquan export` into an empty DUMPS_DIR: its wall time and the dumps' digests. Raises
    CalledProcessError when it fails."""
    dumps = work / "dumps"
    shutil.rmtree(dumps, ignore_errors=True)
    env = {**os.environ, "SHIQUAN_DUMPS_DIR": str(dumps), "SHIQUAN_STORE_CACHE_DIR": cache}
    started = time.perf_counter()
    subprocess.run([*COMMAND, "export", "--data", str(data), "-o", str(work / "out.nq")], env=env, check=True)
    seconds = time.perf_counter() - started
    return seconds, digests(dumps)


def keep_store(data: Path, cache: Path) -> None:
    """Write the kept store of ``data`` into ``cache`` as `shiquan serve` does after its start (not validated
    here: export does not read the verdict)."""
    code = ("import sys; from shiquan import config; from shiquan.graph import loading, store_cache; "
            "s = config.settings({'DATA_PATHS': [sys.argv[1]], 'STORE_CACHE_DIR': sys.argv[2]}); "
            "store_cache.write(loading.build_store(s), s)")
    subprocess.run([sys.executable, "-c", code, str(data), str(cache)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reused", action="store_true", help="also time runs that reuse a kept store")
    parser.add_argument("--before", type=Path, help="a DUMPS_DIR written before, to compare the files with")
    args = parser.parse_args()
    import shiquan

    print(f"shiquan from {shiquan.__file__}; load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="export-timing-") as tmp:
        work = Path(tmp)
        kinds = [("cold", "")]
        if args.reused:
            keep_store(args.data, work / "stores")
            kinds.append(("reused", str(work / "stores")))
        seen: set[tuple] = set()
        for kind, cache in kinds:
            times = []
            for number in range(1, args.runs + 1):
                seconds, found = run(args.data, work, cache)
                times.append(seconds)
                seen.add(tuple(sorted(found.items())))
                print(f"{kind} run {number}: {seconds:.1f} s (load average {os.getloadavg()[0]:.2f})", flush=True)
            print(f"{kind}: median {statistics.median(times):.1f} s of {len(times)}", flush=True)
    for files in seen:
        for name, digest in files:
            print(f"  {digest}  {name}")
    print("every run wrote the same files" if len(seen) == 1 else "RUNS DIFFER", flush=True)
    if args.before is not None:
        same = len(seen) == 1 and dict(next(iter(seen))) == digests(args.before)
        print(f"same bytes as {args.before}: {'yes' if same else 'NO'}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
