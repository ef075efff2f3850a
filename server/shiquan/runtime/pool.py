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

import ctypes
import gc
import hashlib
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import select
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shiquan.errors import EngineFault, MemoryLimit, QueryTimeout, ShiquanError, Unavailable

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
    os.environ["RUST_BACKTRACE"] = "0"  # an engine panic prints one line, not a symbolised backtrace (0.4 s of a crash of 0.45 s, with RUST_BACKTRACE=1)
    if "start" in jobs:
        execute(jobs, dataset, settings, Job("start", {}))
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            _send(conn, ("ok", execute(jobs, dataset, settings, job)))
        except ShiquanError as exc:
            _send(conn, ("error", exc))
        except Exception:  # our bug: the parent logs it and answers 500
            _send(conn, ("crash", traceback.format_exc()))


def _send(conn, message) -> None:
    """``conn.send(message)`` with the plain pickler: a job or an answer holds nothing that needs multiprocessing's
    (``Connection.send`` builds a ForkingPickler with a copy of copyreg's table for each message: 11 µs against 3 µs
    for a query job). The other end reads it with ``recv``, as any message."""
    conn.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))


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
    killed_for: str | None = None  # why the pool stopped it in the middle of a job ("memory")
    limit_mb: float = 0.0  # the current job's memory cap, over ``base_mb``
    base_mb: float = 0.0  # what the worker held when its current job started

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
        if self._statm is not None:
            self._statm.close()

    _statm = None  # its /proc/<pid>/statm, kept open (see memory_mb)

    def memory_mb(self) -> float | None:
        """:func:`anon_mb` of this worker, read through a descriptor kept open: one pread(2) on every job and every
        watchdog poll, where opening /proc/<pid>/statm took 26 µs (up to 60 µs in the web process under load) against
        2 µs. Through the descriptor a pid reused after the worker ended is never read: it reads as gone (None)."""
        try:
            if self._statm is None:
                self._statm = open(f"/proc/{self.process.pid}/statm", "rb", buffering=0)
            return _anon_mb(os.pread(self._statm.fileno(), 256, 0))
        except (OSError, ValueError):  # gone, or its descriptor closed by stop() meanwhile
            return None

    _poller = None

    def readable(self, timeout_s: float) -> bool:
        """Whether the worker's end of the pipe has written within ``timeout_s`` seconds: an answer, or its end (EOF,
        when the worker died). One poll(2) on a poller kept for the worker: multiprocessing's ``Connection.poll``
        builds and drops a selector on every call (~20 µs of a 130 µs hand-off)."""
        if self._poller is None:
            self._poller = select.poll()
            self._poller.register(self.conn.fileno(), select.POLLIN)
        return bool(self._poller.poll(max(0.0, timeout_s) * 1000))


