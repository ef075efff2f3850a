"""The memory of `shiquan serve` on a national graph, process by process, measured as benchmarks/scale.py does.

    python benchmarks/memory.py --data national17.nq [--runs 3] [--duration 20] [--skip NAMES] [--work-dir DIR]
                                [--no-mix]

Each run is scale.py's shiquan engine and nothing else: ``shiquan validate`` (once, its verdict kept for every
run), then ``shiquan serve --data <data>`` with an empty store cache and dumps folder (a cold start), waited for
as scale.py waits (the CSV tables, the kept store, the XLSX tables written by the background child), memory
measured ("after load"); then scale.py's pools, row-count samples, latency per template and throughput at 1 and 8
clients (``--duration`` seconds each), memory measured again ("at end"). Both figures are scale.py's (PSS summed
over the server's process tree, from /proc/<pid>/smaps_rollup); this script also prints each process's PSS, RSS,
private and shared memory and its anonymous memory, named by its part: the web process, the keeper (holding the
store), each forked worker, the low-priority child that writes the tables and the kept store ("kept"). With
``--runs N`` it prints the median of each figure. ``--no-mix`` measures after load only.

Only 127.0.0.1 is contacted; the server is stopped on errors and Ctrl-C. Run it under the shared lock on a
shared machine (``flock /work/bench/national.lock python benchmarks/memory.py …``).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale  # noqa: E402 — the harness whose figures are reproduced

ROLES = ("web", "tracker", "keeper", "worker", "kept", "other")
FIELDS = ("Pss", "Rss", "Private", "Shared", "Anonymous")


@dataclass(frozen=True)
class Part:
    """One process of the server's tree: its part, pid and figures (MB, keyed by FIELDS)."""

    role: str
    pid: int
    mb: dict[str, float]


def rollup(pid: int) -> dict[str, float] | None:
    """The FIELDS of /proc/<pid>/smaps_rollup in MB, None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kb = {key.strip(): int(value.split()[0]) for key, value in (line.split(":", 1) for line in text.splitlines()[1:])}
    return {"Pss": kb["Pss"] / 1024, "Rss": kb["Rss"] / 1024,
            "Private": (kb["Private_Clean"] + kb["Private_Dirty"]) / 1024,
            "Shared": (kb["Shared_Clean"] + kb["Shared_Dirty"]) / 1024, "Anonymous": kb["Anonymous"] / 1024}


def role(pid: int, root: int) -> str:
    """What process ``pid`` is in the tree of the web process ``root``: web, keeper, tracker (multiprocessing's
    resource tracker), worker, kept (a child of the keeper at nice 10), or other. Raises OSError when it is gone."""
    if pid == root:
        return "web"
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    if int(stat[1]) == root:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
        return "keeper" if b"spawn_main" in command else "tracker" if b"resource_tracker" in command else "other"
    return "kept" if int(stat[16]) > 0 else "worker"  # field 19, nice: the kept child runs at nice 10


def parts(root: int) -> list[Part]:
    """Every process of the server's tree with its figures (see :func:`role`)."""
    found = []
    for pid in scale.process_tree(root):
        try:
            what = role(pid, root)
        except OSError:
            continue
        figures = rollup(pid)
        if figures is not None:
            found.append(Part(what, pid, figures))
    return found


