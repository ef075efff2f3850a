"""web/server.py over real sockets: the HTTP server `shiquan serve` runs, attacked as issue 12 attacked it.

Connections (finding 4): 500 idle keep-alive or slowloris connections leave other clients answered within a second;
slow requests get 408, connections over a client address's cap 429. Bodies (finding 7): a body over MAX_BODY_BYTES
is refused from its headers, before it is read or spooled, ``Expect: 100-continue`` included; a slow reader of a
large answer pins no temporary file and is disconnected. Headers (finding 11) on every response, absolute URLs from
the configured base, never the Host header, and no query parameter reaches url_for (the ``_method`` 500 of finding 10).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import urllib.parse

import pytest

from shiquan.errors import BadInput
from shiquan.web import public_base_url
from shiquan.web import server as http_server

from .conftest import app_with, serving

ATTACKERS = 500
ATTACKER_ADDRESS = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to loopback: a second client address
SECURITY = {"X-Frame-Options": "SAMEORIGIN", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def app():
    # The slow-reader tests need answers of 32 MiB, the default MAX_RESULT_BYTES: allow a little more here.
    with app_with(MAX_RESULT_BYTES=64 * 1024 * 1024) as app:
        yield app


@contextlib.contextmanager
def served(app, threads: int = 4, **settings):
    """``app`` served (conftest.serving) with ``settings`` changed for this server only; yields its port."""
    before = {key: app.config[key] for key in (*settings, "HOST", "PORT")}
    app.config.update(settings)
    try:
        with serving(app, threads=threads) as base:
            yield int(base.rsplit(":", 1)[1])
    finally:
        app.config.update(before)


def get(port: int, target: str, headers: dict | None = None, timeout: float = 5.0) -> tuple[http.client.HTTPResponse, bytes, float]:
    """One GET on a connection of its own: the response, its body and the seconds it took."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response, response.read(), time.perf_counter() - started
    finally:
        connection.close()


def bystander_seconds(port: int, rounds: int, pause: float = 0.5) -> list[float]:
    """Seconds each of ``rounds`` GET /health took (all must be 200), ``pause`` apart."""
    seconds = []
    for _ in range(rounds):
        response, _, took = get(port, "/health")
        assert response.status == 200
        seconds.append(took)
        time.sleep(pause)
    return seconds


@contextlib.contextmanager
def connections(port: int, count: int, source: str = "127.0.0.1", first: bytes = b""):
    """``count`` connections from ``source``, each sending ``first``; all closed at the end."""
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.settimeout(5)
            sock.connect(("127.0.0.1", port))
            if first:
                sock.sendall(first)
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def fates(sockets: list[socket.socket]) -> dict[str, int]:
    """How each connection stands without waiting: the status line it received, or "open" or "closed"."""
    seen: dict[str, int] = {}
    for sock in sockets:
        sock.setblocking(False)
        try:
            data = sock.recv(65536)
            fate = data.split(b"\r\n", 1)[0].decode() if data else "closed"
        except BlockingIOError:
            fate = "open"
        except OSError:
            fate = "closed"
        seen[fate] = seen.get(fate, 0) + 1
    return seen


