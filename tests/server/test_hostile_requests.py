"""Hostile and malformed requests against the server as `treatygraph serve` runs it (gunicorn).

What tests/server/sparql/test_sparql_hostile.py already throws at the endpoint (updates, SERVICE and FROM rules
with their \\u escapes, body and row limits, timeouts, memory, per-client limits, deep nesting) is not
repeated here. This suite covers the rest: path traversal on /dumps/, /doc/, /id/, /static/,
/graph/ and /ontology/ (encoded, double-encoded, backslashes, NUL, overlong UTF-8); malformed and
oversized bodies and framing (Content-Length and chunked tricks); absurd Accept headers and format
overrides; very long IRIs and headers; methods nobody serves; unicode edge cases and markup in
/search and in 404 pages; and SPARQL protocol corners (repeated and dataset parameters, odd
literals, a BOM, JSONP).

Every request is sent byte for byte over a socket, so nothing is normalised on the way. Each must
get one of the statuses listed for it (never a 500), a readable message, no stack trace, no file
from outside the build (a sentinel next to the releases, build.json, /etc/passwd, the project's
own files), no unescaped markup it was sent; and right after each, a normal query is answered.
"""

from __future__ import annotations

import http.client
import json
import secrets
import socket
import urllib.parse
from dataclasses import dataclass

import pytest
from reliability_support import serving

from treatygraph.core.config import PROJECT_ROOT

CSTO = "https://w3id.org/treatygraph/id/organization/csto"
NORMAL = f"ASK {{ <{CSTO}> <http://www.w3.org/2000/01/rdf-schema#label> ?label }}"
TRACE_MARKERS = (b"Traceback", b'File "/', b"site-packages", b"werkzeug/")
READABLE = ("text/plain", "text/html", "application/json")
NOT_FOUND = {404}
REFUSED = {400, 404}


@dataclass(frozen=True)
class Hostile:
    id: str
    request: bytes
    allowed: frozenset[int]
    forbid: tuple[bytes, ...] = ()
    may_reset: bool = False  # the server may close the connection while the body is still sent


def req(method: str, target: str | bytes, headers: dict | None = None, body: bytes = b"") -> bytes:
    """A request as raw bytes; `target` goes on the request line exactly as given."""
    line = target if isinstance(target, bytes) else target.encode("utf-8")
    head = {"Host": "127.0.0.1", "Connection": "close", **(headers or {})}
    if body and "Content-Length" not in head and "Transfer-Encoding" not in head:
        head["Content-Length"] = str(len(body))
    fields = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in head.items())
    return method.encode() + b" " + line + b" HTTP/1.1\r\n" + fields + b"\r\n" + body


def get(target, allowed, headers=None, forbid=()) -> tuple:
    return ("GET", target, headers, b"", allowed, forbid)


def sparql_get(query: str, allowed, extra: str = "", headers=None) -> tuple:
    target = "/sparql?query=" + urllib.parse.quote(query, safe="") + extra
    return get(target, allowed, headers)


def sparql_post(body: bytes, content_type: str, allowed) -> tuple:
    return ("POST", "/sparql", {"Content-Type": content_type}, body, allowed, ())


TRAVERSALS = {
    "dotdot": "../build.json",
    "dotdot-up-three": "../../../build.json",
    "encoded-slash": "..%2fbuild.json",
    "encoded-dots": "%2e%2e%2fbuild.json",
    "encoded-dots-plain-slash": "%2e%2e/build.json",
    "double-encoded": "..%252fbuild.json",
    "double-encoded-dots": "%252e%252e%252fbuild.json",
    "backslash": "..\\build.json",
    "encoded-backslash": "..%5cbuild.json",
    "nul": "%00",
    "nul-extension": "treatygraph.ttl%00.html",
    "dot-dot-slash-slash": "....//build.json",
    "semicolon": "..;/build.json",
    "overlong-utf8-dots": "%c0%ae%c0%ae/build.json",
    "etc-passwd": "../../../../../../etc/passwd",
    "etc-passwd-encoded": "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "absolute": "%2fetc%2fpasswd",
    "nul-then-dotdot": "..%00/etc/passwd",
    "invalid-utf8": "%ff%fe",
    "project-file": "..%2f..%2f..%2fpyproject.toml",
}
# Searches that are not UTF-8 are refused, never searched as U+FFFD.
NOT_UTF8_SEARCHES = ("surrogate-half", "overlong-slash", "truncated-utf8")
# Longer than /search reads (issue 20): refused with a message naming `q`.
OVERLONG_SEARCHES = ("combining-marks", "long-3000")
TRAVERSAL_PREFIXES = ("/dumps/", "/doc/state/", "/id/state/", "/static/", "/graph/", "/ontology/")

