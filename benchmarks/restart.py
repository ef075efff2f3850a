"""Start-up figures of `shiquan serve` (issue 16): a cold start that keeps the prepared store, then restarts from it.

    python benchmarks/restart.py --data /work/bench/national17.nq [--restarts 3] [--cache-dir DIR]

Each figure is the time from process start to the first /health 200. The cold start runs with an empty
STORE_CACHE_DIR (a temporary folder unless --cache-dir), then waits for the kept store to be written; each restart
must say "cache": "reused" in /health. Prints PASS or FAIL against the targets (restart ≤ 3 s, cold ≤ 20 s) and the
median of the restarts. Run the national graph under the shared lock (flock /work/bench/national.lock …).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TARGET_RESTART_S, TARGET_COLD_S = 3.0, 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
            return json.load(reply)
    except OSError:
        return None


def start(data: str, env: dict, log: Path) -> tuple[subprocess.Popen, int, float, dict]:
    """`shiquan serve` over ``data``; returns the process, its port, the seconds to the first /health 200 and it.
    Raises RuntimeError when the server stops first."""
    port = free_port()
    started = time.perf_counter()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "shiquan.cli", "serve", "--port", str(port), "--data", data],
                                   stdout=out, stderr=out, env=env)
    while (status := health(port)) is None:
        if process.poll() is not None:
            raise RuntimeError(f"shiquan serve stopped: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    return process, port, time.perf_counter() - started, status


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--cache-dir", help="STORE_CACHE_DIR (default: a new temporary folder, removed after)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="shiquan-restart-") as scratch:
        cache = args.cache_dir or str(Path(scratch) / "stores")
        env = {**os.environ, "SHIQUAN_STORE_CACHE_DIR": cache}
        process, port, cold, status = start(args.data, env, Path(scratch) / "cold.log")
        print(f"cold start: {cold:.2f} s ({status['triples']} triples, cache {status['store'].get('cache')})", flush=True)
        kept = time.perf_counter()
        while not any(Path(cache).glob("*/manifest.json")):
            time.sleep(0.5)
        print(f"store kept on disk {time.perf_counter() - kept:.1f} s after that", flush=True)
        stop(process)
        restarts = []
        for number in range(1, args.restarts + 1):
            process, port, seconds, status = start(args.data, env, Path(scratch) / f"restart{number}.log")
            stop(process)
            print(f"restart {number}: {seconds:.2f} s (cache {status['store'].get('cache')})", flush=True)
            if status["store"].get("cache") != "reused":
                print("FAIL: the restart did not reuse the kept store")
                return 1
            restarts.append(seconds)
    median = statistics.median(restarts)
    print(f"{'PASS' if median <= TARGET_RESTART_S else 'FAIL'} restart ≤ {TARGET_RESTART_S:g} s: median {median:.2f} s")
    print(f"{'PASS' if cold <= TARGET_COLD_S else 'FAIL'} cold start ≤ {TARGET_COLD_S:g} s: {cold:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