def mappings(pid: int) -> str:
    """Private pages of process ``pid`` by kind of mapping ([heap], other anonymous, files), MB, the largest first."""
    kinds: dict[str, int] = {}
    kind = "?"
    try:
        lines = Path(f"/proc/{pid}/smaps").read_text().splitlines()
    except OSError:
        return "gone"
    for line in lines:
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            name = head[5] if len(head) > 5 else ""
            kind = name if name.startswith("[") else "anonymous" if not name else "files"
        elif head[0] in ("Private_Dirty:", "Private_Clean:"):
            kinds[kind] = kinds.get(kind, 0) + int(head[1])
    return ", ".join(f"{k} {v / 1024:,.0f}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 1024)


def show(when: str, found: Sequence[Part]) -> None:
    """Print the tree's processes and their total, as scale.py sums it."""
    scale.say(f"{when}: " + "  ".join(f"{name} {sum(p.mb[name] for p in found):,.0f}" for name in FIELDS) + " MB (tree)")
    for part in sorted(found, key=lambda p: ROLES.index(p.role)):
        scale.say(f"  {part.role:8s} {part.pid:>7d}  " + "  ".join(f"{name} {part.mb[name]:,.0f}" for name in FIELDS)
                  + f"  (private: {mappings(part.pid)})")


def summed(found: Sequence[Part]) -> dict[str, float]:
    """PSS per part (workers summed), and of the whole tree, MB."""
    totals: dict[str, float] = {"tree": sum(p.mb["Pss"] for p in found)}
    for part in found:
        totals[part.role] = totals.get(part.role, 0.0) + part.mb["Pss"]
    return totals


def one_run(number: int, work: Path, args: argparse.Namespace, options: argparse.Namespace) -> dict[str, float]:
    """Start the server cold, measure after load and (unless --no-mix) after scale.py's mix; return the figures.

    Raises BenchmarkError when the server does not load or serve."""
    folder = work / f"run-{number}"
    folder.mkdir(parents=True)
    engine = scale.Shiquan(folder, args.data, None, options)
    engine.env["SHIQUAN_VALIDATED_DIR"] = str(work / "validated")  # one verdict for every run
    engine.endpoint = engine._endpoint()
    engine.port = engine.endpoint.port
    figures: dict[str, float] = {}
    try:
        if not any((work / "validated").glob("*")):
            engine.validate()
        result = scale.Result(engine.name)
        with scale.PeakMemory() as peak:
            engine.start(peak)
            engine.settle()
        found = parts(engine.process.pid)
        show("after load", found)
        figures.update({f"after load {k}": v for k, v in summed(found).items()})
        if not args.no_mix:
            templates = [t for t in scale.read_templates() if t.name not in options.skip]
            pools = scale.fetch_pools(engine, options.request_timeout)
            scale.check_sizes(engine, result, templates, pools, options)
            sizes = sorted(result.checks.items())
            scale.say(f"row counts of {len(sizes)} sampled queries: sha256 "
                      f"{hashlib.sha256(repr(sizes).encode()).hexdigest()[:16]} (the same in every run: the same answers)")
            scale.measure_latency(engine, result, templates, pools, options)
            scale.measure_rates(engine, result, templates, pools, options)
            found = parts(engine.process.pid)
            show("at end", found)
            figures.update({f"at end {k}": v for k, v in summed(found).items()})
    finally:
        engine.stop()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Run and print the figures (see the module docstring); 1 when the server failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="N-Quads file of plans to serve")
    parser.add_argument("--runs", type=int, default=1, help="cold starts, one after another (default 1)")
    parser.add_argument("--duration", type=float, default=20.0, help="as scale.py's (default 20)")
    parser.add_argument("--skip", default="", help="as scale.py's: templates of benchmarks/mix to leave out")
    parser.add_argument("--work-dir", type=Path, help="folder for stores and logs, kept (default: a temporary one)")
    parser.add_argument("--no-mix", action="store_true", help="measure after load only")
    args = parser.parse_args(argv)
    options = scale.parse_args(["--data", str(args.data), "--engines", "shiquan", "--duration", str(args.duration),
                                "--skip", args.skip])
    runs = []
    with scale.work_folder(args.work_dir) as work:
        for number in range(1, args.runs + 1):
            try:
                runs.append(one_run(number, work, args, options))
            except scale.BenchmarkError as exc:
                print(f"memory benchmark failed: {exc}", file=sys.stderr)
                return 1
            time.sleep(1)
    print(f"PSS in MB, {args.data.name}, {len(runs)} cold start{'s' if len(runs) > 1 else ''} (median, then each run):")
    for key in sorted({key for run in runs for key in run}):
        values = [run[key] for run in runs if key in run]
        print(f"  {key:22s} {statistics.median(values):8,.0f}   " + " ".join(f"{v:,.0f}" for v in values))
    return 0


if __name__ == "__main__":
    sys.exit(main())