SPECS: dict[str, tuple] = {}
for prefix in TRAVERSAL_PREFIXES:
    for name, payload in TRAVERSALS.items():
        # werkzeug merges `//` and redirects (308) to the cleaned path, which is then a 404
        SPECS[f"traversal{prefix.rstrip('/').replace('/', '-')}-{name}"] = get(
            prefix + payload, {400, 404, 308}
        )
SPECS |= {
    "traversal-raw-nul-in-request-line": (
        "RAW",
        b"GET /dumps/void.ttl\x00/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        None,
        b"",
        {400},
        (),
    ),
    "traversal-dumps-index-dotdot": get("/dumps/..", {400, 404, 308}),
    "traversal-doc-ttl-then-dotdot": get(
        "/doc/organization/csto.ttl/..%2f..%2fbuild.json", REFUSED
    ),
    # absurd Accept headers on every negotiating route
    **{
        f"accept-{name}-{route}": get(path, {200, 303, 406}, {"Accept": value})
        for route, path in {
            "doc": "/doc/organization/csto",
            "id": "/id/organization/csto",
            "dumps": "/dumps/",
            "search": "/search?q=csto",
            "sparql": "/sparql?query=" + urllib.parse.quote(NORMAL, safe=""),
        }.items()
        for name, value in {
            "5000-chars": "x" * 5000,
            "bad-q": "text/turtle;q=abc",
            "q-zero-everything": "*/*;q=0",
            "500-types": ", ".join(f"a/b{i};q=0.{i % 10}" for i in range(500)),
            "huge-q": "text/html;q=1e9999",
            "params-only": ";;;;q=1",
        }.items()
    },
    "format-traversal-doc": get("/doc/organization/csto?format=../../etc/passwd", {400}),
    "format-nul-doc": get("/doc/organization/csto?format=%00", {400}),
    "format-nul-sparql": sparql_get(NORMAL, {400}, "&format=%00"),
    "format-traversal-dataset": get("/dataset?format=..%2f..%2fbuild.json", {400, 303}),
    "format-invalid-utf8-search": get("/search?q=x&format=%ff", {400}),
    # very long IRIs and headers
    "long-iri-7000": get("/id/state/" + "a" * 7000, NOT_FOUND),
    "long-iri-20000": get("/id/state/" + "a" * 20000, {414, 400}),
    "long-doc-iri-unicode": get("/doc/state/" + "%C3%A9" * 1300, NOT_FOUND),
    "long-sparql-get": sparql_get("ASK { ?s ?p ?o } #" + "x" * 9000, {414, 400}),
    "long-header": get("/healthz", {431, 400}, {"X-Big": "a" * 10000}),
    "many-headers": get("/healthz", {431, 400}, {f"X-H{i}": "v" for i in range(150)}),
    "long-host": get("/id/organization/csto", {400, 303}, {"Host": "a" * 5000}),
    "markup-host": get(
        "/doc/organization/csto", {200}, {"Host": "<script>evil"}, (b"<script>evil",)
    ),
    "long-if-none-match": get(
        "/doc/organization/csto.ttl", {200}, {"If-None-Match": '"' + "x" * 5000 + '"'}
    ),
    "bad-if-modified-since": get(
        "/doc/organization/csto.ttl", {200}, {"If-Modified-Since": "yesterday"}
    ),
    "range-past-the-end": get("/dumps/treatygraph.nt.gz", {416}, {"Range": "bytes=999999999-"}),
    "range-thousand-parts": get(
        "/dumps/treatygraph.nt.gz",
        {200, 206, 416},
        {"Range": "bytes=" + ",".join(f"{i}-{i}" for i in range(1000))},
    ),
    "range-garbage": get("/dumps/treatygraph.nt.gz", {200, 416}, {"Range": "lines=1-2"}),
    # methods nobody serves
    **{
        f"method-{method.lower()}-{route}": (method, path, None, b"", {405, 404, 400}, ())
        for method in ("PUT", "DELETE", "PATCH", "TRACE")
        for route, path in (("sparql", "/sparql"), ("dump", "/dumps/treatygraph.ttl"))
    },
    "method-connect": ("CONNECT", "127.0.0.1:22", None, b"", {400, 404, 405}, ()),
    "method-nonsense": ("BREW", "/sparql", None, b"", {400, 405}, ()),
    "absolute-uri-elsewhere": get("http://169.254.169.254/latest/meta-data/", NOT_FOUND),
    # malformed and oversized bodies, and framing
    "body-json": sparql_post(b'{"query": "ASK {}"}', "application/json", {415}),
    "body-xml": sparql_post(b"<query>ASK {}</query>", "application/xml", {415}),
    "body-no-content-type": ("POST", "/sparql", {}, b"ASK {}", {415}, ()),
    "body-garbage-content-type": sparql_post(b"ASK {}", ";;;===", {415}),
    "body-bad-percent-escapes": sparql_post(
        b"query=%ZZ%", "application/x-www-form-urlencoded", {400}
    ),
    "body-form-nul": sparql_post(b"query=ASK%00%7B%7D", "application/x-www-form-urlencoded", {400}),
    "body-broken-multipart": sparql_post(
        b"--xx\r\nbroken", "multipart/form-data; boundary=xx", {400}
    ),
    "body-multipart-no-boundary": sparql_post(b"ASK {}", "multipart/form-data", {400}),
    "body-utf16": sparql_post("ASK {}".encode("utf-16"), "application/sparql-query", {400}),
    "body-latin1": sparql_post(
        "ASK { ?s ?p 'é' }".encode("latin-1"), "application/sparql-query", {200, 400}
    ),
    "body-claims-gzip": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query", "Content-Encoding": "gzip"},
        b"not gzip at all",
        {400, 415},
        (),
    ),
    "body-2mb-form": sparql_post(
        b"query=" + b"a" * 2_000_000, "application/x-www-form-urlencoded", {413}
    ),
    "body-2mb-query": sparql_post(b"#" * 2_000_000, "application/sparql-query", {413}),
    "body-length-negative": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query", "Content-Length": "-1"},
        b"ASK {}",
        {400},
        (),
    ),
    "body-length-not-a-number": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query", "Content-Length": "six"},
        b"ASK {}",
        {400},
        (),
    ),
    "body-two-lengths": (
        "RAW",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 6\r\nContent-Length: 7\r\nConnection: close\r\n\r\nASK {}",
        None,
        b"",
        {400},
        (),
    ),
    "body-length-and-chunked": (
        "RAW",
        b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"6\r\nASK {}\r\n0\r\n\r\n",
        None,
        b"",
        {400},
        (),
    ),
    "body-bad-chunk-size": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query", "Transfer-Encoding": "chunked"},
        b"zz\r\nASK {}\r\n0\r\n\r\n",
        {400},
        (),
    ),
    "body-unknown-transfer-coding": (
        "POST",
        "/sparql",
        {"Content-Type": "application/sparql-query", "Transfer-Encoding": "gzip"},
        b"ASK {}",
        {400, 501},
        (),
    ),
    "request-line-garbage": (
        "RAW",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        None,
        b"",
        {400},
        (),
    ),
    "request-line-http-9": (
        "RAW",
        b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
        None,
        b"",
        {400, 505},
        (),
    ),
    "request-line-space-in-path": (
        "RAW",
        b"GET /dumps/void ttl HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        None,
        b"",
        {400},
        (),
    ),
    "header-nul": get("/healthz", {400}, {"X-A": "a\x00b"}),
    # unicode edge cases, and markup, in /search and in 404 pages
    **{
        f"search-{name}{suffix}": get(
            "/search?q=" + q + suffix,
            {400} if name in NOT_UTF8_SEARCHES + OVERLONG_SEARCHES else {200},
            forbid=(b"<script>alert(1)", b"<img src=x") if not suffix else (),
        )
        for name, q in {
            "script": "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "attribute-break": urllib.parse.quote('"><img src=x onerror=alert(1)>'),
            "surrogate-half": "%ED%A0%80",
            "overlong-slash": "%C0%AF",
            "nul": "%00",
            "rtl-override": "%E2%80%AE" * 10 + "abc",
            "combining-marks": "a" + "%CC%81" * 1000,
            "emoji-flags": urllib.parse.quote("\U0001f1f7\U0001f1fa" * 50),
            "zero-width-joiners": "%E2%80%8D" * 20,
            "bom": "%EF%BB%BF",
            "fullwidth": urllib.parse.quote("\uff23\uff33\uff34\uff2f"),
            "ligature": urllib.parse.quote("ﬁnland"),
            "dotted-capital-i": urllib.parse.quote("İ"),
            "sharp-s": urllib.parse.quote("ß"),
            "cyrillic": urllib.parse.quote("ОДКБ"),
            "lone-percent": "%",
            "bad-escape": "%G1",
            "truncated-utf8": "%E2%82",
            "plus-signs": "++++",
            "regex-metacharacters": urllib.parse.quote("(.*[?+\\"),
            "sql-ish": urllib.parse.quote("' OR 1=1 --"),
            "sparql-ish": urllib.parse.quote('"} . ?s ?p ?o } #'),
            "long-3000": "a" * 3000,
            "noncharacter": "%EF%BF%BF",
        }.items()
        for suffix in ("", "&format=json")
    },
    "search-repeated-q": get("/search?q=csto&q=cis&q[]=x", {200}),
    "not-found-script": get(
        "/id/state/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        NOT_FOUND,
        {"Accept": "text/html"},
        (b"<script>alert(1)",),
    ),
    "not-found-attribute-break": get(
        "/doc/state/%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
        NOT_FOUND,
        {"Accept": "text/html"},
        (b"<img src=x",),
    ),
    # SPARQL protocol corners the endpoint's own suite leaves out
    "sparql-query-twice": get("/sparql?query=ASK%7B%7D&query=ASK%7B%7D", {400}),
    "sparql-query-in-body-and-url": (
        "POST",
        "/sparql?query=ASK%7B%7D",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"query=ASK%7B%7D",
        {400},
        (),
    ),
    "sparql-default-graph-file": sparql_get(
        NORMAL, {200, 400}, "&default-graph-uri=file:///etc/passwd"
    ),
    "sparql-named-graph-metadata": sparql_get(
        NORMAL, {200, 400}, "&named-graph-uri=http://169.254.169.254/latest/meta-data/"
    ),
    "sparql-graph-not-an-iri": sparql_get(NORMAL, {400}, "&default-graph-uri=%3C%3E%20x"),
    "sparql-jsonp-callback": sparql_get(NORMAL, {200}, "&callback=alert(1)"),
    "sparql-timeout-parameter": sparql_get(NORMAL, {200}, "&timeout=999999999"),
    "sparql-bom": sparql_get("\ufeff" + NORMAL, {200, 400}),
    "sparql-escaped-nul-literal": sparql_get('ASK { ?s ?p "\\u0000" }', {200, 400}),
    "sparql-last-code-point": sparql_get('SELECT ("\\U0010FFFF" AS ?x) {}', {200}),
    "sparql-huge-limit": sparql_get(
        "SELECT * { ?s ?p ?o } LIMIT 99999999999999999999999", {200, 400}
    ),
    "sparql-negative-offset": sparql_get("SELECT * { ?s ?p ?o } OFFSET -1", {400}),
    "sparql-invalid-regex": sparql_get('ASK { ?s ?p ?o FILTER(REGEX(STR(?o), "(")) }', {200, 400}),
    "sparql-overflowing-casts": sparql_get(
        'SELECT (1/0 AS ?x) (xsd:integer("1e400") AS ?y) (xsd:double("1e400") AS ?z) {}', {200}
    ),
    "sparql-bad-language-tag": sparql_get(
        'SELECT (STRLANG("x", "not a tag!") AS ?x) {}', {200, 400}
    ),
    "sparql-describe-file": sparql_get("DESCRIBE <file:///etc/passwd>", {200}),
    "sparql-construct-file-iri": sparql_get(
        "CONSTRUCT { <file:///etc/passwd> ?p ?o } WHERE { <file:///etc/passwd> ?p ?o }", {200}
    ),
    "sparql-500kb-literal": sparql_post(
        ('ASK { ?s ?p "' + "a" * 500_000 + '" }').encode(), "application/sparql-query", {200}
    ),
    "sparql-html-asked": sparql_get(
        "ASK {} #</script><script>alert(1)</script>", {200, 406}, headers={"Accept": "text/html"}
    ),
}


