"""The SPARQL 1.1 endpoint at /sparql: the W3C protocol, read-only, time-limited, federating safely.

Queries run in worker processes (see `pool` and `worker`) so that one that overruns is killed and
its memory given back; the web process only reads the request, decides what is allowed, and
streams the worker's answer to the client.
"""

from __future__ import annotations

import json
import math
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from flask import Blueprint, Response, current_app, render_template, request, url_for
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import HTTPException

from treatygraph.rdf.namespaces import ProjectNamespaces
from treatygraph.sparql.text import QueryRefused, QueryTextError, read_query

from ..builds import NoBuild, current_build
from ..release_cache import rendered
from ..strict_text import (
    UnreadableRequest,
    decode_utf8,
    parse_multipart,
    parse_urlencoded,
    raw_query_string,
)
from . import answers, formats, sandbox
from .description import RDFLIB_FORMATS, graph_sizes, read_examples, service_description
from .pool import ClientGone, MemoryExceeded, Preempted, WorkerDied
from .queries import Lease, LocalQueries
from .share import INTERNAL, PREEMPTED_RETRY_AFTER, Cancelled, Refused, Usage
from .worker import Job

blueprint = Blueprint("sparql", __name__)

QUERIES = "treatygraph.sparql.queries"
SIZES = "treatygraph.sparql.sizes"
CLIENT_CLOSED = 499  # as nginx logs it: the client went away before the answer
CUT_HEADER = "X-TreatyGraph-Result-Cut"
EXPOSED_HEADERS = f"{CUT_HEADER}, RateLimit, RateLimit-Policy, Retry-After, Server-Timing"
UPDATE_TYPE = "application/sparql-update"
QUERY_TYPE = "application/sparql-query"
FORM_TYPE = "application/x-www-form-urlencoded"


_setup_lock = threading.Lock()  # guards the first creation of the per-app query service


class SparqlError(Exception):
    """An error answered as plain text with a status; never a stack trace."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _per_app(key: str, make):
    """The app's object under `key`, made once per process on first use (threads may race here)."""
    extensions = current_app.extensions
    if key not in extensions:
        with _setup_lock:
            if key not in extensions:
                extensions[key] = make(current_app.config["TREATYGRAPH"])
    return extensions[key]


def _started_queries(config):
    if config.query_broker:
        from .broker import BrokerQueries

        return BrokerQueries(config.query_broker)
    local = LocalQueries(config)
    local.warm()
    return local


def queries() -> LocalQueries:
    """Where this app's queries get workers: its own pool, or the server's broker (same calls)."""
    return _per_app(QUERIES, _started_queries)


def shutdown(app) -> None:
    """Stop the app's query workers (tests and embedders; a server's exit stops them anyway)."""
    service = app.extensions.pop(QUERIES, None)
    if service is not None:
        service.close()


def rate_limit_headers(usage: Usage) -> dict[str, str]:
    """The client's query-time budget, as the IETF RateLimit header fields draft words it."""
    return {
        "RateLimit-Policy": f'"query-seconds";q={usage.budget:g};w={usage.window:g}',
        "RateLimit": f'"query-seconds";r={int(usage.left)};t={math.ceil(usage.window)}',
    }


@dataclass
class ProtocolRequest:
    query: str | None
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    format: str | None


