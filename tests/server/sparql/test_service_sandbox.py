"""SERVICE can reach no address but the allowlisted ones, whatever reads the query text.

Two guards, each tested on its own: the reader (treatygraph.sparql.text) finds or refuses every
SERVICE clause Oxigraph would call, checked with Oxigraph itself as the oracle on generated
queries; and the query workers cannot open an Internet socket at all, checked with the reader
bypassed."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import sys
import threading

import pyoxigraph as ox
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparql_support import WIKIDATA, SilentSocket, endpoint_server

import server.sparql
from treatygraph.sparql.text import QueryRefused, QueryText, QueryTextError, read_query


@pytest.fixture
def listener():
    sock = SilentSocket()
    yield sock
    sock.close()


# -- the reader, against Oxigraph ----------------------------------------------------------------
def _keyword():
    return st.sampled_from(["SERVICE", "service", "Service", "sErViCe", "\\u0053ERVICE"])


GAPS = st.sampled_from(["", " ", "\n", "\t", "#note\n", " #x\n "])
TARGETS = st.sampled_from([":x", "ex:y", ":", "ex:", "<{url}>", "<x>", "ex:\\.y"])
CONTAINERS = st.sampled_from(
    [
        "{inner}",
        "?a ?b 1 {inner}",
        "?a ?b ?c . {inner}",
        "OPTIONAL {{ {inner} }}",
        "FILTER EXISTS {{ {inner} }}",
        "FILTER NOT EXISTS {{ {inner} }}",
        "MINUS {{ {inner} }}",
        "{{ {inner} }} UNION {{ ?a ?b ?c }}",
        "{{ SELECT * WHERE {{ {inner} }} }}",
        "GRAPH ?g {{ {inner} }}",
        "BIND(1 AS ?one) {inner}",
    ]
)


@st.composite
def service_queries(draw, base: str) -> str:
    keyword, silent = draw(_keyword()), draw(st.booleans())
    clause = keyword + draw(GAPS)
    if silent:
        clause += draw(st.sampled_from(["SILENT", "silent"])) + draw(GAPS)
    clause += draw(TARGETS).format(url=base + "x") + draw(GAPS) + "{ ?s ?p ?o }"
    body = draw(CONTAINERS).format(inner=clause)
    return f"BASE <{base}>\nPREFIX : <{base}>\nPREFIX ex: <{base}>\nSELECT * WHERE {{ {body} }}"


def _oxigraph_calls(query: str, listener: SilentSocket) -> int:
    """How many connections Oxigraph opens to the listener running the query (it may refuse it)."""
    before = len(listener.connections)
    with contextlib.suppress(SyntaxError, OSError, ValueError, RuntimeError):
        list(ox.Store().query(query))
    threading.Event().wait(0.05)  # the listener's thread records the connection
    return len(listener.connections) - before


def test_reader_finds_every_service_oxigraph_would_call(listener):
    base = f"http://127.0.0.1:{listener.port}/"

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(service_queries(base))
    def check(query):
        try:
            reading = read_query(query, allowlist=(base + "x", base, base + "y"))
        except QueryRefused:
            return  # refused: nothing runs
        except QueryTextError:
            return  # unreadable: nothing runs
        if not reading.services:
            assert _oxigraph_calls(query, listener) == 0, (
                f"the reader missed a SERVICE in {query!r}"
            )

    check()


@pytest.mark.parametrize(
    "query",
    [
        "PREFIX : <{base}> SELECT * WHERE {{ SERVICE:x{{?s ?p ?o}} }}",
        "PREFIX ex: <{base}> SELECT * WHERE {{ SERVICEex:y{{?s ?p ?o}} }}",
        "PREFIX : <{base}> select * where {{ service:x{{?s ?p ?o}} }}",
        "PREFIX : <{base}> SELECT * WHERE {{ FILTER EXISTS {{ SERVICE:x{{?s ?p ?o}} }} }}",
        "SELECT * WHERE {{ SERVICESILENT<{base}x>{{?s ?p ?o}} }}",
    ],
)
def test_service_run_together_with_its_endpoint_is_refused(config, built, listener, query):
    """The red team's forms, over GET and POST: 403, and the listener hears nothing."""
    text = query.format(base=f"http://127.0.0.1:{listener.port}/")
    with endpoint_server(config, service_allowlist=()) as live:
        got = requests.get(f"{live.url}/sparql", params={"query": text}, timeout=30)
        posted = requests.post(f"{live.url}/sparql", data={"query": text}, timeout=30)
    assert got.status_code == posted.status_code == 403, got.text
    assert "SERVICE" in got.text
    assert listener.connections == []


# -- the workers, with the reader bypassed ---------------------------------------------------------
def test_worker_opens_no_socket_when_the_reader_misses_a_service(
    config, built, listener, monkeypatch
):
    """A SERVICE the reader did not see reaches Oxigraph, which may not call anyone: 502."""
    monkeypatch.setattr(
        server.sparql,
        "read_query",
        lambda raw, predeclared=None, allowlist=(): QueryText(text=raw, form="SELECT"),
    )
    query = f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"
    with endpoint_server(config, service_allowlist=()) as live:
        response = requests.get(f"{live.url}/sparql", params={"query": query}, timeout=30)
    assert response.status_code == 502, response.text
    assert "never lets it" in response.text
    assert listener.connections == []


def test_a_worker_process_cannot_open_an_internet_socket():
    """The sandbox itself, in a process of its own: Internet sockets refused, Unix ones allowed."""
    script = (
        "import socket\n"
        "from server.sparql.sandbox import deny_network\n"
        "deny_network()\n"
        "socket.socketpair()\n"
        "for family in (socket.AF_INET, socket.AF_INET6):\n"
        "    try:\n"
        "        socket.socket(family)\n"
        "    except PermissionError:\n"
        "        continue\n"
        "    raise SystemExit('opened')\n"
        "print('denied')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "denied", done.stderr


# -- what is kept and what is said ---------------------------------------------------------------
class _FailingEndpoint(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"SECRET-REMOTE-BODY " * 100
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_service_failure_is_a_502_without_the_remote_body(config, built):
    remote = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FailingEndpoint)
    threading.Thread(target=remote.serve_forever, daemon=True).start()
    mirror = f"http://127.0.0.1:{remote.server_address[1]}/sparql"
    query = f"SELECT * WHERE {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }}"
    try:
        with endpoint_server(config, service_mirrors={WIKIDATA: mirror}) as live:
            response = requests.get(f"{live.url}/sparql", params={"query": query}, timeout=30)
    finally:
        remote.shutdown()
    assert response.status_code == 502, response.text
    assert "SECRET-REMOTE-BODY" not in response.text


def test_an_answer_that_reached_out_is_never_kept(config, built, wikidata_mirror, monkeypatch):
    """Keeping is decided by what the evaluation did: even were the reader to offer a tag for a
    SERVICE query, an answer the worker had requests made for is not kept."""
    from server.sparql import answers

    monkeypatch.setattr(answers, "answer_tag", lambda *args: "tag-of-a-federated-answer")
    query = f"SELECT * WHERE {{ SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} }} LIMIT 1"
    with endpoint_server(config, service_mirrors={WIKIDATA: wikidata_mirror}) as live:
        response = requests.get(f"{live.url}/sparql", params={"query": query}, timeout=30)
        assert response.status_code == 200, response.text
        assert "no-store" in response.headers["Cache-Control"]
        assert "ETag" not in response.headers
        again = requests.get(f"{live.url}/sparql", params={"query": query}, timeout=30)
        assert "RateLimit" in again.headers  # run again by a worker, not served as kept
