"""The HTTP server of `shiquan serve`, of the tests' live servers and of the benchmarks: waitress, with the limits a
public endpoint needs against clients that hold connections, send too much or read too slowly.

- **Connections.** waitress stops accepting at its connection limit (100 by default) and closes an idle one only
  after 120 s, so 100 idle keep-alive or slowloris connections left every other client waiting (measured: 5 of 5
  bystanders timed out after 5 s). Here the limit is CONNECTION_LIMIT (1000, the process's descriptor limit raised
  to fit, poll() instead of select(), which stops at descriptor 1024); a request's line and headers must arrive
  within HEADER_TIMEOUT_S of its first byte and its body within BODY_TIMEOUT_S (else 408 and the connection is
  closed); a connection with no request, or whose client reads none of its answer, is closed after IDLE_TIMEOUT_S;
  one client address holds at most MAX_CONNECTIONS_PER_CLIENT connections (429 to the next).
- **Bodies.** waitress's own body limit is MAX_BODY_BYTES: a Content-Length over it is refused (413) as soon as the
  headers are read, before any byte of the body is read or spooled, a chunked body as soon as it passes the limit,
  and a request with ``Expect: 100-continue`` gets the 413 instead of ``100 Continue``.
- **Answers.** An answer is passed to waitress in slices of OUTPUT_SLICE_BYTES, each waiting until the client has
  read the connection's buffer down to OUTPUT_BUFFER_BYTES; the buffer never spills to a temporary file, so a slow
  reader pins at most OUTPUT_BUFFER_BYTES + OUTPUT_SLICE_BYTES of memory and no disk. The thread writing to it waits;
  a client that reads less than SLOWEST_READER_BYTES_PER_S over IDLE_TIMEOUT_S is disconnected, which frees it.
- Errors of the HTTP layer have the app's JSON body (``{"error", "message"}``) and its security headers.
- A response's header goes out in the same send(2) as the first slice of its body (waitress sends them apart: two
  segments, two wake-ups of the client per small answer), and the thread that went idle last serves the next request
  (waitress wakes the one idle longest, so that consecutive requests each ran on a cold thread).
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import resource
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask
from waitress.buffers import ReadOnlyFileBasedBuffer
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher, WSGITask

from shiquan.errors import PayloadTooLarge
from shiquan.web import SECURITY_HEADERS, DATA_CSP

log = logging.getLogger(__name__)

OUTPUT_SLICE_BYTES = 256 * 1024
# After refusing a request whose body may still be on its way, the connection is half-closed and what arrives is read
# and dropped for up to LINGER_S or LINGER_BYTES before the close, so that the client reads the 413 rather than a
# reset (http.client sending a 6 MiB body got ECONNRESET without it). Nothing of it is kept.
LINGER_S = 2.0
LINGER_BYTES = 64 * 1024 * 1024
HEADER_SLACK_BYTES = 64 * 1024  # request line and headers besides a GET's query string of up to MAX_BODY_BYTES
DESCRIPTORS_BESIDES_CONNECTIONS = 256  # worker pipes, the store's files, the trigger, the listening socket


@dataclass(frozen=True)
class Limits:
    """The limits of web/server.py's docstring, in seconds and bytes, read from the settings."""

    header_s: float
    body_s: float
    idle_s: float
    per_client: int
    body_bytes: int
    read_rate: float

    @classmethod
    def of(cls, settings) -> Limits:
        return cls(float(settings["HEADER_TIMEOUT_S"]), float(settings["BODY_TIMEOUT_S"]), float(settings["IDLE_TIMEOUT_S"]),
                   int(settings["MAX_CONNECTIONS_PER_CLIENT"]), int(settings["MAX_BODY_BYTES"]),
                   float(settings["SLOWEST_READER_BYTES_PER_S"]))


def error_response(status: int, reason: str, code: str, message: str, close: bool = True) -> tuple[str, list, bytes]:
    """The status line, headers and JSON body of an error answered by the HTTP layer itself."""
    body = json.dumps({"error": code, "message": message}).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Content-Security-Policy", DATA_CSP),
               ("Access-Control-Allow-Origin", "*"), *SECURITY_HEADERS]
    if close:
        headers.append(("Connection", "close"))
    return f"{status} {reason}", headers, body