def _keeper_main(conn, modules: tuple[str, ...] = (), parents_end=None) -> None:
    """Close ``parents_end`` (the parent's end of the pipe, which a forked keeper inherits: held here, the parent's
    exit would never end the pipe), import ``modules``, then wait for the parent's order ``(prepare, settings,
    jobs)`` (see :class:`Keeper`): prepare the dataset in memory with ``prepare(settings, progress=…)``, tell the
    parent, then fork a worker over it for each "fork" it sends. Returns at once when the parent closes its end
    before the order (a keeper started ahead of need and not used).

    Each fork's end of a new socket pair goes back to the parent with the
    worker's pid (SCM_RIGHTS), so the worker talks to the parent directly.
    """
    if parents_end is not None:
        parents_end.close()
    for name in modules:
        importlib.import_module(name)
    try:
        prepare, settings, jobs = conn.recv()
    except (EOFError, OSError):
        return
    try:
        kg = prepare(settings, progress=lambda stage, done, total: conn.send(("progress", (stage, done, total))))
    except ShiquanError as exc:
        conn.send(("error", exc))
        return
    except Exception:
        conn.send(("crash", traceback.format_exc()))
        return
    conn.send(("ready", {"counts": kg.triples_per_graph, "version": kg.version, "load_seconds": kg.load_seconds}))
    gc.collect()
    gc.freeze()  # keep the loaded objects' pages shared with the workers
    # What loading and inferring freed, glibc keeps resident: national3, keeper RSS 361 -> 345 MB and the tree's PSS
    # after load 414 -> 389 MB (benchmarks/memory.py).
    release_free_memory()
    control = socket.socket(fileno=os.dup(conn.fileno()))
    children: dict[int, float | None] = {}
    if "kept" in jobs:
        children[_fork_kept(conn, control, kg, settings, jobs)] = None
    while True:
        try:
            if not conn.poll(1.0):
                _reap(children)
                continue
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
                _serve(multiprocessing.connection.Connection(theirs.detach()), kg, settings, jobs)
            finally:
                os._exit(0)
        children[pid] = None
        theirs.close()
        socket.send_fds(control, [pid.to_bytes(8, "big")], [ours.fileno()])
        ours.close()
        _reap(children)


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing where there is none).

    Loading and inferring free much of what they allocate, and glibc keeps it: in the keeper those pages would stay
    resident, shared by every worker forked from it, which would also copy the ones its allocations reuse. Raises
    nothing."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    """glibc through ctypes when it has ``malloc_trim``, else None (musl, macOS)."""
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "malloc_trim") else None
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


def _fork_kept(conn, control: socket.socket, kg, settings: dict, jobs: Jobs) -> int:
    """Run the table's "kept" job (the runtime's: write the tables of every ruling and keep the prepared store on
    disk) once, in a child forked from the keeper at low priority, so that it shares the dataset's pages and makes no
    query wait; returns its pid."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            control.close()
            conn.close()
            os.nice(10)
            execute(jobs, kg, settings, Job("kept", {}))
        except BaseException:  # noqa: BLE001 — the store is served anyway; only the next start pays
            log.exception("the kept job (tables of every ruling, prepared store on disk) failed")
            code = 1
        finally:
            logging.shutdown()
            os._exit(code)
    return pid


# A worker that ended stays a zombie this long before its keeper reaps it, so that the parent can read how it ended
# (/proc/<pid>/stat) when it sees its pipe close: a crash by signal (an engine fault) or a kill from outside.
ZOMBIE_S = 5.0


def _reap(children: dict[int, float | None]) -> None:
    """Reap the keeper's workers that ended over ZOMBIE_S ago (``children``: pid → when first seen ended)."""
    now = time.monotonic()
    for pid, ended in list(children.items()):
        if _ForkedProcess(pid).is_alive():
            continue
        if ended is None:
            children[pid] = now
        elif now - ended > ZOMBIE_S:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            del children[pid]


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

    @property
    def exitcode(self) -> int | None:
        """As multiprocessing's: -N when it ended by signal N, its exit status otherwise, None while it runs or once
        reaped (its keeper keeps it a zombie for ZOMBIE_S, and /proc/<pid>/stat's field 52 holds its wait status)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            return None
        if fields[0] != b"Z" or len(fields) < 50:
            return None
        status = int(fields[49])
        return -(status & 0x7F) if status & 0x7F else status >> 8


def _spawn_keeper(modules: tuple[str, ...] = (), context=_CONTEXT) -> tuple[Any, Any]:
    """A new keeper process (spawned, unless ``context`` says otherwise), importing ``modules`` and waiting for its
    order: the process and our end of its pipe."""
    conn, child = context.Pipe()
    forked = context.get_start_method() == "fork"
    process = context.Process(target=_keeper_main, args=(child, tuple(modules), conn if forked else None), daemon=True,
                              name="shiquan-keeper")
    process.start()
    child.close()
    return process, conn


_early: tuple[Any, Any] | None = None  # a keeper process started ahead of need (start_keeper_early), not yet used
_early_lock = threading.Lock()


def start_keeper_early(modules: tuple[str, ...] = ()) -> None:
    """Start the next :class:`Keeper`'s process now, to wait for its order with ``modules`` imported (what its
    dataset's preparation and jobs will need) while this process imports the rest and reads its settings. Does
    nothing when such a process waits already. One left unused exits with this process (a daemon).

    When this process runs a single thread (``shiquan serve`` as it starts), the keeper is forked: it starts with
    the modules imported here, where a spawned one starts an interpreter and imports them again (0.9 s before the
    load of national17, at load average 5). With other threads running, one of them could hold a lock the child
    would inherit held: it is spawned.
    """
    global _early
    with _early_lock:
        if _early is None:
            forked = threading.active_count() == 1
            _early = _spawn_keeper(modules, multiprocessing.get_context("fork") if forked else _CONTEXT)


def _take_early() -> tuple[Any, Any] | None:
    """The keeper process started ahead of need, if it still runs (it is then no longer waiting for another)."""
    global _early
    with _early_lock:
        taken, _early = _early, None
    if taken is not None and not taken[0].is_alive():
        _stop(*taken)
        return None
    return taken


class Keeper:
    """The process holding the prepared dataset in memory; forks workers on request.

    ``prepare`` (a module-level function of (settings, progress=…) returning the dataset, with
    ``triples_per_graph``, ``version`` and ``load_seconds``) runs in the keeper. Raises what it raises (BadInput,
    InconsistentGraph …) when the data cannot be prepared. ``progress`` is told the stages.
    """

    def __init__(self, prepare: Callable[..., Any], settings: Mapping[str, Any], jobs: Jobs, progress=None):
        self.process, self.conn = _take_early() or _spawn_keeper()
        try:
            self.conn.send((prepare, dict(settings), jobs))
        except OSError:
            self.close()
            raise ShiquanError("the store process stopped before loading") from None
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


def anon_mb(pid: int) -> float | None:
    """The anonymous memory process ``pid`` has resident (MB; /proc/<pid>/statm: resident less file-backed), None
    when it is gone. Cheap (one small read), unlike :func:`private_mb`. A forked worker starts with its keeper's pages
    counted, so what a job allocates is the growth of this figure."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return _anon_mb(statm.read())
    except OSError:
        return None


