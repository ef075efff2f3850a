"""Worker processes that run queries and validations on the store, each under a time limit.

By default a keeper process loads the store into memory and forks the query
workers from itself, so that they share its pages: millions of triples are held
once, and a new worker is ready in milliseconds. With an on-disk store
(STORE_PATH) each worker opens it read-only instead. A worker answers one job
at a time over a pipe; a job over its time limit is stopped by killing its
worker, and a worker that dies is replaced, so one request never holds the
others up. With no workers (tests), jobs run in the calling thread on an open
store.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import queue
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shiquan import errors
from shiquan.graph import loading
from shiquan.errors import QueryTimeout, ShiquanError

log = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass(frozen=True)
class Job:
    """What to do in a worker: ``name`` in JOBS, with keyword ``args``."""

    name: str
    args: Mapping[str, Any]


def _query_job(store, settings, *, text, accept=None, fmt=None, default_graph_uris=None, named_graph_uris=None, service_relay=None):
    """Run a SPARQL query and serialise its answer in the negotiated format; returns (media type, bytes)."""
    from shiquan.sparql import run

    return run.respond(
        store,
        text,
        accept=accept,
        fmt=fmt,
        default_graph_uris=default_graph_uris,
        named_graph_uris=named_graph_uris,
        service_allowlist=settings["SERVICE_ALLOWLIST"],
        service_relay=service_relay,
        max_rows=settings["MAX_RESULT_ROWS"],
        timeout_s=settings["QUERY_TIMEOUT_S"],
    )


def _answer_job(store, settings, *, text):
    """Run a SPARQL query and return its Answer (for pages built from several queries)."""
    from shiquan.sparql import run

    return run.run(store, text, max_rows=settings["MAX_RESULT_ROWS"], timeout_s=settings["QUERY_TIMEOUT_S"])


def _validate_job(store, settings, *, data, fmt, source):
    """Validate RDF bytes against the shapes after OWL RL inference; returns a Report."""
    from shiquan.graph import validation

    return validation.validate_bytes(data, fmt, source, settings)


JOBS = {"query": _query_job, "answer": _answer_job, "validate": _validate_job}


def execute(store, settings: Mapping[str, Any], job: Job):
    """Run ``job`` here and now. Raises what the job raises."""
    return JOBS[job.name](store, settings, **job.args)


def _serve(conn, store, settings: dict) -> None:
    """Answer jobs from ``conn`` on ``store`` until the other end closes."""
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", execute(store, settings, job)))
        except ShiquanError as exc:
            conn.send(("error", (type(exc).__name__, str(exc))))
        except Exception:  # our bug: the parent logs it and answers 500
            conn.send(("crash", traceback.format_exc()))


def _worker_main(conn, store_path: str, settings: dict) -> None:
    import pyoxigraph

    _serve(conn, pyoxigraph.Store.read_only(store_path), settings)


def private_mb(pid: int) -> float | None:
    """The memory process ``pid`` holds alone (private pages, in MB), None when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
            fields = dict(line.split(b":", 1) for line in rollup.read().splitlines() if b":" in line)
    except OSError:
        return None
    return sum(int(fields.get(key, b"0 kB").split()[0]) for key in (b"Private_Clean", b"Private_Dirty")) / 1024


class _Worker:
    """A worker process of its own, over the on-disk store at ``store_path``."""

    recycle = False  # set when it is to be replaced after its current job

    def __init__(self, store_path: str, settings: dict):
        self.retired = False
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_worker_main, args=(child, store_path, settings), daemon=True)
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
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def _keeper_main(conn, settings: dict) -> None:
    """Load the store into memory, tell the parent, then fork a worker over it for each "fork" it sends.

    Each fork's end of a new socket pair goes back to the parent with the
    worker's pid (SCM_RIGHTS), so the worker talks to the parent directly.
    """
    import gc
    import os
    import signal
    import socket

    from shiquan.graph import loading
    from shiquan.graph import validation

    try:
        kg = loading.build_store(settings, progress=lambda stage, done, total: conn.send(("progress", (stage, done, total))))
        if settings.get("VALIDATE_ON_LOAD", True):
            validation.refuse_invalid_store(kg, settings, progress=lambda stage, done, total: conn.send(("progress", (stage, done, total))))
    except ShiquanError as exc:
        conn.send(("error", (type(exc).__name__, str(exc))))
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
                _serve(multiprocessing.connection.Connection(theirs.detach()), kg.store, settings)
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
        import os
        import signal

        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def join(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)


class Keeper:
    """The process holding the store in memory; forks workers on request.

    Raises what loading raises (BadInput, InconsistentGraph …) when the data
    cannot be loaded. ``progress`` is told the loading's stages.
    """

    def __init__(self, settings: Mapping[str, Any], progress=None):
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_keeper_main, args=(child, dict(settings)), daemon=True, name="shiquan-keeper")
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
        import multiprocessing.connection
        import os
        import socket

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
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