def _single(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise SparqlError(400, f"give exactly one `{name}` parameter, not {len(values)}")
    return values[0] if values else None


def read_protocol_request() -> ProtocolRequest:
    """The query and dataset of a GET or POST, as the SPARQL 1.1 Protocol defines them.

    Every text is read from the raw bytes and decoded strictly as UTF-8 (`strict_text`): a byte
    that is not UTF-8 is a 400 naming the parameter and byte offset, never a replaced character.
    """
    try:
        return _read_protocol_request()
    except UnreadableRequest as err:
        raise SparqlError(400, str(err)) from None


def _read_protocol_request() -> ProtocolRequest:
    args = parse_urlencoded(raw_query_string(request.environ), "the URL")
    if request.method == "POST":
        mimetype = request.mimetype
        if mimetype == UPDATE_TYPE:
            raise _read_only("an application/sparql-update request")
        if mimetype == QUERY_TYPE:
            charset = request.mimetype_params.get("charset", "utf-8")
            if charset.lower().replace("-", "") != "utf8":
                raise SparqlError(415, f"a {QUERY_TYPE} body must be UTF-8, not charset={charset}")
            query = decode_utf8(request.get_data(), "the request body")
            params = args
        elif mimetype in (FORM_TYPE, "multipart/form-data"):
            body = request.get_data()
            if mimetype == FORM_TYPE:
                params = parse_urlencoded(body, "the form body")
            else:
                boundary = request.mimetype_params.get("boundary")
                params = parse_multipart(body, boundary, "the form body")
            if params.getlist("query") and args.getlist("query"):
                raise SparqlError(400, "give the query in the body or in the URL, not both")
            query = _single(params.getlist("query") or args.getlist("query"), "query")
        else:
            raise SparqlError(
                415,
                f"POST a query as {QUERY_TYPE} or {FORM_TYPE}, not {mimetype or 'no Content-Type'}",
            )
    else:
        params = args
        query = _single(args.getlist("query"), "query")
    if params.getlist("update") or args.getlist("update"):
        raise _read_only("the `update` parameter")
    default = params.getlist("default-graph-uri") or args.getlist("default-graph-uri")
    named = params.getlist("named-graph-uri") or args.getlist("named-graph-uri")
    for iri in (*default, *named):
        _check_graph_iri(iri)
    return ProtocolRequest(
        query=query,
        default_graphs=tuple(default) if default else None,
        named_graphs=tuple(named) if named else None,
        format=params.get("format") or args.get("format"),
    )


def _read_only(how: str) -> SparqlError:
    return SparqlError(
        403,
        f"SPARQL Update refused ({how}): this endpoint is read-only and answers queries only",
    )


def _check_graph_iri(iri: str) -> None:
    import pyoxigraph as ox

    try:
        ox.NamedNode(iri)
    except ValueError:
        raise SparqlError(
            400, f"default-graph-uri / named-graph-uri {iri!r} is not an IRI"
        ) from None
    if ":" not in iri:
        raise SparqlError(400, f"graph IRI {iri!r} must be absolute")


@blueprint.route("/sparql", methods=["GET", "POST"])
def endpoint():
    try:
        protocol = read_protocol_request()
    except (ParseException, NoMoreData) as err:  # gunicorn, reading a broken chunked body
        raise SparqlError(400, f"malformed request body: {err}") from None
    if protocol.query is None:
        if request.method == "POST":
            raise SparqlError(400, "no query: give it in the `query` parameter or the body")
        return _landing()
    if not protocol.query.strip():
        raise SparqlError(400, "the query is empty")
    return _run(protocol)


def _run(protocol: ProtocolRequest) -> Response:
    config = current_app.config["TREATYGRAPH"]
    build = current_build()
    prefixes = build.ns.prefixes()
    try:
        query = answers.read(
            build,
            protocol.query,
            lambda: read_query(protocol.query, prefixes, allowlist=config.service_allowlist),
        )
    except QueryRefused as err:
        raise SparqlError(403, str(err)) from None
    except QueryTextError as err:
        raise SparqlError(400, f"SPARQL syntax error: {err}") from None
    kind = formats.GRAPH if query.form in ("CONSTRUCT", "DESCRIBE") else formats.RESULTS
    try:
        fmt = formats.choose(request, kind, protocol.format)
    except formats.UnknownFormat as err:
        raise SparqlError(400, str(err)) from None
    except formats.NotAcceptable as err:
        raise SparqlError(406, str(err)) from None
    tag = answers.answer_tag(
        build, query, protocol.query, protocol.default_graphs, protocol.named_graphs, fmt
    )
    kept = answers.served(build, tag)
    if kept is not None:
        return kept  # no worker, so not counted against the client's limit
    job = Job(
        release=str(build.release),
        query=query,
        format_key=fmt.key,
        prefixes=prefixes,
        default_graphs=protocol.default_graphs,
        named_graphs=protocol.named_graphs,
        max_rows=config.max_result_rows,
        mirrors=dict(config.service_mirrors),
        base_iri=build.ns.id,
        federation_timeout=config.federation_timeout,
        budget=config.query_timeout,
    )
    response, stream = _dispatch_stream(job, fmt, config.query_timeout)
    cut = CUT_HEADER in response.headers
    return answers.keep(build, tag, response, cut=cut, reached_out=stream.relayed > 0)


def _dispatch(job: Job, fmt: formats.Format, timeout: float, client: str | None = None) -> Response:
    return _dispatch_stream(job, fmt, timeout, client)[0]


def _dispatch_stream(
    job: Job, fmt: formats.Format, timeout: float, client: str | None = None
) -> tuple[Response, _Stream]:
    client = client or request.remote_addr or "unknown"
    deadline = time.monotonic() + timeout
    client_gone = _connection_closed(request.environ)
    service = queries()
    asked = time.monotonic()
    try:
        lease = service.lease(client, timeout, cancelled=client_gone)
    except Refused as refusal:
        raise SparqlError(refusal.status, refusal.message, refusal.headers) from None
    except Cancelled:
        raise SparqlError(
            CLIENT_CLOSED, "the client closed the connection while its query waited for a worker"
        ) from None
    queued = time.monotonic() - asked
    stream = _Stream(service, lease, deadline, timeout)
    stream.memory_limit_kib = current_app.config["TREATYGRAPH"].query_memory_mb * 1024
    stream.client_gone = client_gone
    # What the worker may have requests made to: the SERVICE endpoints the reader found and
    # allowed (or their mirrors), and the release's remote store, if it has one.
    stream.services = frozenset(job.mirrors.get(call.iri, call.iri) for call in job.query.services)
    stream.store_url = getattr(current_build().store, "query_url", None)
    try:
        lease.worker.send(job)
        first = stream.next_message()
        if first[0] == "error":
            stream.finish(clean=True)
            raise SparqlError(first[1], first[2])
        if first[0] == "abort":
            stream.finish(clean=True)
            raise SparqlError(500, first[1])
    except BaseException:
        stream.finish(clean=False)
        raise
    headers = rate_limit_headers(lease.usage)
    # How long the query waited for its worker (the fair share's turn), for clients and tests.
    headers["Server-Timing"] = f'queue;dur={queued * 1000:.0f};desc="waited for a query worker"'
    cut = first[1].get("cut")
    if cut is not None:
        headers[CUT_HEADER] = f"rows={cut}"
    if first[0] == "complete":
        stream.finish(clean=True)
        response = Response(first[2], status=200, headers=headers, content_type=fmt.content_type)
        return response, stream
    return Response(stream, status=200, headers=headers, content_type=fmt.content_type), stream


def _connection_closed(environ: dict) -> Callable[[], bool]:
    """Whether the client has closed the request's connection, peeked at without reading.

    Readable with nothing to read is the end of the stream; readable with bytes is a pipelined
    request. A server that does not show its socket (gunicorn and werkzeug do) is never gone.
    """
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")

    def closed() -> bool:
        if sock is None:
            return False
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    return closed


class _Stream:
    """The worker's answer as a WSGI iterable; the worker goes back to the pool (or dies) at close."""

    def __init__(self, service: LocalQueries, lease: Lease, deadline: float, timeout: float):
        self.service = service
        self.lease = lease
        self.deadline = deadline
        self.timeout = timeout
        self.done = False
        self.closed = False
        self.memory_limit_kib: int | None = None
        self.client_gone: Callable[[], bool] = lambda: False
        self.services: frozenset[str] = frozenset()
        self.store_url: str | None = None
        # Requests made for the worker to anyone but the release's store: its answer is not kept.
        self.relayed = 0

    def relay(self, payload: dict, seconds: float) -> dict:
        if payload.get("url") != self.store_url:
            self.relayed += 1
        allowed = self.services | ({self.store_url} if self.store_url else set())
        return sandbox.relay(payload, allowed, seconds, self.memory_limit_kib * 1024)

    def next_message(self):
        try:
            message = self.lease.worker.receive(
                self.deadline,
                self.memory_limit_kib,
                self.client_gone,
                self.relay,
                lambda: self.service.preempted(self.lease),
            )
        except ClientGone:
            self.finish(clean=False)
            raise SparqlError(
                CLIENT_CLOSED, "the client closed the connection; its query was stopped"
            ) from None
        except Preempted:
            self.finish(clean=False)
            raise SparqlError(
                503,
                "this query was stopped so that a client with little recent query time could "
                "start its own: this client used the most query time of those waiting or running; "
                "try again shortly",
                {"Retry-After": str(PREEMPTED_RETRY_AFTER)},
            ) from None
        except WorkerDied as err:
            self.finish(clean=False)
            raise SparqlError(
                500, f"{err} (crashed or stopped by the system); try a smaller query"
            ) from None
        except MemoryExceeded as err:
            self.finish(clean=False)
            raise SparqlError(
                503,
                f"the query needed {err} of memory and was stopped; "
                "make it more selective (LIMIT, fewer unbound patterns, no ORDER BY over "
                "everything) and try again",
            ) from None
        if message is None:
            self.finish(clean=False)
            raise SparqlError(
                504,
                f"query timed out after {self.timeout:g} s and was stopped; "
                "make it more selective (LIMIT, more specific patterns) and try again",
            )
        return message

    def __iter__(self):
        while not self.done:
            message = self.next_message()
            kind = message[0]
            if kind == "data":
                yield message[1]
            elif kind == "end":
                self.finish(clean=True)
            else:
                self.finish(clean=kind != "abort")
                raise ResultAborted(str(message[1:]))

    def finish(self, clean: bool) -> None:
        if self.closed:
            return
        self.closed = True
        self.done = True
        self.service.give_back(self.lease, clean)

    def close(self) -> None:
        """Called by the server when the response ends, also when the client went away."""
        self.finish(clean=self.done)


class ResultAborted(Exception):
    """A streaming result was broken off; the connection is dropped so no client takes it whole."""


def _landing() -> Response:
    """The service description for RDF clients, the query editor for browsers."""
    graph_formats = formats.offered(formats.GRAPH)
    forced = request.args.get("format")
    if forced and forced.lower() not in ("html", "text/html"):
        try:
            fmt = formats.choose(request, formats.GRAPH, forced)
        except (formats.UnknownFormat, formats.NotAcceptable) as err:
            raise SparqlError(406, str(err)) from None
    else:
        candidates = [f.media_type for f in graph_formats] + ["text/html", "application/xhtml+xml"]
        best = request.accept_mimetypes.best_match(candidates, default="text/turtle")
        if forced or best in ("text/html", "application/xhtml+xml"):
            return _editor()
        fmt = next(f for f in graph_formats if f.media_type == best)
    build = current_build()
    endpoint_iri = url_for("sparql.endpoint", _external=True)
    body = rendered(
        ("service description", fmt.key),
        lambda: service_description(endpoint_iri, _sizes(build), build.ns).serialize(
            format=RDFLIB_FORMATS[fmt.key], encoding="utf-8"
        ),
    )
    return Response(body, content_type=fmt.content_type)


def _sizes(build) -> tuple[int, dict[str, int]]:
    """Graph sizes of the release, counted once by a query worker (it may take a while)."""
    cached = current_app.extensions.get(SIZES)
    if cached is None or cached[0] != build.release:
        cached = (build.release, graph_sizes(lambda sparql: _select(build, sparql)))
        current_app.extensions[SIZES] = cached
    return cached[1]


def _select(build, sparql: str) -> list[dict]:
    """The JSON bindings of one of our own SELECT queries, run like a client's."""
    config = current_app.config["TREATYGRAPH"]
    job = Job(
        release=str(build.release),
        query=read_query(sparql),
        format_key="srj",
        prefixes=build.ns.prefixes(),
        default_graphs=None,
        named_graphs=None,
        max_rows=config.max_result_rows,
        mirrors={},
        base_iri=build.ns.id,
        federation_timeout=config.federation_timeout,
        budget=config.query_timeout,
    )
    response = _dispatch(job, formats.BY_KEY["srj"], config.query_timeout, client=INTERNAL)
    return json.loads(b"".join(response.response))["results"]["bindings"]


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; "
    "base-uri 'self'; form-action 'self'"
)


