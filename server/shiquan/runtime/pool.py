"""Worker processes that run jobs on a prepared dataset, each under a time limit: process mechanics only.

By default a keeper process prepares the dataset in memory (the function that does it is handed in) and forks
the workers from itself, so that they share its pages: millions of triples are held once, and a new worker is
ready in milliseconds. With an on-disk store each worker opens it read-only instead. A worker answers one job at
a time over a pipe; a job over its time limit is stopped by killing its worker, and a worker that dies is
replaced, so one request never holds the others up. With no workers (tests), jobs run in the calling thread.

What a job does is not known here: the job table (name → function of (dataset, settings, **args)) is handed in
by :mod:`shiquan.runtime.runtime`. This module imports nothing of the project but ``errors``.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shiquan.errors import QueryTimeout, ShiquanError

log = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")

Jobs = Mapping[str, Callable[..., Any]]
"""The job table: name → function(dataset, settings, **args); module-level functions, so that it pickles."""


@dataclass(frozen=True)
class Job:
    """What to do in a worker: ``name`` in the job table, with keyword ``args``."""

    name: str
    args: Mapping[str, Any]


def execute(jobs: Jobs, dataset, settings: Mapping[str, Any], job: Job):
    """Run ``job`` here and now. Raises what the job raises."""
    return jobs[job.name](dataset, settings, **job.args)


def _serve(conn, dataset, settings: dict, jobs: Jobs) -> None:
    """Answer jobs from ``conn`` on ``dataset`` until the other end closes.

    A ShiquanError travels back pickled, with its attributes (a BadInput keeps its file and line). A "start" job in
    the table runs once first (the runtime's: leave the network when no job needs it).
    """
    if "start" in jobs:
        execute(jobs, dataset, settings, Job("start", {}))
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", execute(jobs, dataset, settings, job)))
        except ShiquanError as exc:
            conn.send(("error", exc))
        except Exception:  # our bug: the parent logs it and answers 500
            conn.send(("crash", traceback.format_exc()))


def _worker_main(conn, opener: Callable[[str, dict], Any], store_path: str, settings: dict, jobs: Jobs) -> None:
    _serve(conn, opener(store_path, settings), settings, jobs)


def _stop(process, conn) -> None:
    """Kill ``process`` if it still runs, wait for it, and close our end of its pipe."""
    if process.is_alive():
        process.kill()
    process.join(timeout=5)
    conn.close()


def private_mb(pid: int) -> float | None:
    """The memory process ``pid`` holds alone (private pages, in MB), None when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            fields = dict(line.split(b":", 1) for line in rollup.read().splitlines() if b":" in line)
    except OSError:
        return None
    return sum(int(fields.get(key, b"0 kB").split()[0]) for key in (b"Private_Clean", b"Private_Dirty")) / 1024


class _Worker:
    """A worker process of its own, over the on-disk store at ``store_path``, opened by ``opener`` (a module-level
    function of (store_path, settings) returning the dataset its jobs run on)."""

    recycle = False  # set when it is to be replaced after its current job

    def __init__(self, opener: Callable[[str, dict], Any], store_path: str, settings: dict, jobs: Jobs):
        self.retired = False
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_worker_main, args=(child, opener, store_path, settings, jobs), daemon=True)
        self.process.start()
        child.close()

    def wait_ready(self, timeout: float) -> bool:
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()[0] == "ready"
            except EOFError:
                return False
        return False

    def stop(self) -> None:
        _stop(self.process, self.conn)


