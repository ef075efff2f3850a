"""The SERVICE guard reads every place where the engine can read a SERVICE call (sparql.text.service_calls).

Generated: thousands of spellings (glued to the token before and after, SILENT glued on, any case, comments, tabs,
prefixed names, BASE-relative IRIs, variables, inside OPTIONAL/MINUS/EXISTS/sub-selects/GRAPH/UNION). Each is run
twice in this process over a small store: once by the bare engine, to learn whether it calls a listener on a
loopback port (the spelling is "live"), and once through :func:`run.run`, the guarded path, with an empty allowlist
and then with another listener allowlisted and relayed. A guarded run must be refused or connect nowhere off the
allowlist. Then the issue's reproductions over a real socket, and the worker without a network.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import socket
import threading
import time
import urllib.parse

import pyoxigraph as ox
import pytest

from shiquan import create_app
from shiquan.errors import BadQuery, Forbidden, RemoteServiceFailed, ShiquanError
from shiquan.sparql import run, text

from .conftest import serving
from .test_hardening import call, is_error_body, post_query


class Listener:
    """A loopback port that counts the connections it receives and closes each at once (the engine's SERVICE call
    then fails fast with "connection reset")."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections = 0
        self.thread = threading.Thread(target=self._accept, daemon=True, name="test-listener")
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def off_list():
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def allowed():
    listener = Listener()
    yield listener
    listener.close()


E = "http://example.org/"


@pytest.fixture(scope="module")
def store():
    """Triples that every left-hand side of the spellings below matches, so that the engine goes on to the call."""
    s = ox.Store()
    g = ox.NamedNode(E + "g")
    for o in (ox.NamedNode(E + "o"), ox.Literal("x"), ox.Literal(1), ox.Literal(True)):
        s.add(ox.Quad(ox.NamedNode(E + "s"), ox.NamedNode(E + "p"), o, g))
    s.add(ox.Quad(ox.NamedNode(E + "o"), ox.NamedNode(E + "p"), ox.Literal(2), g))
    return s


# ---------------------------------------------------------------- the spellings

KEYWORDS = ["SERVICE", "service", "Service", "sErViCe"]
# What stands before the keyword (a pattern that ends where the keyword is glued on, or white space).
BEFORE = [
    "?s ?p ?o ", "?s ?p ?o", "?s ?p ?o .", "?s ?p ?o.", "?s ?p 1", "?s ?p true", '?s ?p "x"', f"?s ?p <{E}o>",
    "{?s ?p ?o}", "FILTER(true)", "?s ?p ?o FILTER(true)", "BIND(1 AS ?z)", "?s ?p [?q ?r]", "VALUES ?v {1}",
    "?s ?p ?o #c\n", "?s ?p ?o\t", "?s ?p ?o\r\n",
]
# SILENT or not, and what stands between the keyword and the endpoint.
BETWEEN = ["", " ", "\t", "\n", "#c\n", " SILENT ", "SILENT", "silent\t", "SiLeNt#c\n", "\tSILENT"]
AFTER = ["", " ", "\n", "#c\n", "\t"]
# (prologue, endpoint as written); $base is the URL's folder, $url the URL.
TARGETS = [
    ("", "<$url>"),
    ("PREFIX e: <$base/> ", "e:sparql"),
    ("prefix e:<$base/>", "e:sparql"),
    ("PREFIX : <$base/> ", ":sparql"),
    ("BASE <$base/x> ", "<sparql>"),
    ("BASE <$base/a/b> ", "<../sparql>"),
    ("base<$base/>PREFIX e:<>", "e:sparql"),
    ("PREFIX e: <$base/sp> ", "e:arql"),
]
# Where the call stands: $call is the keyword, the endpoint and its group, $before what precedes it.
WRAPPERS = [
    "SELECT * WHERE { $before$call }",
    "SELECT * WHERE { ?s ?p ?o OPTIONAL { $before$call } }",
    "SELECT * WHERE { ?s ?p ?o MINUS { $before$call } }",
    "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { $before$call } }",
    "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { $before$call } }",
    "SELECT * WHERE { { SELECT * WHERE { $before$call } } }",
    "SELECT * WHERE { GRAPH ?g { $before$call } }",
    "SELECT * WHERE { { ?s ?p ?o } UNION { $before$call } }",
    "ASK { $before$call }",
    "CONSTRUCT { ?s ?p ?o } WHERE { $before$call }",
]