def _editor() -> Response:
    config = current_app.config["TREATYGRAPH"]
    try:
        ns = current_build().ns  # the IRIs of the store the queries will run on
    except NoBuild:
        ns = ProjectNamespaces(config.base_iri)
    examples = read_examples(config.queries_dir, ns)
    html = render_template(
        "sparql_editor.html",
        examples=examples,
        examples_json=[asdict(example) for example in examples],
        endpoint=url_for("sparql.endpoint", _external=True),
        prefixes=ns.prefixes(),
        base_iri=ns.base,
    )
    response = Response(html, content_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = CSP
    return response


@blueprint.after_request
def cors(response: Response) -> Response:
    """Open to scripts on any origin, for reading; never with credentials."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    response.vary.add("Accept")  # the format follows it, so caches must too
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type"
        response.headers["Access-Control-Max-Age"] = "86400"
    response.headers.pop("Access-Control-Allow-Credentials", None)
    return response


def _text(status: int, message: str, headers: dict | None = None) -> Response:
    response = Response(message.rstrip() + "\n", status=status, headers=headers or {})
    response.content_type = "text/plain; charset=utf-8"
    response.cache_control.no_store = True
    return response


@blueprint.errorhandler(SparqlError)
def sparql_error(err: SparqlError):
    return _text(err.status, err.message, err.headers)


@blueprint.errorhandler(HTTPException)
def http_error(err: HTTPException):
    if err.code == 413:
        limit = current_app.config["TREATYGRAPH"].max_request_bytes
        return _text(413, f"request body too large: at most {limit} bytes are accepted")
    return _text(err.code or 500, f"{err.name}: {err.description}")


@blueprint.errorhandler(Exception)
def unexpected(err: Exception):
    current_app.logger.exception("SPARQL endpoint error")
    return _text(500, "internal error while answering the query; it has been logged")