def raw_response(status: int, reason: str, code: str, message: str) -> bytes:
    """An error answer as bytes on the wire, for a connection no task serves (refused, timed out); it closes."""
    line, headers, body = error_response(status, reason, code, message)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"HTTP/1.1 {line}\r\n{head}\r\n".encode("latin-1") + body


class JsonErrorTask(ErrorTask):
    """waitress's answer to a request it refuses itself (413, 431, 400 …), with the app's JSON body and headers."""

    def execute(self) -> None:
        error = self.request.error
        limits: Limits = self.channel.server.limits
        if error.code == 413:
            code, message = PayloadTooLarge.code, f"the request body is over the limit of {limits.body_bytes} bytes"
        elif error.code == 431:
            code, message = "request_header_fields_too_large", f"the request line and headers are too large: {error.body}"
        elif error.code >= 500:
            code, message = "internal_error", "internal error"
        else:
            code, message = error.reason.lower().replace(" ", "_"), str(error.body)
        self.status, headers, body = error_response(error.code, error.reason, code, message, close=False)
        self.response_headers.extend(headers)
        self.set_close_on_finish()
        self.content_length = len(body)
        self.channel.linger = True
        self.write(body)


class Task(WSGITask):
    """waitress's WSGI task, with the response header joined to the first slice of the body (see Channel.write_soon)."""

    def write(self, data) -> None:
        """Write ``data`` as waitress does; the first call leaves the header with the channel to go out with the body.

        Raises RuntimeError before start_response, ClientDisconnected (waitress) when the client has gone."""
        if self.wrote_header or not self.complete:
            return super().write(data)
        self.channel.header = self.build_response_header()
        self.wrote_header = True
        try:
            super().write(data)
        except BaseException:
            self.channel.header = b""
            raise
        header, self.channel.header = self.channel.header, b""
        if header:  # no body went out with it (HEAD, 304, an empty first chunk, a file)
            self.channel.write_soon(header)


