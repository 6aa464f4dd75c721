"""Slow clients hold no application thread: `treatygraph serve` reads each whole request in its
front (an event loop) before the app sees it, with time and size limits, and says 408, 413 or 400
itself. Loopback only, bounded: a few seconds each."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from reliability_support import serving
from sparql_support import client_at

from bench.slow_clients import SlowClients

SLOW_ADDRESSES = [f"127.0.0.{n}" for n in range(100, 160)]  # 60 addresses
SLOW_CONNECTIONS = 200
PROBE = "127.0.0.9"
PAGES = ["/healthz", "/", "/doc/organization/csto.html", "/id/organization/csto"]


@pytest.fixture(scope="module")
def front(config, built):
    """`treatygraph serve` as `make run` starts it (the front on), with short timeouts for the
    tests that wait them out."""
    with serving(config, TREATYGRAPH_HEAD_TIMEOUT="1.5", TREATYGRAPH_BODY_TIMEOUT="1.5") as server:
        yield server


def _raw(port: int, data: bytes, source: str = "127.0.0.1", timeout: float = 10) -> bytes:
    """Everything the server says to `data` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout, source_address=(source, 0)) as s:
        s.sendall(data)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    return answer


def test_pages_and_lookups_answer_within_a_second_while_200_slow_clients_hang_on(config, built):
    # The default timeouts (10 s head, 30 s body): the slow clients outlast the test.
    with serving(config) as server:
        probe = client_at(PROBE)
        for path in PAGES:  # each page once, so nothing is slow for being first
            assert probe.get(server.url + path, timeout=30).status_code == 200
        slow = SlowClients(server.port, SLOW_CONNECTIONS, SLOW_ADDRESSES, pause=0.3)
        try:
            time.sleep(1.0)  # every slow connection is in and trickling
            late = []
            for _ in range(3):
                for path in PAGES:
                    started = time.monotonic()
                    answer = probe.get(server.url + path, timeout=10)
                    seconds = time.monotonic() - started
                    assert answer.status_code == 200, (path, answer.status_code)
                    if seconds >= 1.0:
                        late.append((path, round(seconds, 2)))
            assert not late, f"answered late while slow clients hung on: {late}"
        finally:
            slow.close()


def test_a_request_head_sent_too_slowly_gets_408(front):
    started = time.monotonic()
    answer = _raw(front.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request head not received within 1.5 s" in answer
    assert time.monotonic() - started < 8


def test_a_request_body_sent_too_slowly_gets_408(front):
    answer = _raw(front.port, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nq=")
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"request body not received within 1.5 s" in answer


def test_an_idle_connection_is_closed_without_a_word(front):
    assert _raw(front.port, b"") == b""


def test_a_body_over_the_limit_gets_413_before_it_is_sent(front):
    head = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
    answer = _raw(front.port, head)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"at most 1000000 bytes" in answer


def test_a_chunked_body_over_the_limit_gets_413(front):
    """The client is still sending when the front refuses: the front reads and drops the rest
    (lingering close) so the 413 arrives, where closing on unread data reset the connection,
    sometimes before the answer was read (seen once in the full suite)."""
    chunk = b"%x\r\n%s\r\n" % (600_000, b"a" * 600_000)
    head = b"POST /sparql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    for _ in range(5):
        answer = _raw(front.port, head + chunk * 6 + b"0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 413 ")


def test_an_http11_request_without_host_gets_400_from_the_front(front):
    answer = _raw(front.port, b"GET /healthz HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"Host" in answer


def test_an_http10_request_without_host_is_answered(front):
    answer = _raw(front.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"status":"ok"' in answer


def test_a_malformed_request_gets_400_from_the_front(front):
    assert _raw(front.port, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")


def test_the_app_counts_the_clients_own_address_not_a_forwarded_one(front):
    """The app hears of the client's address from the front (PROXY protocol), and a client's
    X-Forwarded-For still counts for nothing."""
    client_at("127.0.0.77").get(
        f"{front.url}/healthz", headers={"X-Forwarded-For": "10.9.9.9"}, timeout=10
    )
    deadline = time.monotonic() + 5
    while "127.0.0.77 -" not in front.output and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "127.0.0.77 -" in front.output  # gunicorn's access log: the client's address
    assert "10.9.9.9 -" not in front.output


def test_pipelined_and_kept_alive_requests_are_answered_in_order(front):
    two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    answer = _raw(front.port, two)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 404 " in answer
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{front.url}/healthz", timeout=10).status_code == 200


def test_an_http11_request_without_host_gets_400_from_the_app_too(config, built):
    with serving(config, TREATYGRAPH_FRONT="0") as server:
        answer = _raw(server.port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert b"HTTP/1.1 requires a Host header" in answer
        ok = _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 ")