def raw_exchange(port: int, head: bytes, wait: float = 5.0) -> bytes:
    """Send ``head`` alone on a connection and read what comes back until it closes or ``wait`` passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head)
        received = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def status_and_json(raw: bytes) -> tuple[str, dict, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, json.loads(body)


def deleted_files_bytes() -> int:
    """Bytes in this process's open files that have no name any more: waitress's temporary files."""
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").endswith("(deleted)"):
                total += os.fstat(int(fd)).st_size
    return total


# ---------------------------------------------------------------- finding 4: connections

# Before: waitress's 100 connections filled by 100 idle keep-alive connections, 5 of 5 bystanders timed out at 5 s.

def test_five_hundred_idle_keepalive_connections_leave_other_clients_answered_within_a_second(app):
    with served(app, MAX_CONNECTIONS_PER_CLIENT=0) as port:
        with connections(port, ATTACKERS, first=b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n") as idle:
            time.sleep(1)
            assert max(bystander_seconds(port, 5)) < 1.0
            assert fates(idle) == {"HTTP/1.1 200 OK": ATTACKERS}  # each answered and held open, none refused


def test_five_hundred_slowloris_connections_leave_other_clients_answered_and_each_gets_408(app):
    with served(app, MAX_CONNECTIONS_PER_CLIENT=0, HEADER_TIMEOUT_S=3.0) as port:
        with connections(port, ATTACKERS, first=b"G") as slow:
            stop = threading.Event()

            def drip() -> None:  # a byte a second on each, as slowloris does
                for _ in range(30):
                    if stop.wait(1.0):
                        return
                    for sock in slow:
                        with contextlib.suppress(OSError):
                            sock.send(b"E")

            dripper = threading.Thread(target=drip, daemon=True)
            dripper.start()
            try:
                assert max(bystander_seconds(port, 12)) < 1.0  # 6 s: past the header timeout
            finally:
                stop.set()
                dripper.join(timeout=5)
            assert fates(slow) == {"HTTP/1.1 408 Request Timeout": ATTACKERS}


def test_connections_over_the_cap_of_one_address_get_429_and_other_addresses_are_served(app):
    with served(app, MAX_CONNECTIONS_PER_CLIENT=100) as port:
        with connections(port, ATTACKERS, source=ATTACKER_ADDRESS) as held:
            time.sleep(1)
            assert max(bystander_seconds(port, 3)) < 1.0
            assert fates(held) == {"open": 100, "HTTP/1.1 429 Too Many Requests": ATTACKERS - 100}


def test_request_whose_headers_stop_halfway_gets_408_after_the_header_timeout(app):
    with served(app, HEADER_TIMEOUT_S=1.0) as port:
        started = time.perf_counter()
        raw = raw_exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\n", wait=10)
        status, headers, body = status_and_json(raw)
        assert status == "HTTP/1.1 408 Request Timeout" and body["error"] == "request_timeout"
        assert "headers" in body["message"] and 1.0 <= time.perf_counter() - started < 4.0


def test_body_that_stops_halfway_gets_408_after_the_body_timeout(app):
    head = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: 100\r\n\r\nASK"
    with served(app, BODY_TIMEOUT_S=1.0) as port:
        status, _, body = status_and_json(raw_exchange(port, head, wait=10))
        assert status == "HTTP/1.1 408 Request Timeout" and "body" in body["message"]


def test_idle_keepalive_connection_is_closed_after_the_idle_timeout(app):
    with served(app, IDLE_TIMEOUT_S=1.0) as port:
        with connections(port, 1, first=b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n") as (sock,):
            sock.settimeout(10)
            started = time.perf_counter()
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            assert received.startswith(b"HTTP/1.1 200") and time.perf_counter() - started < 5.0


# ---------------------------------------------------------------- finding 7: bodies and answers

# Before: Content-Length 1 GiB - 1: all 100 MiB sent were written to a temporary file before the app's 413;
# Expect: 100-continue got "100 Continue" and then 413.
GIB_POST = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nContent-Length: 1073741823\r\n"


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"], ids=["plain", "expect-100-continue"])
def test_content_length_over_the_limit_is_refused_from_the_headers_before_any_body_byte(app, expect):
    with served(app) as port:
        raw = raw_exchange(port, GIB_POST + expect + b"\r\n")
    assert b"100 Continue" not in raw
    status, headers, body = status_and_json(raw)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert body == {"error": "payload_too_large", "message": f"the request body is over the limit of {app.config['MAX_BODY_BYTES']} bytes"}
    assert SECURITY.items() <= headers.items()


def test_body_under_the_limit_with_expect_100_continue_is_invited_and_answered(app):
    query = b"ASK { ?s ?p ?o }"
    head = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nConnection: close\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(query))
    with served(app) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(query)
        assert sock.recv(100).startswith(b"HTTP/1.1 200 OK")


def test_chunked_body_is_refused_once_it_passes_the_limit_having_buffered_at_most_the_limit(app):
    chunk = b"%x\r\n" % MIB + b"#" * MIB + b"\r\n"
    limit_mib = app.config["MAX_BODY_BYTES"] // MIB
    with served(app) as port, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\nTransfer-Encoding: chunked\r\n\r\n")
        answer, sent = b"", 0
        while not answer and sent < 4 * limit_mib:
            sock.sendall(chunk)
            sent += 1
            sock.settimeout(0.2)
            with contextlib.suppress(TimeoutError):
                answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413") and sent <= limit_mib + 2
        assert deleted_files_bytes() <= app.config["MAX_BODY_BYTES"]  # waitress spools a body over 512 KiB


def test_body_over_the_limit_sent_whole_without_waiting_gets_the_413_not_a_reset(app):
    with served(app) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/sparql", body=b"#" * (6 * MIB), headers={"Content-Type": "application/sparql-query"})
        response = connection.getresponse()
        assert response.status == 413 and json.loads(response.read())["error"] == "payload_too_large"
        connection.close()


# A 32 MiB answer: a literal doubled 21 times (16 Mi characters), twice.
BIG_ANSWER = ('SELECT ?x WHERE { VALUES ?n { 1 2 } BIND("xxxxxxxx" AS ?x0) '
              + " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(21)) + " BIND(?x21 AS ?x) }")


def test_slow_reader_of_a_large_answer_pins_no_temporary_file_and_is_disconnected(app):
    # Before: the whole answer (here 32 MiB) went to a temporary file per reader, kept while the client did not read.
    target = "/sparql?" + urllib.parse.urlencode({"query": BIG_ANSWER})
    with served(app, threads=2, IDLE_TIMEOUT_S=2.0) as port:
        readers = []
        for _ in range(2):  # as many as the server has threads
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAccept: text/csv\r\n\r\n".encode())
            readers.append(sock)
        try:
            for sock in readers:
                assert sock.recv(12) == b"HTTP/1.1 200"  # the answer has begun; nothing more is read
            time.sleep(1)
            assert deleted_files_bytes() == 0
            response, _, took = get(port, "/health", timeout=20)  # both threads were freed by the disconnection
            assert response.status == 200 and took < 10
        finally:
            for sock in readers:
                sock.close()


# ---------------------------------------------------------------- finding 11 and 10: headers, URLs, url_for

@pytest.mark.parametrize("target,status", [
    ("/health", 200),
    ("/sparql?query=ASK%7B%7D", 200),
    ("/", 200),
    ("/download/shiquan.nq", 200),
    ("/no/such/page", 404),
    ("/id/dataset/shiquan", 303),
    ("/sparql?query=SELEC", 400),
])
def test_every_response_carries_the_security_headers(app, target, status):
    with served(app) as port:
        response, _, _ = get(port, target)
    assert response.status == status
    assert {name: response.getheader(name) for name in SECURITY} == SECURITY
    assert "frame-ancestors 'self'" in response.getheader("Content-Security-Policy")


@pytest.mark.parametrize("query", ["_method=POST", "_scheme=javascript&_external=1", "_anchor=x&_external=1", "format=ntriples"])
def test_dataset_iri_redirects_to_the_void_with_its_query_string_as_it_came(app, query):
    with served(app) as port:
        response, _, _ = get(port, f"/id/dataset/shiquan?{query}")
        assert response.status == 303 and response.getheader("Location") == f"/.well-known/void?{query}"
        followed, _, _ = get(port, response.getheader("Location"))
        assert followed.status == 200


@pytest.mark.parametrize("target,accept", [("/download", "application/json"), ("/.well-known/void", "text/turtle"), ("/sparql", "text/turtle")])
def test_absolute_urls_come_from_the_public_base_url_never_the_host_header(app, target, accept):
    with served(app, PUBLIC_BASE_URL="https://shiquan.example.org/kg") as port:
        _, body, _ = get(port, target, {"Host": "evil.example", "Accept": accept})
    assert b"evil.example" not in body and b"https://shiquan.example.org/kg/sparql" in body


def test_without_a_public_base_url_absolute_urls_are_the_bound_address(app):
    with served(app) as port:
        response, body, _ = get(port, "/download", {"Host": "evil.example", "Accept": "application/json"})
    assert json.loads(body)["sparqlEndpoint"] == f"http://127.0.0.1:{port}/sparql"


@pytest.mark.parametrize("base", ["javascript:alert(1)", "ftp://example.org", "https://example.org/?q=1", "https://"])
def test_public_base_url_that_is_not_an_http_url_of_a_host_is_refused(base):
    with pytest.raises(BadInput, match="PUBLIC_BASE_URL"):
        public_base_url({"PUBLIC_BASE_URL": base, "HOST": "127.0.0.1", "PORT": 8000})


def test_reader_trickling_under_the_slowest_rate_is_disconnected_and_its_thread_freed(app):
    # Without the rate, the one HTTP thread waits as long as the client trickles: /health timed out at 10 s.
    target = "/sparql?" + urllib.parse.urlencode({"query": BIG_ANSWER})
    with served(app, threads=1, IDLE_TIMEOUT_S=2.0) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAccept: text/csv\r\n\r\n".encode())
            assert sock.recv(12) == b"HTTP/1.1 200"
            stop = threading.Event()

            def trickle() -> None:  # 2.5 kB/s, under SLOWEST_READER_BYTES_PER_S (16 KiB/s)
                while not stop.wait(0.2):
                    with contextlib.suppress(OSError):
                        if not sock.recv(512):
                            return

            reader = threading.Thread(target=trickle, daemon=True)
            reader.start()
            try:
                response, _, took = get(port, "/health", timeout=15)  # the one thread, freed by the disconnection
                assert response.status == 200 and took < 12
            finally:
                stop.set()
                reader.join(timeout=5)


def _who(environ, start_response):
    """A WSGI app that answers with the identity of the thread serving it."""
    body = str(threading.get_ident()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@contextlib.contextmanager
def bare_server(app, threads: int):
    """web/server.py's Server (the app's limits) over _who on a free loopback port; yields the server."""
    server = http_server.Server(_who, http_server.Limits.of(app.config), host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True, name="test-bare-waitress")
    thread.start()
    try:
        yield server
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=10)
        server.trigger.pull_trigger(lambda: [channel.close() for channel in list(server._map.values())])
        thread.join(timeout=10)


def test_requests_in_a_row_are_served_by_the_threads_that_went_idle_last_and_close_stops_them_all(app):
    # waitress wakes the thread idle longest: 30 requests in a row went to each of the 8 threads in turn. The thread
    # that answered may still be ending its task when the next request comes, so two threads may share the work.
    with bare_server(app, threads=8) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
        served_by = set()
        for _ in range(30):
            connection.request("GET", "/")
            served_by.add(connection.getresponse().read())
        connection.close()
        dispatcher = server.task_dispatcher
    assert len(served_by) <= 2
    assert not dispatcher.threads


@pytest.mark.parametrize("method,body", [("GET", True), ("HEAD", False)])
def test_a_small_answer_goes_out_in_one_send_with_its_header(app, monkeypatch, method, body):
    # waitress sent the header and the body apart: two segments, and two wake-ups of the client, per answer.
    sends = []
    plain_send = http_server.Channel.send

    def counted(channel, data, do_close=True):
        sends.append(bytes(data))
        return plain_send(channel, data, do_close)

    monkeypatch.setattr(http_server.Channel, "send", counted)
    with bare_server(app, threads=2) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=5)
        connection.request(method, "/")
        response = connection.getresponse()
        answer = response.read()
        connection.close()
    assert response.status == 200 and bool(answer) is body
    assert len(sends) == 1 and sends[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert sends[0].endswith(answer) and (b"\r\n\r\n" + answer) in sends[0]