class Channel(HTTPChannel):
    """One client connection: times the request being received, refuses before inviting a body over the limit, and
    writes answers in slices that wait for the client (see the module's docstring)."""

    task_class = Task
    error_task_class = JsonErrorTask
    header = b""  # a response header that waits to go out with the first slice of its body (Task.write)
    began = 0.0  # time.time() when the request being received (self.request) sent its first byte
    _timed = None  # that request
    _counted = False  # whether the server counts this connection against its client's address
    linger = False  # half-close and drain on closing (the request was refused with its body perhaps unread)
    draining_until = 0.0  # while draining: time.time() at which the connection is closed anyway
    drained = 0  # bytes read and dropped while draining
    queued = 0  # bytes of answers ever queued for the client (sent: queued - total_outbufs_len)
    window: tuple[float, int] | None = None  # while a writer waits for the client: (since when, bytes sent then)

    def received(self, data: bytes) -> bool:
        accepted = super().received(data)
        if self.request is not None and self.request is not self._timed:
            self._timed, self.began = self.request, time.time()
        return accepted

    def send_continue(self) -> None:
        """Invite the body only of a request that will be read: one already refused (its Content-Length over the
        limit) gets its 413 instead of ``100 Continue``."""
        if self.request.error is not None:
            self.request.expect_continue = False
            return
        super().send_continue()

    def write_soon(self, data) -> int:
        """Queue ``data`` for the client in slices, each waiting until the buffer is under OUTPUT_BUFFER_BYTES; a
        response header left by Task.write goes in front of the first slice.

        Raises ClientDisconnected (waitress) when the client has gone or was disconnected for reading nothing.
        """
        if isinstance(data, ReadOnlyFileBasedBuffer):
            return super().write_soon(data)  # a file (wsgi.file_wrapper) is read from as the client reads
        written, view = 0, memoryview(data)
        for at in range(0, len(view), OUTPUT_SLICE_BYTES):
            piece = bytes(view[at : at + OUTPUT_SLICE_BYTES])
            if self.header:
                piece, self.header = self.header + piece, b""
            written += super().write_soon(piece)
            self.queued += len(piece)
        return written

    def handle_close(self) -> None:
        """Close, or first half-close and drain when a refused request's body may still be arriving (see LINGER_S)."""
        if self.linger and self.connected and not self.draining_until:
            self.linger = False
            try:
                self.socket.shutdown(socket.SHUT_WR)
            except OSError:
                return super().handle_close()
            self.will_close = self.close_when_flushed = False
            self.draining_until = time.time() + LINGER_S
            return
        super().handle_close()

    def readable(self) -> bool:
        return bool(self.draining_until) or super().readable()

    def handle_read(self) -> None:
        if not self.draining_until:
            return super().handle_read()
        try:
            self.drained += len(self.recv(self.adj.recv_bytes))  # b"" at the end: recv has closed the connection
        except OSError:
            return super().handle_close()
        if self.drained > LINGER_BYTES:
            super().handle_close()

    def expire(self, now: float, limits: Limits) -> None:
        """Close this connection when its request is arriving too slowly (408), its answer is not being read, or it
        has drained long enough."""
        if self.draining_until:
            if now > self.draining_until:
                self.will_close = True  # closed by the loop (handle_write), never while it builds its poll list
        elif self.request is not None and not self.requests and not self.will_close and not self.close_when_flushed:
            headers_done = self.request.headers_finished
            allowed = limits.body_s if headers_done else limits.header_s
            if now - self.began > allowed:
                what = "body" if headers_done else "request line and headers"
                self.answer_and_close(raw_response(408, "Request Timeout", "request_timeout",
                                                   f"the request's {what} did not arrive within {allowed:g} s"))
        elif self.requests and self.total_outbufs_len > self.adj.outbuf_high_watermark:
            self.pace(now, limits)
        else:
            self.window = None

    def pace(self, now: float, limits: Limits) -> None:
        """While a thread waits for this client to read its answer: disconnect a client that read less than
        SLOWEST_READER_BYTES_PER_S over the last IDLE_TIMEOUT_S, which wakes the writer (ClientDisconnected)."""
        sent = self.queued - self.total_outbufs_len
        if self.window is None:
            self.window = (now, sent)
        elif now - self.window[0] >= limits.idle_s:
            if (sent - self.window[1]) / (now - self.window[0]) < limits.read_rate:
                # Not by will_close: a socket whose client reads nothing never becomes writable, so the loop would
                # never close it. The trigger runs the close in the loop's thread, outside the poll list it builds.
                self.server.trigger.pull_trigger(self.cut_off)
            self.window = (now, sent)

    def cut_off(self) -> None:
        """Close at once with a reset, dropping the megabytes the kernel still holds for a client too slow to read
        them (a plain close would keep sending them at the client's pace)."""
        if self._fileno is None:
            return  # closed meanwhile
        with contextlib.suppress(OSError):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.handle_close()

    def answer_and_close(self, answer: bytes) -> None:
        """Send ``answer`` (when the socket takes it at once) and close, dropping the request being received."""
        self.request = None
        try:
            self.socket.send(answer)
        except OSError:
            pass
        self.will_close = True

    def del_channel(self, map=None) -> None:
        if self._counted:
            self._counted = False
            self.server.forget(self.addr)
        super().del_channel(map)