def spellings(url: str, count: int, seed: int):
    """``count`` queries, each calling ``url`` with SERVICE in one of the ways above, drawn with ``seed``."""
    base = url.rsplit("/", 1)[0]
    chosen = random.Random(seed)
    space = [KEYWORDS, BEFORE, BETWEEN, AFTER, TARGETS, WRAPPERS]
    for _ in range(count):
        keyword, before, between, after, (prologue, target), wrapper = (chosen.choice(part) for part in space)
        call = f"{keyword}{between}{target}{after}{{ ?a ?b ?c }}"
        query = prologue + wrapper.replace("$before", before).replace("$call", call)
        yield query.replace("$base", base).replace("$url", url)


# Spellings the generator above does not make: the service: prefix trick, variables, the issue's three.
SPECIAL = [
    "PREFIX : <{base}/> SELECT * WHERE {{ ?s ?p ?o service:sparql {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ ?s ?p ?o BIND(<{url}> AS ?u) SERVICE ?u {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ BIND(<{url}> AS ?u) SERVICE SILENT $u {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ ?s ?p ?o SERVICESILENT <{url}> {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ ?s ?p 1SERVICE <{url}> {{ ?a ?b ?c }} }}",
    "SELECT * WHERE {{ ?s ?p trueSERVICE <{url}> {{ ?a ?b ?c }} }}",
    "ASK {{ ?s ?p ?o FILTER(?o<1)SERVICE#>\n<{url}>{{?a ?b ?c}} }}",
    "SELECT * WHERE {{ ?s ?p ?o SERVICE <{url}>{{?a ?b ?c}} SERVICE <{url}>{{?a ?b ?c}} }}",
]


def special(url: str) -> list[str]:
    return [s.format(url=url, base=url.rsplit("/", 1)[0]) for s in SPECIAL]


def engine_calls(store, query: str, listener: Listener) -> bool:
    """Whether the bare engine, with no guard, connects to ``listener`` running ``query``."""
    before = listener.connections
    try:
        result = store.query(query, use_default_graph_as_union=True)
        if not isinstance(result, ox.QueryBoolean):
            list(result)
    except (SyntaxError, OSError, RuntimeError):
        pass
    return listener.connections > before


def guarded_calls(store, query: str, listener: Listener, **options) -> bool | None:
    """Whether the guarded path connects to ``listener``; None when it refuses the query before running it."""
    before = listener.connections
    try:
        run.run(store, query, **options)
    except (Forbidden, BadQuery):
        return None if listener.connections == before else True
    except (RemoteServiceFailed, ShiquanError):
        pass
    return listener.connections > before


GENERATED = 3000


def test_generated_spellings_that_reach_the_engine_never_connect_off_the_allowlist(store, off_list):
    queries = list(spellings(off_list.url, GENERATED, seed=12)) + special(off_list.url)
    live = refused = 0
    leaks = []
    started = time.perf_counter()
    for query in queries:
        reaches = engine_calls(store, query, off_list)
        live += reaches
        outcome = guarded_calls(store, query, off_list)
        refused += outcome is None
        if outcome:
            leaks.append(query)
        if reaches:
            assert outcome is None, query  # every spelling the engine calls on is refused before it runs
    print(f"\n{len(queries)} spellings in {time.perf_counter() - started:.1f} s: {live} call the bare engine's "
          f"listener, {refused} refused by the guard, {len(leaks)} connected through it")
    assert not leaks, leaks[:5]
    assert live > len(queries) // 3, "the generator makes too few spellings the engine reads as SERVICE"


def test_generated_spellings_to_an_allowlisted_endpoint_are_relayed_and_only_there(store, off_list, allowed):
    """With ``allowed`` on the allowlist, each call to it is rewritten to the relay (here: the off-list listener's
    port stands in for nothing; the relay prefix points at a third listener), and the engine connects neither to
    the allowlisted endpoint directly nor off the list."""
    relay = Listener()
    try:
        prefix = f"http://127.0.0.1:{relay.port}/_service/t/"
        relayed = 0
        for query in list(spellings(allowed.url, 400, seed=7)) + special(allowed.url):
            direct_before, relay_before = allowed.connections, relay.connections
            reached = guarded_calls(store, query, off_list, service_allowlist=[allowed.url], service_relay=prefix)
            assert not reached, query
            assert allowed.connections == direct_before, query  # never called but through the relay
            relayed += relay.connections > relay_before
        assert relayed > 100
    finally:
        relay.close()