def _hostile(name: str, spec: tuple) -> Hostile:
    method, target, headers, body, allowed, forbid = spec
    return Hostile(
        id=name,
        request=target if method == "RAW" else req(method, target, headers, body),
        allowed=frozenset(allowed),
        forbid=tuple(forbid),
        may_reset=name.startswith("body-2mb"),
    )


HOSTILE = [_hostile(name, spec) for name, spec in SPECS.items()]


def send(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.fixture(scope="module")
def server(config, built):
    token = secrets.token_hex(16)
    sentinel = config.build_dir / "outside-the-dumps.txt"
    sentinel.write_text(f"sentinel {token}\n", encoding="utf-8")
    with serving(config) as running:
        running.leaks = (
            token.encode(),
            b'"input_digest"',  # build.json, next to the dumps folder
            b"root:x:0:0",  # /etc/passwd
            b"[build-system]",  # the project's pyproject.toml
            str(config.build_dir).encode(),
            str(PROJECT_ROOT).encode(),
        )
        yield running
    sentinel.unlink()


def test_the_suite_is_big_enough():
    assert len(HOSTILE) >= 100


@pytest.mark.parametrize("case", HOSTILE, ids=[case.id for case in HOSTILE])
def test_hostile_request_gets_a_clean_refusal_and_the_server_goes_on(server, case):
    try:
        status, headers, body = send(server.port, case.request)
    except (ConnectionResetError, BrokenPipeError):
        assert case.may_reset, "the server dropped the connection"
    else:
        assert status in case.allowed, f"{status} not in {sorted(case.allowed)}: {body[:300]!r}"
        assert status != 500
        if status >= 400:
            assert body.strip(), "an error without a message"
            assert headers.get("content-type", "").startswith(READABLE), headers
        for marker in TRACE_MARKERS:
            assert marker not in body, f"stack trace or internals in the answer: {body[:500]!r}"
        for leak in server.leaks:
            assert leak not in body, f"leaked {leak!r}"
        for markup in case.forbid:
            assert markup not in body, f"unescaped {markup!r} in the answer"
    status, _, body = send(
        server.port, req("GET", "/sparql?query=" + urllib.parse.quote(NORMAL, safe=""))
    )
    assert status == 200 and b'"boolean":true' in body, body[:300]


@pytest.mark.parametrize(
    ("query", "accept"),
    [
        ('SELECT ("a\\u0001b" AS ?x) {}', "application/sparql-results+xml"),
        ('CONSTRUCT { <urn:a> <urn:b> "a\\u0001b" } WHERE {}', "application/rdf+xml"),
    ],
    ids=["results-xml", "rdf-xml"],
)
def test_xml_answers_are_well_formed_even_with_control_characters(server, query, accept):
    """XML 1.0 cannot carry U+0001 at all: the XML formats write U+FFFD in its place."""
    import xml.dom.minidom

    status, _, body = send(
        server.port,
        req("GET", "/sparql?query=" + urllib.parse.quote(query, safe=""), {"Accept": accept}),
    )
    assert status == 200
    xml.dom.minidom.parseString(body)
    assert "a\ufffdb" in body.decode("utf-8")


def test_json_answers_keep_control_characters(server):
    query = 'SELECT ("a\\u0001b" AS ?x) {}'
    status, _, body = send(
        server.port,
        req(
            "GET",
            "/sparql?query=" + urllib.parse.quote(query, safe=""),
            {"Accept": "application/sparql-results+json"},
        ),
    )
    assert status == 200
    assert json.loads(body)["results"]["bindings"][0]["x"]["value"] == "a\u0001b"