def _anon_mb(statm: bytes) -> float:
    """Resident less file-backed, in MB, from the text of /proc/<pid>/statm. Raises ValueError when it is empty."""
    fields = statm.split()
    if len(fields) < 3:
        raise ValueError("empty statm")
    return (int(fields[1]) - int(fields[2])) * _PAGE / (1024 * 1024)


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _digest(job: Job) -> bytes:
    """What names a job in the crash memory: the same name and arguments, in any order, give the same digest."""
    return hashlib.sha256(pickle.dumps((job.name, sorted(job.args.items())))).digest()


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class Pool:
    """``size`` worker processes, each made by ``start`` (a _Worker over the on-disk store, or forked by the keeper).

    ``name`` says what they run in messages ("query", "validation"). Every call is bounded end to end: waiting for
    a free worker and running the job share one deadline. A job is never run twice: a worker that dies in a job is
    an engine fault (its request remembered and refused at once for CRASH_MEMORY_S), a kill from outside, or the
    memory watchdog's doing (JOB_MEMORY_MB), and the client is told which.
    """

    def __init__(self, start: Callable[[], _Worker], size: int, settings: Mapping[str, Any], name: str = "query"):
        self.start, self.settings, self.name = start, dict(settings), name
        # Last in, first out: the worker that answered last takes the next job while its caches are warm (taking
        # them in turn cost each job of the seed lookup about 0.3 ms more CPU in the worker, measured).
        self.idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self.workers: set[_Worker] = set()
        self.busy: set[_Worker] = set()
        self.size = size
        self.replaced = self.recycled = self.crashed = self.waiting = 0
        self.lost: str | None = None  # why no job can run any more (the keeper is gone)
        self._crashes: dict[bytes, float] = {}  # request digest → when it crashed its worker
        self._closed = False
        self._lock = threading.Lock()
        workers = [start() for _ in range(size)]
        self.workers.update(workers)
        for worker in workers:
            if not worker.wait_ready(60):
                self.close()
                raise ShiquanError(f"a {name} worker could not start")
            self.idle.put(worker)
        threading.Thread(target=self._watch, daemon=True, name=f"shiquan-{name}-watch").start()
        if float(self.settings.get("JOB_MEMORY_MB") or 0):
            threading.Thread(target=self._guard, daemon=True, name=f"shiquan-{name}-memory").start()

    def _watch(self) -> None:
        """Once a second: replace workers that died between jobs (killed, out of memory), and mark for replacement
        those whose private memory is over WORKER_MEMORY_MB (a forked worker copies each page of the shared store
        it writes to, reference counts included, so a long-lived one would end up with a copy of its own)."""
        limit = float(self.settings.get("WORKER_MEMORY_MB") or 0)
        while not self._closed:
            for worker in list(self.workers):
                # A busy worker's death is read by its caller, who must see how it ended; but its memory is
                # checked busy or not (under load workers are always busy, and were never replaced: PSS doubled).
                if worker not in self.busy and not worker.process.is_alive():
                    self._retire(worker)
                elif limit and not worker.recycle and (private_mb(worker.process.pid) or 0) > limit:
                    worker.recycle = True
            time.sleep(1)

    def _guard(self) -> None:
        """Every JOB_MEMORY_POLL_S: stop a busy worker whose job has allocated more than its cap (see anon_mb)."""
        every = float(self.settings.get("JOB_MEMORY_POLL_S") or 0.05)
        while not self._closed:
            for worker in list(self.busy):
                now = worker.memory_mb()
                if worker.limit_mb and now is not None and now - worker.base_mb > worker.limit_mb and not worker.killed_for:
                    worker.killed_for = "memory"
                    worker.process.kill()
                    log.warning("stopped a %s worker at %.0f MB over its job's start (JOB_MEMORY_MB %g)", self.name,
                                now - worker.base_mb, worker.limit_mb)
            time.sleep(every)

    def _replace(self, delay: float = 0.0) -> None:
        """Start a worker in place of one that was stopped, without making anyone wait for it."""

        def start() -> None:
            time.sleep(delay)
            if self._closed or self.lost:
                return
            try:
                worker = self.start()
            except ShiquanError as exc:
                log.error("cannot start a %s worker: %s", self.name, exc)
                self._replace(delay=5.0)
                return
            with self._lock:
                self.workers.add(worker)
            if worker.wait_ready(60) and not self._closed:
                self.idle.put(worker)
                self.replaced += 1
            else:  # died while starting: try again, a little later
                self._retire(worker, delay=1.0)

        threading.Thread(target=start, daemon=True, name=f"shiquan-{self.name}-start").start()

    def call(self, job: Job, timeout_s: float, memory_mb: float | None = None):
        """Run ``job`` in a free worker, waiting for one included, within ``timeout_s`` seconds, and (when
        ``memory_mb``) with at most that much memory allocated while it runs.

        Raises what the job raises; QueryTimeout when no worker is free in time or the job runs over (its worker is
        stopped and replaced); MemoryLimit when it grows over ``memory_mb``; EngineFault (422) when its worker dies
        by itself, and at once for the same job sent again within CRASH_MEMORY_S; Unavailable when its worker is
        killed from outside or the keeper is gone; ShiquanError (500) for a bug in the job.
        """
        deadline = time.monotonic() + timeout_s
        if self._crashes:  # the job's digest is only read when a job has crashed a worker (6 µs a call)
            self._refuse_crasher(_digest(job))
        worker = self._take(deadline, timeout_s)
        if time.monotonic() >= deadline:  # freed just as the time ran out: give it back rather than kill it
            self.idle.put(worker)
            raise QueryTimeout(f"all {self.size} {self.name} workers stayed busy for the {timeout_s:g} s limit; "
                               "try again shortly")
        worker.killed_for, worker.limit_mb = None, float(memory_mb or 0)
        worker.base_mb = worker.memory_mb() or 0.0
        self.busy.add(worker)
        try:
            _send(worker.conn, job)
            if not worker.readable(deadline - time.monotonic()):
                self._retire(worker)
                raise QueryTimeout(f"the request ran over the {timeout_s:g} s limit and was stopped")
            kind, payload = worker.conn.recv()
        except (EOFError, OSError):
            raise self._ended(worker, job) from None
        finally:
            self.busy.discard(worker)
        self._release(worker, answered=True)
        if kind == "ok":
            return payload
        _raise_from(kind, payload)

    def _refuse_crasher(self, digest: bytes) -> None:
        """Raise EngineFault when the job of ``digest`` crashed a worker within CRASH_MEMORY_S."""
        when = self._crashes.get(digest)
        if when is None:
            return
        ago = time.monotonic() - when
        if ago > float(self.settings.get("CRASH_MEMORY_S") or 0):
            self._crashes.pop(digest, None)
            return
        raise EngineFault(f"this request crashed the query engine {ago:.0f} s ago; it is refused without running "
                          "(a fault of pyoxigraph; rephrase the query, e.g. without ORDER BY over mixed types)")

    def _ended(self, worker: _Worker, job: Job) -> ShiquanError:
        """The error for a job whose worker died in it (see :meth:`call`); the worker is replaced."""
        worker.process.join(timeout=1)  # its pipe closes as it ends: wait for its exit status
        code, reason = worker.process.exitcode, worker.killed_for
        self._retire(worker)
        if reason == "memory":
            return MemoryLimit(f"the {self.name} ran over the memory limit: it allocated more than the "
                               f"{worker.limit_mb:g} MB a job may (JOB_MEMORY_MB) and was stopped")
        if code is None or code == -signal.SIGKILL:
            log.warning("a %s worker was killed from outside during a job; not run again", self.name)
            return Unavailable(f"the worker running this {self.name} was stopped from outside (out of memory, or "
                               "by an operator); it was not run again: try again")
        self.crashed += 1
        with self._lock:
            if len(self._crashes) >= 4096:
                self._crashes.pop(next(iter(self._crashes)))
            self._crashes[_digest(job)] = time.monotonic()
        what = _signal_name(code) if code < 0 else f"exit status {code}"
        log.error("a %s worker crashed (%s) during a job; the request is refused from now on", self.name, what)
        return EngineFault(f"the query engine crashed on this request ({what}: a fault of pyoxigraph, not of the "
                           "request); it was not run again, and the same request will be refused at once")

    def _take(self, deadline: float, timeout_s: float) -> _Worker:
        """An idle worker that is still alive, before ``deadline``; dead ones met on the way are replaced. A worker
        is alive while its pipe is open (one poll(2), where reading /proc/<pid>/stat took ~17 µs).
        Raises QueryTimeout when none is free in time, Unavailable when the pool is lost."""
        with self._lock:
            self.waiting += 1
        try:
            while True:
                if self.lost:
                    raise Unavailable(self.lost)
                remaining = deadline - time.monotonic()
                try:
                    worker = self.idle.get(timeout=min(max(remaining, 0.0), 0.25))
                except queue.Empty:
                    if remaining <= 0:
                        raise QueryTimeout(f"all {self.size} {self.name} workers stayed busy for the {timeout_s:g} s "
                                           "limit; try again shortly") from None
                    continue
                with self._lock:  # not retired meanwhile by the watch, which closes its pipe
                    dead = worker.retired or worker.readable(0)  # an idle worker writes nothing: its pipe closed
                if dead:
                    self._retire(worker)
                    continue
                if not worker.recycle:
                    return worker
                self._release(worker)
        finally:
            with self._lock:
                self.waiting -= 1

    def _release(self, worker: _Worker, answered: bool = False) -> None:
        """Give ``worker`` back after a job, or, when it is marked for replacement or dead, replace it.

        A worker that has just ``answered`` is taken to be alive without reading /proc (two reads of ~17 µs each on
        every query): one that died since is found by the next :meth:`_take` or the watch."""
        alive = answered or worker.process.is_alive()
        if worker.recycle and alive:
            self.recycled += 1
            log.info("replacing a %s worker over WORKER_MEMORY_MB", self.name)
        if worker.recycle or not alive:
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

    @property
    def saturated(self) -> bool:
        """Whether requests are waiting for a worker (every one busy)."""
        return self.waiting > 0

    def close(self) -> None:
        self._closed = True
        for worker in list(self.workers):
            worker.stop()
        self.workers.clear()


class Inline:
    """Jobs in the calling thread (WORKERS = 0): for tests; the time limit is only checked between rows."""

    size = 0
    replaced = recycled = crashed = waiting = 0
    lost = None
    saturated = False

    def __init__(self, dataset, settings: Mapping[str, Any], jobs: Jobs):
        self.dataset, self.settings, self.jobs = dataset, dict(settings), jobs

    def call(self, job: Job, timeout_s: float, memory_mb: float | None = None):
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