def test_a_relative_endpoint_is_resolved_against_the_base_the_engine_is_given(store):
    """The engine resolves relative IRIs against the dataset's base (run.BASE_IRI): so must the guard, or
    `SERVICE <sparql>` would be no call to it and reach https://w3id.org/shiquan/id/sparql unchecked."""
    with pytest.raises(Forbidden, match="https://w3id.org/shiquan/id/sparql"):
        run.run(store, "SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }", service_allowlist=["http://127.0.0.1:1/x"])
    assert [c.endpoint for c in text.service_calls("SELECT * { SERVICE <sparql> { ?s ?p ?o } }")] == [
        "https://w3id.org/shiquan/id/sparql"]


def test_a_relative_endpoint_is_refused_for_a_remote_store_whose_base_is_its_own():
    with pytest.raises(BadQuery, match="is not an IRI this endpoint can resolve"):
        text.service_calls("SELECT * { SERVICE <sparql> { ?s ?p ?o } }", strict=True)


def test_an_allowlisted_endpoint_named_in_a_string_is_not_rewritten(kg):
    url = "http://127.0.0.1:9/sparql"
    query = f'SELECT ?x WHERE {{ BIND("<{url}>" AS ?x) FILTER(?x != "SERVICE <{url}>") }}'
    seen = text.inspect(query, [url])
    assert seen.calls == ()
    assert text.relay_services(query, seen.calls, [url], "http://127.0.0.1:1/_service/t/") == query
    assert run.run(kg.store, query, service_allowlist=[url], service_relay="http://127.0.0.1:1/_service/t/").rows[0][0].value == f"<{url}>"


def test_a_mixed_query_with_one_call_off_the_allowlist_is_refused_whole(store, off_list, allowed):
    query = f"SELECT * WHERE {{ SERVICE <{allowed.url}> {{ ?a ?b ?c }} ?s ?p ?o SERVICESILENT <{off_list.url}> {{ ?a ?b ?c }} }}"
    with pytest.raises(Forbidden, match=f"SERVICE <{off_list.url}> is not allowed"):
        text.inspect(query, [allowed.url])


# ---------------------------------------------------------------- over a real socket

@pytest.fixture(scope="module")
def live_server():
    app = create_app({"TESTING": True, "WORKERS": 1, "QUERY_TIMEOUT_S": 5.0})
    try:
        with serving(app, threads=8) as base:
            yield app.extensions["shiquan"], base
    finally:
        app.extensions["shiquan"].close()