class _ForkedWorker(_Worker):
    """A worker forked from the keeper's loaded store."""

    def __init__(self, keeper: Keeper):
        self.retired = False
        pid, self.conn = keeper.fork()
        self.process = _ForkedProcess(pid)


def _raise_from(kind: str, payload) -> None:
    if kind == "error":
        name, message = payload
        cls = getattr(errors, name, ShiquanError)
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        raise exc
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

    def __init__(self, store, settings: Mapping[str, Any]):
        self.store, self.settings = store, dict(settings)

    def call(self, job: Job, timeout_s: float):
        try:
            return execute(self.store, self.settings, job)
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


class Runtime:
    """What a running server holds: the loaded store's description and the workers that query it.

    With a remote store (STORE_URL, or an http(s) URL as STORE_PATH) queries go to
    it from the request thread, and the workers, over an empty store, only validate.
    """

    def __init__(self, settings: Mapping[str, Any], progress: loading.Progress | None = None):
        import tempfile

        from shiquan.runtime import remote

        self.settings = dict(settings)
        self._temporary: str | None = None
        self.remote: remote.RemoteStore | None = None
        self.keeper: Keeper | None = None
        workers = int(settings["WORKERS"])
        url = remote.store_url(settings)
        path = None if url else settings.get("STORE_PATH")
        try:
            if url:
                if workers:
                    path = self._temporary = tempfile.mkdtemp(prefix="shiquan-store-")
                self._connect(url, path, workers)
                return
            if workers and not path:
                self.keeper = Keeper(settings, progress)
                self.counts, self.version, self.load_seconds = self.keeper.counts, self.keeper.version, self.keeper.load_seconds
                self.pool: Pool | Inline = Pool(lambda: _ForkedWorker(self.keeper), workers, settings)
                return
            kg = loading.build_store(settings, path, progress)
            if settings.get("VALIDATE_ON_LOAD", True):
                from shiquan.graph import validation

                try:
                    validation.refuse_invalid_store(kg, settings, progress)
                except BaseException:
                    kg.store.clear()
                    raise
            self.counts, self.version, self.load_seconds = kg.triples_per_graph, kg.version, kg.load_seconds
            if workers:
                kg.store.flush()
                del kg  # close the read-write handle: workers open the store read-only
                self.pool = Pool(lambda: _Worker(path, self.settings), workers, settings)
            else:
                self.pool = Inline(kg.store, settings)
        except BaseException:
            self.close()
            raise

    def _connect(self, url: str, path: str | None, workers: int) -> None:
        """Serve the remote store at ``url``: count its graphs; validation workers over an empty store at ``path``."""
        import pyoxigraph

        from shiquan.runtime import remote

        started = time.perf_counter()
        self.remote = remote.RemoteStore(url, self.settings)
        self.counts, self.version = self.remote.counts(), None  # no version: the store may change under us
        self.load_seconds = time.perf_counter() - started
        log.info("serving the store at %s: %d triples in %d graphs", self.remote.url, self.triple_count, len(self.counts))
        if workers:
            pyoxigraph.Store(path).flush()
            self.pool = Pool(lambda: _Worker(path, self.settings), workers, self.settings)
        else:
            self.pool = Inline(pyoxigraph.Store(), self.settings)

    @property
    def triple_count(self) -> int:
        return sum(self.counts.values())

    def store_status(self) -> dict:
        """Where queries go: ``{"kind": "embedded"}``, or the remote store's URL and whether it answers now."""
        if self.remote is None:
            return {"kind": "embedded"}
        return {"kind": "remote", "url": self.remote.url, "reachable": self.remote.reachable(min(5.0, self.remote.timeout_s))}

    def query(self, timeout_s: float | None = None, **args):
        """Run a SPARQL query job; returns (media type, bytes). Raises as :func:`query.run` and :func:`query.negotiate`
        (and RemoteServiceFailed for a remote store)."""
        if self.remote is not None:  # the remote store makes its own SERVICE calls
            args.pop("service_relay", None)
            return self.remote.query(timeout_s=timeout_s, **args)
        return self.pool.call(Job("query", args), timeout_s or self.settings["QUERY_TIMEOUT_S"])

    def answer(self, text: str):
        """Run a SPARQL query job and return its Answer."""
        if self.remote is not None:
            return self.remote.answer(text)
        return self.pool.call(Job("answer", {"text": text}), self.settings["QUERY_TIMEOUT_S"])

    def validate(self, data: bytes, fmt: str, source: str):
        """Validate uploaded RDF in a worker; returns a validation Report."""
        return self.pool.call(Job("validate", {"data": data, "fmt": fmt, "source": source}), self.settings["VALIDATE_TIMEOUT_S"])

    def close(self) -> None:
        import shutil

        if getattr(self, "pool", None) is not None:
            self.pool.close()
        if self.keeper is not None:
            self.keeper.close()
            self.keeper = None
        if self._temporary:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
