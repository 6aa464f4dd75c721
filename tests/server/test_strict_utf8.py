"""Text that is not UTF-8 is refused, never silently replaced (issue 14, item 1).

Werkzeug decodes query strings and form bodies with replacement, so `"\\xe9"` became U+FFFD and
a different query ran (200, no rows). Every way a query arrives is tried here: the body of an
application/sparql-query POST, the `query` parameter in the URL (percent-encoded and as a raw
byte), a form body, a multipart body, the dataset parameters, and /search's `q`. Each must answer
400, naming the parameter and the byte offset of the first bad byte.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import quote

import pytest
import requests
from reliability_support import serving

from server.strict_text import NotUTF8, decode_utf8, parse_urlencoded

QUERY_WITH_E_ACUTE = b'SELECT * WHERE { ?s ?p "\xe9" }'
OFFSET = QUERY_WITH_E_ACUTE.index(b"\xe9")
GOOD_QUERY = 'SELECT * WHERE { ?s ?p "é" } LIMIT 1'


@pytest.fixture(scope="module")
def sparql(live_server) -> str:
    return f"{live_server.url}/sparql"


def assert_refused(response, *names: str) -> str:
    """A plain-text 400 that names the problem, each of `names` and no stack trace."""
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    message = response.text
    assert "not UTF-8" in message and "0xE9" in message, message
    for name in names:
        assert name in message, f"{name!r} is not in {message!r}"
    assert "Traceback" not in message
    return message


def test_decode_utf8_names_the_offset_of_the_first_bad_byte():
    with pytest.raises(NotUTF8, match=rf"byte 0xE9 at byte offset {OFFSET}\b"):
        decode_utf8(QUERY_WITH_E_ACUTE, "the request body")
    assert decode_utf8("é".encode(), "x") == "é"


def test_parse_urlencoded_decodes_percent_escapes_and_plus_strictly():
    params = parse_urlencoded(b"q=caf%C3%A9+bar&q=2&empty=&flag", "the URL")
    assert params.getlist("q") == ["café bar", "2"]
    assert params["empty"] == "" and params["flag"] == ""
    with pytest.raises(NotUTF8, match=r"parameter `q` in the URL .* offset 3\b"):
        parse_urlencoded(b"q=caf%E9", "the URL")
    with pytest.raises(NotUTF8, match=r"a parameter name in the URL"):
        parse_urlencoded(b"%FF=1", "the URL")


def test_sparql_query_body_not_utf8_is_refused(sparql):
    response = requests.post(
        sparql,
        data=QUERY_WITH_E_ACUTE,
        headers={"Content-Type": "application/sparql-query; charset=UTF-8"},
        timeout=30,
    )
    assert_refused(response, "request body", f"offset {OFFSET}")


def test_sparql_query_body_in_another_charset_is_unsupported(sparql):
    response = requests.post(
        sparql,
        data=QUERY_WITH_E_ACUTE,
        headers={"Content-Type": "application/sparql-query; charset=ISO-8859-1"},
        timeout=30,
    )
    assert response.status_code == 415
    assert "UTF-8" in response.text and "ISO-8859-1" in response.text


def test_sparql_get_parameter_not_utf8_is_refused(sparql):
    before = "SELECT * WHERE {} #"
    response = requests.get(f"{sparql}?query={quote(before)}%E9", timeout=30)
    assert_refused(response, "parameter `query` in the URL", f"offset {len(before)}")


def test_sparql_form_body_not_utf8_is_refused(sparql):
    body = b"query=" + QUERY_WITH_E_ACUTE.replace(b"\xe9", b"%E9")
    response = requests.post(
        sparql,
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert_refused(response, "parameter `query` in the form body", f"offset {OFFSET}")


def test_sparql_multipart_body_not_utf8_is_refused(sparql):
    response = requests.post(sparql, files={"query": (None, QUERY_WITH_E_ACUTE)}, timeout=30)
    assert_refused(response, "field `query`", f"offset {OFFSET}")


@pytest.mark.parametrize("parameter", ["default-graph-uri", "named-graph-uri"])
def test_sparql_dataset_parameter_not_utf8_is_refused(sparql, parameter):
    graph = "https://example.org/"
    params = f"query=ASK%20%7B%7D&{parameter}={graph}%E9"
    response = requests.get(f"{sparql}?{params}", timeout=30)
    assert_refused(response, f"parameter `{parameter}` in the URL", f"offset {len(graph)}")
    response = requests.post(
        sparql,
        data=params.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert_refused(response, f"parameter `{parameter}` in the form body", f"offset {len(graph)}")


def test_search_query_not_utf8_is_refused(live_server):
    response = requests.get(f"{live_server.url}/search?q=arm%E9nia", timeout=30)
    assert_refused(response, "parameter `q`", "offset 3")


def test_valid_utf8_still_runs_every_way(sparql):
    """The same query in UTF-8 is answered (200) by each route the refusals above take."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [
        requests.get(sparql, params={"query": GOOD_QUERY}, timeout=30),
        requests.post(sparql, data={"query": GOOD_QUERY}, headers=form, timeout=30),
        requests.post(sparql, files={"query": (None, GOOD_QUERY.encode())}, timeout=30),
        requests.post(
            sparql,
            data=GOOD_QUERY.encode(),
            headers={"Content-Type": "application/sparql-query; charset=utf-8"},
            timeout=30,
        ),
    ]
    for response in answers:
        assert response.status_code == 200, response.text
        assert "results" in json.loads(response.content)


RAW_BEFORE = "ASK {} #"
RAW_REQUEST = (
    f"GET /sparql?query={quote(RAW_BEFORE)}".encode()
    + b"\xe9 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
)


def send_raw(port: int, request: bytes) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read().decode("utf-8", "replace")


@pytest.mark.parametrize(
    ("front", "message"), [("1", "illegal request line"), ("0", "Invalid HTTP request line")]
)
def test_raw_byte_in_the_request_line_is_refused_under_serve(config, built, front, message):
    """A client that sends the byte unescaped on the request line: under `treatygraph serve`,
    the front (h11) refuses the request line itself, or gunicorn without the front, before the
    app sees it."""
    with serving(config, TREATYGRAPH_FRONT=front) as running:
        status, body = send_raw(running.port, RAW_REQUEST)
    assert status == 400, body
    assert message in body