def _keeper_main(conn, prepare: Callable[..., Any], settings: dict, jobs: Jobs) -> None:
    """Prepare the dataset in memory with ``prepare(settings, progress=…)``, tell the parent, then fork a worker over
    it for each "fork" it sends.

    Each fork's end of a new socket pair goes back to the parent with the
    worker's pid (SCM_RIGHTS), so the worker talks to the parent directly.
    """
    try:
        kg = prepare(settings, progress=lambda stage, done, total: conn.send(("progress", (stage, done, total))))
    except ShiquanError as exc:
        conn.send(("error", exc))
        return
    except Exception:
        conn.send(("crash", traceback.format_exc()))
        return
    conn.send(("ready", {"counts": kg.triples_per_graph, "version": kg.version, "load_seconds": kg.load_seconds}))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers that end are reaped by the system
    gc.collect()
    gc.freeze()  # keep the loaded objects' pages shared with the workers
    control = socket.socket(fileno=os.dup(conn.fileno()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request != "fork":
            return
        ours, theirs = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                control.close()
                conn.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _serve(multiprocessing.connection.Connection(theirs.detach()), kg, settings, jobs)
            finally:
                os._exit(0)
        theirs.close()
        socket.send_fds(control, [pid.to_bytes(8, "big")], [ours.fileno()])
        ours.close()


class _ForkedProcess:
    """A worker forked by the keeper: a child of the keeper, not of this process, so known by its pid alone."""

    def __init__(self, pid: int):
        self.pid = pid

    def is_alive(self) -> bool:
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
        except OSError:
            return False

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def join(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)


class Keeper:
    """The process holding the prepared dataset in memory; forks workers on request.

    ``prepare`` (a module-level function of (settings, progress=…) returning the dataset, with
    ``triples_per_graph``, ``version`` and ``load_seconds``) runs in the keeper. Raises what it raises (BadInput,
    InconsistentGraph …) when the data cannot be prepared. ``progress`` is told the stages.
    """

    def __init__(self, prepare: Callable[..., Any], settings: Mapping[str, Any], jobs: Jobs, progress=None):
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_keeper_main, args=(child, prepare, dict(settings), jobs), daemon=True,
                                        name="shiquan-keeper")
        self.process.start()
        child.close()
        self._lock = threading.Lock()
        while True:
            try:
                kind, payload = self.conn.recv()
            except EOFError:
                self.close()
                raise ShiquanError("the store process stopped while loading (out of memory?)") from None
            if kind == "progress":
                if progress is not None:
                    progress(*payload)
                continue
            if kind == "ready":
                self.counts, self.version, self.load_seconds = payload["counts"], payload["version"], payload["load_seconds"]
                return
            self.close()
            _raise_from(kind, payload)

    def fork(self) -> tuple[int, Any]:
        """A new worker: its pid and a connection to it. Raises ShiquanError when the keeper is gone."""
        with self._lock:
            try:
                self.conn.send("fork")
                control = socket.socket(fileno=os.dup(self.conn.fileno()))
                try:
                    message, fds, _flags, _address = socket.recv_fds(control, 8, 1)
                finally:
                    control.close()
            except OSError as exc:
                raise ShiquanError(f"the store process cannot start a worker: {exc}") from exc
        if len(message) != 8 or len(fds) != 1:
            raise ShiquanError("the store process stopped")
        return int.from_bytes(message, "big"), multiprocessing.connection.Connection(fds[0])

    def close(self) -> None:
        _stop(self.process, self.conn)


class _ForkedWorker(_Worker):
    """A worker forked from the keeper's loaded store."""

    def __init__(self, keeper: Keeper):
        self.retired = False
        pid, self.conn = keeper.fork()
        self.process = _ForkedProcess(pid)


def _raise_from(kind: str, payload) -> None:
    if kind == "error":
        raise payload
    log.error("job failed in a worker:\n%s", payload)
    raise ShiquanError("internal error")


class Pool:
    """``size`` worker processes, each made by ``start`` (a _Worker over the on-disk store, or forked by the keeper)."""

    def __init__(self, start: Callable[[], _Worker], size: int, settings: Mapping[str, Any]):
        self.start, self.settings = start, dict(settings)
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.workers: set[_Worker] = set()
        self.size = size
        self.replaced = self.recycled = 0
        self._closed = False
        self._lock = threading.Lock()
        workers = [start() for _ in range(size)]
        self.workers.update(workers)
        for worker in workers:
            if not worker.wait_ready(60):
                self.close()
                raise ShiquanError("a query worker could not start")
            self.idle.put(worker)
        threading.Thread(target=self._watch, daemon=True, name="shiquan-worker-watch").start()

    def _watch(self) -> None:
        """Once a second: replace workers that died between jobs (killed, out of memory), and mark for replacement
        those whose private memory is over WORKER_MEMORY_MB (a forked worker copies each page of the shared store
        it writes to, reference counts included, so a long-lived one would end up with a copy of its own)."""
        limit = float(self.settings.get("WORKER_MEMORY_MB") or 0)
        while not self._closed:
            for worker in list(self.workers):
                if not worker.process.is_alive():
                    self._retire(worker)
                elif limit and not worker.recycle and (private_mb(worker.process.pid) or 0) > limit:
                    worker.recycle = True
            time.sleep(1)

    def _replace(self, delay: float = 0.0) -> None:
        """Start a worker in place of one that was stopped, without making anyone wait for it."""

        def start() -> None:
            time.sleep(delay)
            if self._closed:
                return
            try:
                worker = self.start()
            except ShiquanError as exc:
                log.error("cannot start a query worker: %s", exc)
                self._replace(delay=5.0)
                return
            with self._lock:
                self.workers.add(worker)
            if worker.wait_ready(60) and not self._closed:
                self.idle.put(worker)
                self.replaced += 1
            else:  # died while starting: try again, a little later
                self._retire(worker, delay=1.0)

        threading.Thread(target=start, daemon=True, name="shiquan-worker-start").start()

    def call(self, job: Job, timeout_s: float):
        """Run ``job`` in a free worker within ``timeout_s`` seconds.

        A worker that dies during the job is replaced and the job tried once
        more on another (jobs are read-only). Raises what the job raises;
        QueryTimeout when it runs over the limit (its worker is stopped and
        replaced); ShiquanError (500) when a second worker dies too.
        """
        for attempt in (1, 2):
            worker = self._take(timeout_s)
            try:
                worker.conn.send(job)
                if not worker.conn.poll(timeout_s):
                    self._retire(worker)
                    raise QueryTimeout(f"the request ran over the {timeout_s:g} s limit and was stopped")
                kind, payload = worker.conn.recv()
            except (EOFError, OSError):
                self._retire(worker)
                log.warning("a worker stopped during a job (attempt %d)", attempt)
                continue
            self._release(worker)
            if kind == "ok":
                return payload
            _raise_from(kind, payload)
        raise ShiquanError("internal error")

    def _take(self, timeout_s: float) -> _Worker:
        """An idle worker that is still alive; dead ones met on the way are replaced."""
        while True:
            try:
                worker = self.idle.get(timeout=max(timeout_s, 30))
            except queue.Empty:
                raise QueryTimeout("all query workers are busy; try again shortly") from None
            if worker.process.is_alive() and not worker.recycle:
                return worker
            self._release(worker)

    def _release(self, worker: _Worker) -> None:
        """Give ``worker`` back after a job, or, when it is marked for replacement or dead, replace it."""
        if worker.recycle and worker.process.is_alive():
            self.recycled += 1
            log.info("replacing a query worker over WORKER_MEMORY_MB")
        if worker.recycle or not worker.process.is_alive():
            self._retire(worker)
        else:
            self.idle.put(worker)

    def _retire(self, worker: _Worker, delay: float = 0.0) -> None:
        """Stop ``worker`` (once) and start another in its place."""
        with self._lock:
            if worker.retired:
                return
            worker.retired = True
            self.workers.discard(worker)
        worker.stop()
        if not self._closed:
            self._replace(delay)

    @property
    def alive(self) -> int:
        """Worker processes running, busy or idle."""
        return sum(1 for w in list(self.workers) if w.process.is_alive())

    def close(self) -> None:
        self._closed = True
        for worker in list(self.workers):
            worker.stop()
        self.workers.clear()


class Inline:
    """Jobs in the calling thread (WORKERS = 0): for tests; the time limit is only checked between rows."""

    size = 0
    replaced = recycled = 0

    def __init__(self, dataset, settings: Mapping[str, Any], jobs: Jobs):
        self.dataset, self.settings, self.jobs = dataset, dict(settings), jobs

    def call(self, job: Job, timeout_s: float):
        try:
            return execute(self.jobs, self.dataset, self.settings, job)
        except ShiquanError:
            raise
        except Exception:
            log.exception("job failed")
            raise ShiquanError("internal error") from None

    @property
    def alive(self) -> int:
        return 1

    def close(self) -> None:
        pass