class Dispatcher(ThreadedTaskDispatcher):
    """waitress's pool of request threads, handing each task to the thread that went idle last rather than to the one
    idle longest: with one client, one thread serves every request, with its stack and caches warm (with 16 threads
    taken in turn the seed lookup cost the web process 10-30% more CPU, measured)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle: list[threading.Condition] = []  # the idle threads' wake-ups, the last to go idle on top

    def handler_thread(self, thread_no: int) -> None:
        wake = threading.Condition(self.lock)
        while True:
            with self.lock:
                while not self.queue and self.stop_count == 0:
                    self.active_count -= 1
                    self.idle.append(wake)
                    wake.wait()  # whoever notifies it has taken it off self.idle
                    self.active_count += 1
                if self.stop_count > 0:
                    self.active_count -= 1
                    self.stop_count -= 1
                    self.threads.discard(thread_no)
                    self.thread_exit_cv.notify()
                    return
                task = self.queue.popleft()
            try:
                task.service()
            except BaseException:
                self.logger.exception("Exception when servicing %r", task)

    def add_task(self, task) -> None:
        with self.lock:
            self.queue.append(task)
            if self.idle:
                self.idle.pop().notify()
            else:
                self.queue_logger.warning("Task queue depth is %d", len(self.queue))

    def set_thread_count(self, count: int) -> None:
        super().set_thread_count(count)
        with self.lock:  # threads to stop are idle ones: wake them all, the others go back to waiting
            while self.idle:
                self.idle.pop().notify()


class Server(TcpWSGIServer):
    """waitress's TCP server with per-address connection counting and the request and body timeouts."""

    channel_class = Channel

    def __init__(self, application, limits: Limits, **adjustments: Any) -> None:
        self.limits = limits
        self.per_client: collections.Counter[str] = collections.Counter()
        dispatcher = Dispatcher()
        super().__init__(application, dispatcher=dispatcher, **adjustments)
        dispatcher.set_thread_count(self.adj.threads)

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:
            return  # the client went away before its connection was accepted
        client = addr[0]
        if self.limits.per_client and self.per_client[client] >= self.limits.per_client:
            _refuse(conn, self.limits.per_client)
            return
        channel = self.channel_class(self, conn, addr, self.adj, map=self._map)
        self.per_client[client] += 1
        channel._counted = True

    def forget(self, addr) -> None:
        """One connection of the client at ``addr`` closed."""
        client = addr[0]
        self.per_client[client] -= 1
        if self.per_client[client] <= 0:
            del self.per_client[client]

    def maintenance(self, now: float) -> None:
        """Each cleanup_interval (1 s): idle connections (waitress, IDLE_TIMEOUT_S), then slow requests and readers.
        One pass over 1,000 connections takes about 1 ms."""
        super().maintenance(now)
        for channel in list(self.active_channels.values()):
            channel.expire(now, self.limits)


def _refuse(conn: socket.socket, limit: int) -> None:
    """Answer 429 on a connection over the client's limit, if its buffer takes it at once, and close it."""
    conn.setblocking(False)
    try:
        conn.send(raw_response(429, "Too Many Requests", "too_many_connections",
                               f"this address already holds {limit} connections to the server: reuse one or close some"))
    except OSError:
        pass
    conn.close()


def descriptors_for(connections: int) -> int:
    """How many connections the process can hold: raises its soft limit on open files to fit ``connections`` (up to
    the hard limit) and returns ``connections``, or fewer when the hard limit is lower (logged)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + DESCRIPTORS_BESIDES_CONNECTIONS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fitted = max(soft - DESCRIPTORS_BESIDES_CONNECTIONS, 16)
        log.warning("open files limited to %d (ulimit -n): %d connections instead of CONNECTION_LIMIT %d", soft, fitted, connections)
        return fitted
    return connections


def create_server(app: Flask, host: str | None = None, port: int | None = None, threads: int | None = None) -> Server:
    """A waitress server of ``app`` bound to ``host``:``port`` (default: the app's HOST and PORT) with ``threads``
    (default THREADS), not yet running; the app's HOST and PORT become where it is bound (port 0 picks a free one),
    and so its public base URL unless PUBLIC_BASE_URL is set. Raises OSError when the address cannot be bound."""
    settings = app.config
    output_buffer = int(settings["OUTPUT_BUFFER_BYTES"])
    server = Server(
        app,
        Limits.of(settings),
        host=settings["HOST"] if host is None else host,
        port=settings["PORT"] if port is None else port,
        threads=threads or settings["THREADS"],
        ident="shiquan",
        connection_limit=descriptors_for(int(settings["CONNECTION_LIMIT"])),
        asyncore_use_poll=True,
        cleanup_interval=1,
        channel_timeout=float(settings["IDLE_TIMEOUT_S"]),
        # waitress refuses a body of max_request_body_size bytes or more; the app accepts MAX_BODY_BYTES.
        max_request_body_size=int(settings["MAX_BODY_BYTES"]) + 1,
        # A GET's query string may be as long as a POST body (waitress's own limit, 256 KiB, would refuse it first).
        max_request_header_size=int(settings["MAX_BODY_BYTES"]) + HEADER_SLACK_BYTES,
        outbuf_high_watermark=output_buffer,
        outbuf_overflow=output_buffer + 2 * OUTPUT_SLICE_BYTES,  # over what a buffer can hold: never a temporary file
    )
    settings["HOST"], settings["PORT"] = server.effective_host, int(server.effective_port)
    return server