def test_the_issue_reproductions_are_refused_over_the_socket_and_connect_nowhere(live_server, off_list):
    _rt, base = live_server
    for query in special(off_list.url):
        before = off_list.connections
        reply = call(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": query}))
        assert reply.status == 403 and is_error_body(reply), (query, reply.body[:300])
        assert "not allowed" in reply.json()["message"]
        assert off_list.connections == before, query


def test_if_none_match_star_does_not_hide_a_syntax_error_or_an_update(live_server):
    _rt, base = live_server
    star = {"If-None-Match": "*"}
    broken = call(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": "SELECT * WHERE { ?s ?p }"}), headers=star)
    assert broken.status == 400 and is_error_body(broken)
    drop = call(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": "DROP ALL"}), headers=star)
    assert drop.status == 403 and is_error_body(drop)
    fine = call(base, "GET", "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}), headers=star)
    assert fine.status == 304 and fine.body == b""


# ---------------------------------------------------------------- the worker without a network

def raw_query_job(kg, settings, *, text):
    """The engine with no guard at all: what a worker would do if the SERVICE guard missed a call."""
    try:
        list(kg.store.query(text, use_default_graph_as_union=True))
    except OSError as exc:
        return f"OSError: {exc}"
    return "ran"


@pytest.mark.parametrize("allowlist,reaches", [([], False), (["http://127.0.0.1:1/sparql"], True)], ids=["no-allowlist", "allowlist"])
def test_a_worker_without_an_allowlist_connects_nowhere_even_with_the_guard_bypassed(off_list, allowlist, reaches):
    from shiquan import config
    from shiquan.graph import dataset
    from shiquan.runtime import pool, runtime

    settings = config.settings({"WORKERS": 1, "SERVICE_ALLOWLIST": allowlist})
    jobs = dict(runtime.JOBS, raw=raw_query_job)
    keeper = pool.Keeper(dataset.prepare, settings, jobs)
    try:
        workers = pool.Pool(lambda: pool._ForkedWorker(keeper), 1, settings)
        try:
            before = off_list.connections
            outcome = workers.call(pool.Job("raw", {"text": f"SELECT * WHERE {{ SERVICE <{off_list.url}> {{ ?a ?b ?c }} }}"}), 20)
            assert (off_list.connections > before) is reaches, outcome
            if not reaches:
                assert "unreachable" in outcome.lower() or "OSError" in outcome, outcome
        finally:
            workers.close()
    finally:
        keeper.close()


# ---------------------------------------------------------------- the relay, over a real socket

class Endpoint:
    """A loopback "SPARQL endpoint" that answers every request with ``reply(connection)``, one thread each; it
    records how long each connection stayed open and the most open at once."""

    def __init__(self, reply):
        self.reply = reply
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/sparql"
        self.open = self.most = 0
        self.durations: list[float] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True, name="test-endpoint")
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection) -> None:
        started = time.monotonic()
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        try:
            connection.settimeout(30)
            connection.recv(65536)
            self.reply(connection)
        except OSError:
            pass
        finally:
            connection.close()
            with self.lock:
                self.open -= 1
                self.durations.append(time.monotonic() - started)

    def close(self) -> None:
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self.thread.join(timeout=5)


def drip(connection) -> None:
    """An answer that never ends: a byte every 0.3 s, until the other end goes."""
    for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: "):
        connection.sendall(bytes([byte]))
        time.sleep(0.3)


def garbage(connection) -> None:
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


def html(connection) -> None:
    body = b"<html><body>not SPARQL</body></html>"
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@contextlib.contextmanager
def relaying(endpoint_url: str, **settings):
    app = create_app({"TESTING": True, "WORKERS": 1, "SERVICE_ALLOWLIST": [endpoint_url], "SERVICE_TIMEOUT_S": 1.0,
                      "QUERY_TIMEOUT_S": 5.0, **settings})
    try:
        with serving(app, threads=16) as base:
            yield base
    finally:
        app.extensions["shiquan"].close()


def test_relay_follows_no_redirect(off_list):
    def redirect(connection):
        connection.sendall(f"HTTP/1.1 302 Found\r\nLocation: {off_list.url}\r\nContent-Length: 0\r\n\r\n".encode())

    endpoint = Endpoint(redirect)
    try:
        with relaying(endpoint.url) as base:
            before = off_list.connections
            reply = post_query(base, f"SELECT * WHERE {{ SERVICE <{endpoint.url}> {{ ?a ?b ?c }} }}")
            assert reply.status == 502 and is_error_body(reply), reply.body[:300]
            assert endpoint.url in reply.json()["message"]
            assert off_list.connections == before
    finally:
        endpoint.close()


@pytest.mark.parametrize("answer", [garbage, html], ids=["no-http", "html"])
@pytest.mark.parametrize("form", ["SELECT * WHERE", "ASK"])
def test_an_allowlisted_endpoint_that_does_not_speak_sparql_is_a_502_naming_it(answer, form):
    endpoint = Endpoint(answer)
    try:
        with relaying(endpoint.url) as base:
            reply = post_query(base, f"{form} {{ SERVICE <{endpoint.url}> {{ ?a ?b ?c }} }}")
            assert reply.status == 502 and is_error_body(reply), reply.body[:300]
            assert reply.json()["error"] == "service_failed" and endpoint.url in reply.json()["message"]
    finally:
        endpoint.close()


def test_a_dripping_endpoint_is_cut_at_the_service_limit_and_does_not_stall_health():
    endpoint = Endpoint(drip)
    try:
        with relaying(endpoint.url, WORKERS=2) as base:
            query = f"SELECT * WHERE {{ SERVICE <{endpoint.url}> {{ ?a ?b ?c }} }}"
            started = time.perf_counter()
            reply = post_query(base, query)
            assert reply.status == 502 and is_error_body(reply), reply.body[:300]
            assert time.perf_counter() - started < 1.0 + 1.5
            clients = [threading.Thread(target=post_query, args=(base, query), daemon=True) for _ in range(6)]
            for client in clients:
                client.start()
            health = []
            while any(client.is_alive() for client in clients) and len(health) < 100:
                health.append(call(base, "GET", "/health", timeout=10))
                time.sleep(0.1)
            for client in clients:
                client.join(timeout=30)
            assert all(h.status == 200 for h in health) and max(h.seconds for h in health) < 1.0, [round(h.seconds, 2) for h in health]
            wait = time.monotonic() + 5
            while endpoint.open and time.monotonic() < wait:
                time.sleep(0.05)
            assert endpoint.open == 0 and endpoint.most <= 4  # at most two relayed calls per worker at once
            assert max(endpoint.durations) < 1.0 + 1.0, endpoint.durations  # each cut at SERVICE_TIMEOUT_S
    finally:
        endpoint.close()
