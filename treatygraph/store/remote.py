"""A SPARQL 1.1 store on another machine, in place of the embedded Oxigraph store.

The build writes to it with the SPARQL 1.1 Graph Store Protocol (each named graph sent under a
staging name, then all moved into place by one SPARQL Update request, so the graphs being served
change together or not at all), or, given two stores, loads the one no release reads and lets the
release switch move the readers. The server reads it through SPARQLWrapper with the same calls it
makes on a `pyoxigraph.Store` (`query`, `quads_for_pattern`), answered with pyoxigraph's own
result objects, so pages, endpoint, dumps and the Wikidata view run unchanged on either. Where a
kind of store departs from the standard (Virtuoso does), `store_dialects` says how.

Every read names its dataset with the protocol's `default-graph-uri`/`named-graph-uri`: our
graphs only, so other data the store holds, and the staging graphs of a build under way, stay
out of every answer.
"""

from __future__ import annotations

import ast
import mmap
import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from treatygraph import __version__
from treatygraph.sparql.text import dataset_clause, query_form, with_prologue

from .dialects import Dialect, detect, dialect_named

USER_AGENT = f"treatygraph/{__version__} (remote store; +https://w3id.org/treatygraph)"
N_TRIPLES = "application/n-triples"
# Stands for an empty default graph or no named graphs, which the protocol cannot ask for.
EMPTY_GRAPH = "urn:treatygraph:no-graph"
STAGING_PREFIX = "urn:treatygraph:staging:"
CACHED_SUBJECTS = 5_000  # subjects whose quads a RemoteStore keeps (least recently used go)
SUBJECT_QUADS = 500  # a subject with more is not kept whole; each pattern is asked instead
FIRST_QUADS = 100  # a whole graph's first quads; the rest is asked only if it is read
# Where the query and update services sit beside the Graph Store Protocol service, by store.
SIBLING_SERVICES = {
    "store": ("query", "update"),  # Oxigraph
    "data": ("query", "update"),  # Fuseki
    "sparql-graph-crud-auth": ("sparql", "sparql-auth"),  # Virtuoso
    "sparql-graph-crud": ("sparql", "sparql-auth"),
}
# Bytes of N-Triples per upload request: each is one transaction in the store, and Virtuoso
# refuses transactions past 50 MB of log (TransactionAfterImageLimit) unless told otherwise.
CHUNK_BYTES = 8 * 1024 * 1024
ATTEMPTS = 4  # tries of one upload request the store failed in a way worth repeating
USER_VARIABLE = "TREATYGRAPH_STORE_USER"
PASSWORD_VARIABLE = "TREATYGRAPH_STORE_PASSWORD"


class RemoteStoreError(OSError):
    """The remote store could not be reached, refused a request, or sent an answer that cannot
    be served; names the URL. `status` is what the endpoint answers its client."""

    status = 502


class StoreTimedOut(RemoteStoreError):
    """The remote store stopped a query at its time limit."""

    status = 504


@dataclass(frozen=True)
class StoreEndpoints:
    """The three services of a remote store, and the user the update side authenticates as."""

    graph_store: str
    query: str
    update: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_urls(
        cls,
        graph_store: str,
        query: str | None = None,
        update: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> StoreEndpoints:
        """The store's services; query and update guessed for Oxigraph (`/store`), Fuseki
        (`/<dataset>/data`) and Virtuoso (`/sparql-graph-crud-auth`) when not given."""
        for name, url in (
            ("--store", graph_store),
            ("--store-query", query),
            ("--store-update", update),
        ):
            if url is None:
                continue
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None or parts.password is not None:
                shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
                raise ValueError(
                    f"{name} {shown!r} carries a user or password; URLs are logged, so give "
                    f"them in {USER_VARIABLE} and {PASSWORD_VARIABLE} instead"
                )
            if parts.scheme not in ("http", "https"):
                raise ValueError(f"{name} {url!r} is not an http(s) URL")
        parts = urllib.parse.urlsplit(graph_store)
        head, _, last = parts.path.rstrip("/").rpartition("/")
        siblings = SIBLING_SERVICES.get(last)
        guessed = [
            urllib.parse.urlunsplit(parts._replace(path=f"{head}/{name}", query=""))
            for name in siblings or ()
        ]
        if (query is None or update is None) and not guessed:
            raise ValueError(
                f"--store {graph_store!r}: cannot tell where its query and update services are "
                "(known layouts: Oxigraph …/store, Fuseki …/<dataset>/data, Virtuoso "
                "…/sparql-graph-crud-auth); give --store-query and --store-update"
            )
        user, password = credentials or (None, None)
        return cls(graph_store, query or guessed[0], update or guessed[1], user, password)


def credentials_from_env(environ=os.environ) -> tuple[str, str] | None:
    """The update side's user and password, from TREATYGRAPH_STORE_USER/_PASSWORD (never from
    a URL or an option, which end up in logs and process lists)."""
    user, password = environ.get(USER_VARIABLE), environ.get(PASSWORD_VARIABLE)
    if not user and not password:
        return None
    if not user or not password:
        given, missing = (
            (USER_VARIABLE, PASSWORD_VARIABLE) if user else (PASSWORD_VARIABLE, USER_VARIABLE)
        )
        raise ValueError(f"{given} is set but {missing} is not; set both or neither")
    return user, password


def choose_store(
    stores: Sequence[StoreEndpoints], serving: dict | None
) -> tuple[StoreEndpoints, bool]:
    """The store a build loads, and whether a release is reading it. With two stores, the one
    the current release (`serving`, its build.json store entry) does not read; with one, that."""
    if len(stores) == 1:
        return stores[0], True
    current = (serving or {}).get("query")
    return next(s for s in stores if s.query != current), False


def check_stores(stores: Sequence[StoreEndpoints], bulk: bool = False) -> None:
    """Ask each store, so that a build fails before its work rather than after: that it answers,
    that the update user may update (a graph that never exists is dropped), and with `bulk`,
    that it has a bulk loader."""
    for endpoints in stores:
        loader = StoreLoader(endpoints)
        if bulk and not hasattr(loader.dialect, "bulk_load"):
            raise RemoteStoreError(
                f"remote store {endpoints.query} is not Virtuoso, whose bulk loader "
                "--store-load-dir is for; leave it out to load over HTTP"
            )
        loader.update(f"DROP SILENT GRAPH <{STAGING_PREFIX}access-check>")


def _sparql_term(term) -> str:
    if isinstance(term, ox.BlankNode):
        raise ValueError(f"a blank node ({term}) cannot be looked up in a remote store")
    return str(term)


def _client(
    url: str,
    text: str,
    timeout: float,
    endpoints: StoreEndpoints | None = None,
    dialect: Dialect | None = None,
):
    """A SPARQLWrapper request to one service: POSTed form-encoded, as the protocol allows
    every store; authenticated as the update user when `endpoints` names one."""
    from SPARQLWrapper import BASIC, DIGEST, POST, URLENCODED, SPARQLWrapper

    client = SPARQLWrapper(url, updateEndpoint=url, agent=USER_AGENT)
    client.setMethod(POST)
    client.setRequestMethod(URLENCODED)
    client.setOnlyConneg(True)
    client.setQuery(text)
    client.setTimeout(max(1, round(timeout)))
    if endpoints is not None and endpoints.user:
        client.setHTTPAuth(DIGEST if dialect is not None and dialect.auth == "digest" else BASIC)
        client.setCredentials(endpoints.user, endpoints.password)
    return client


# SPARQLWrapper's exceptions for the statuses it names; it keeps the body only in the message.
_STATUSES = {
    "QueryBadFormed": 400,
    "Unauthorized": 401,
    "EndPointNotFound": 404,
    "URITooLong": 414,
    "EndPointInternalError": 500,
}


def _store_message(err: Exception) -> str:
    """The store's own words for a failed request: the HTTP status and the first line of the
    body (an HTML page as its text), for SPARQLWrapper's exceptions as for urllib's."""
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    if not isinstance(err, SPARQLWrapperException):
        return _reason(err)
    status = _STATUSES.get(type(err).__name__)
    head = f"HTTP {status}" if status else type(err).__name__
    _, found, body = str(err).partition("\n\nResponse:\n")
    try:
        raw = ast.literal_eval(body.strip()) if found else b""
    except (ValueError, SyntaxError):
        raw = b""
    detail = _plain_text(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else "")
    if not detail and status == 401:
        detail = "Unauthorized"
    return f"{head}: {detail[:300]}" if detail else head


class RemoteStore:
    """Read access to a remote SPARQL 1.1 store, shaped like `pyoxigraph.Store`."""

    def __init__(
        self, query_url: str, graphs: Sequence[str], timeout: float = 60.0, dialect: str = ""
    ):
        self.query_url = query_url
        self.graphs = tuple(graphs)
        self.timeout = timeout
        self.dialect = dialect_named(dialect)
        self._parser = ox.Store()
        self._lock = threading.Lock()
        self._subjects: OrderedDict[ox.NamedNode, list[ox.Quad] | None] = OrderedDict()

    def __repr__(self) -> str:
        return f"RemoteStore({self.query_url!r})"

    def query(
        self,
        query: str,
        *,
        prefixes: dict[str, str] | None = None,
        use_default_graph_as_union: bool = False,
        default_graph: Sequence[ox.NamedNode] | None = None,
        named_graphs: Sequence[ox.NamedNode] | None = None,
        base_iri: str | None = None,
    ):
        """Run a query remotely; the answer as pyoxigraph's QuerySolutions, QueryBoolean or
        an iterator of triples, as `Store.query` gives them."""
        form, calls_out = query_form(query)
        if not calls_out:
            # Oxigraph's own syntax errors, with the asker's line numbers (evaluated on nothing).
            self._parser.query(
                query, prefixes=prefixes, base_iri=base_iri, use_default_graph_as_union=True
            )
        if default_graph is None and not use_default_graph_as_union:
            # The query's own FROM / FROM NAMED, sent as the protocol's dataset (which would
            # otherwise override them), and kept to our graphs.
            own = dataset_clause(query, prefixes or {}, base_iri)
            if own is not None:
                default_graph = [ox.NamedNode(g) for g in own[0] if g in self.graphs]
                named_graphs = [ox.NamedNode(g) for g in own[1] if g in self.graphs]
        defaults, named = self._dataset(use_default_graph_as_union, default_graph, named_graphs)
        text = self.dialect.query_text(with_prologue(query, prefixes or {}, base_iri), form)
        response = self._send(text, form, defaults, named)
        if form in ("CONSTRUCT", "DESCRIBE"):
            answer = self.dialect.triples(response.read())
            return (quad.triple for quad in ox.parse(answer, format=ox.RdfFormat.N_TRIPLES))
        answer = self.dialect.solutions(response.read())
        return ox.parse_query_results(answer, format=self.dialect.results_format)

    def quads_for_pattern(self, subject, predicate, object_, graph_name=None) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None matches anything) in our graphs.

        Pages ask about one subject many times over (its label, its types, each property), so
        a subject's quads are fetched once, whole, and kept: one round trip instead of several.
        A store's contents change only with a release, which opens a new RemoteStore."""
        if isinstance(graph_name, ox.DefaultGraph):
            return iter(())  # every triple of a build is in a named graph
        known = self._about(subject) if isinstance(subject, ox.NamedNode) else None
        if known is None and subject is predicate is object_ is None:
            return self._match_lazily(subject, predicate, object_, graph_name)
        if known is None:
            return iter(self._match(subject, predicate, object_, graph_name))
        return iter(
            [
                quad
                for quad in known
                if (predicate is None or quad.predicate == predicate)
                and (object_ is None or quad.object == object_)
                and (graph_name is None or quad.graph_name == graph_name)
            ]
        )

    def _about(self, subject: ox.NamedNode) -> list[ox.Quad] | None:
        """Every quad of a subject, from the cache or one request; None past SUBJECT_QUADS."""
        with self._lock:
            if subject in self._subjects:
                self._subjects.move_to_end(subject)
                return self._subjects[subject]
        quads = self._match(subject, None, None, None, limit=SUBJECT_QUADS + 1)
        known = quads if len(quads) <= SUBJECT_QUADS else None
        with self._lock:
            self._subjects[subject] = known
            if len(self._subjects) > CACHED_SUBJECTS:
                self._subjects.popitem(last=False)
        return known

    def _match_lazily(self, subject, predicate, object_, graph_name) -> Iterator[ox.Quad]:
        """A whole graph's quads, the first FIRST_QUADS asked for alone: a caller that wants
        one (does the graph exist?) does not fetch a graph of a million triples, more than a
        store answers at once."""
        first = self._match(subject, predicate, object_, graph_name, limit=FIRST_QUADS)
        yield from first
        if len(first) < FIRST_QUADS:
            return
        had = set(first)  # answers come in no set order: skip what was given, wherever it is
        for quad in self._match(subject, predicate, object_, graph_name):
            if quad not in had:
                yield quad

    def _match(self, subject, predicate, object_, graph_name, limit: int | None = None):
        terms = {"s": subject, "p": predicate, "o": object_}
        pattern = " ".join(_sparql_term(t) if t is not None else f"?{v}" for v, t in terms.items())
        graph = _sparql_term(graph_name) if graph_name is not None else "?g"
        text = f"SELECT * WHERE {{ GRAPH {graph} {{ {pattern} }} }}"
        if limit is not None:
            text += f" LIMIT {limit}"
        solutions = self.query(text, named_graphs=[ox.NamedNode(g) for g in self.graphs])
        return [
            ox.Quad(
                solution["s"] if subject is None else subject,
                solution["p"] if predicate is None else predicate,
                solution["o"] if object_ is None else object_,
                solution["g"] if graph_name is None else graph_name,
            )
            for solution in solutions
        ]

    def _dataset(self, union, default_graph, named_graphs) -> tuple[list[str], list[str]]:
        if named_graphs is not None:
            named = [g.value for g in named_graphs] or [EMPTY_GRAPH]
        else:
            named = list(self.graphs)
        if default_graph is not None:
            return [g.value for g in default_graph] or [EMPTY_GRAPH], named
        if union:
            return list(self.graphs), named
        return [EMPTY_GRAPH], named

    def _send(self, text: str, form: str | None, defaults: list[str], named: list[str]):
        """The open HTTP response, once the store has said it is the whole answer."""
        from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

        client = _client(self.query_url, text, self.timeout)
        client.queryType = form  # SPARQLWrapper's own guess reads words in comments as verbs
        graph_form = form in ("CONSTRUCT", "DESCRIBE")
        client.addCustomHttpHeader("Accept", N_TRIPLES if graph_form else self.dialect.results_type)
        for iri in defaults:
            client.addDefaultGraph(iri)
        for iri in named:
            client.addNamedGraph(iri)
        for name, value in self.dialect.read_parameters(self.timeout).items():
            client.addParameter(name, value)
        try:
            response = client.query().response
        except SPARQLWrapperException as err:
            message = _store_message(err)
            error = StoreTimedOut if self.dialect.timed_out(message) else RemoteStoreError
            raise error(f"the remote store {self.query_url} refused the query: {message}") from None
        except (urllib.error.URLError, OSError) as err:
            slow = isinstance(getattr(err, "reason", err), TimeoutError)
            error = StoreTimedOut if slow else RemoteStoreError
            raise error(f"remote store {self.query_url}: {_reason(err)}") from None
        why = self.dialect.incomplete(response.headers)
        if why:
            response.close()
            error = StoreTimedOut if self.dialect.timed_out(why) else RemoteStoreError
            raise error(f"remote store {self.query_url}: {why}; a partial answer is not served")
        return response


class StoreLoader:
    """Replaces our named graphs in a remote store, all together, from N-Triples files."""

    def __init__(
        self, endpoints: StoreEndpoints, timeout: float = 600.0, chunk_bytes: int = CHUNK_BYTES
    ):
        self.endpoints = endpoints
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes
        self._dialect: Dialect | None = None

    @property
    def dialect(self) -> Dialect:
        """The store's dialect, from the Server header of its answer to `ASK {}` (asked once)."""
        if self._dialect is None:
            from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

            client = _client(self.endpoints.query, "ASK {}", min(self.timeout, 30))
            client.addCustomHttpHeader("Accept", "application/sparql-results+xml")
            try:
                with client.query().response as response:
                    self._dialect = detect(response.headers.get("Server"))
            except (urllib.error.URLError, OSError, SPARQLWrapperException) as err:
                raise RemoteStoreError(
                    f"remote store {self.endpoints.query}: {_store_message(err)}"
                ) from None
        return self._dialect

    def update(self, text: str) -> None:
        """One SPARQL Update request, as the configured user."""
        self._run(text, update=True)

    def _run(self, text: str, update: bool) -> None:
        from SPARQLWrapper import INSERT, SELECT
        from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

        client = _client(self.endpoints.update, text, self.timeout, self.endpoints, self.dialect)
        # SPARQLWrapper tells an update by its first word, and Virtuoso's `define` comes first.
        client.queryType = INSERT if update else SELECT
        try:
            client.query().response.read()
        except (urllib.error.URLError, OSError, SPARQLWrapperException) as err:
            message = _store_message(err)
            raise RemoteStoreError(
                f"remote store {self.endpoints.update}: update failed: {message}"
                + self._advice(message)
            ) from None

    def _advice(self, message: str) -> str:
        if "401" in message or "Unauthorized" in message:
            return (
                f" (check {USER_VARIABLE} and {PASSWORD_VARIABLE})"
                if self.endpoints.user
                else f" (the store wants a user: set {USER_VARIABLE} and {PASSWORD_VARIABLE})"
            )
        return self.dialect.advice(message)

    def put_graph(self, graph: str, ntriples: Path) -> None:
        """Send a graph's N-Triples (Graph Store Protocol), replacing the graph. In requests of
        at most chunk_bytes of whole lines, the first PUT and the rest POSTed (added): each is
        one transaction in the store. A file with blank nodes goes in one request, since the
        store labels blank nodes anew in each."""
        url = f"{self.endpoints.graph_store}?{urllib.parse.urlencode({'graph': graph})}"
        opener, digest = self._opener()
        method = "PUT"
        for chunk in self._chunks(ntriples):
            self._send_chunk(opener, digest, url, method, chunk, graph)
            method = "POST"

    def _chunks(self, ntriples: Path) -> Iterator[bytes]:
        with ntriples.open("rb") as file:
            if os.fstat(file.fileno()).st_size == 0:
                yield b""  # an empty graph is PUT empty (mmap cannot map an empty file)
                return
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as whole:
                if whole.find(b"_:") >= 0:
                    yield whole[:]
                    return
            pending: list[bytes] = []
            size = 0
            for line in file:
                if size + len(line) > self.chunk_bytes and pending:
                    yield b"".join(pending)
                    pending, size = [], 0
                pending.append(line)
                size += len(line)
            if pending:
                yield b"".join(pending)

    def _send_chunk(
        self, opener, digest: _Digest | None, url: str, method: str, chunk: bytes, graph: str
    ) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(
                url,
                data=chunk,
                method=method,
                headers={"Content-Type": N_TRIPLES, "User-Agent": USER_AGENT},
            )
            try:
                if digest is not None:
                    digest.sign(request, opener, self.timeout)
                with opener.open(request, timeout=self.timeout) as response:
                    response.read()
                return
            except urllib.error.HTTPError as err:
                reason = _reason(err)
                if attempt < ATTEMPTS and digest is not None and digest.expired(err):
                    continue
                if attempt < ATTEMPTS and self.dialect.retryable(err.code, reason):
                    time.sleep(0.5 * attempt)
                    continue
                raise RemoteStoreError(
                    f"remote store {self.endpoints.graph_store}: {method} of graph <{graph}> "
                    f"failed: {reason}" + self._advice(reason)
                ) from None
            except (urllib.error.URLError, OSError) as err:
                raise RemoteStoreError(
                    f"remote store {self.endpoints.graph_store}: {method} of graph <{graph}> "
                    f"failed: {_reason(err)}"
                ) from None

    def _opener(self) -> tuple[urllib.request.OpenerDirector, _Digest | None]:
        """An opener for uploads, and the digest signer when the store authenticates so."""
        if not self.endpoints.user:
            return urllib.request.build_opener(), None
        if self.dialect.auth == "digest":
            # Never Basic to a store that asks for Digest: Basic sends the password itself.
            digest = _Digest(
                self.endpoints.graph_store, self.endpoints.user, self.endpoints.password
            )
            return urllib.request.build_opener(), digest
        passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
        passwords.add_password(
            None,
            self.endpoints.graph_store,
            self.endpoints.user,
            self.endpoints.password,
            is_authenticated=True,
        )
        return urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(passwords)), None

    def bulk_load(self, files: list[tuple[str, Path]]) -> None:
        """Load each (graph, file) with the store's bulk loader, which reads the files itself
        (so they must sit in a folder it may read). Virtuoso only."""
        check_stores([self.endpoints], bulk=True)
        loader = self.dialect.bulk_load
        folders = {path.parent for _, path in files}
        for folder in folders:
            named = [(graph, path.name) for graph, path in files if path.parent == folder]
            for text in loader(str(folder), named):
                self._run(text, update=False)

    def count(self, graphs: Sequence[str]) -> dict[str, int]:
        """Triples in each of these graphs, as the store counts them."""
        store = RemoteStore(self.endpoints.query, graphs, self.timeout, self.dialect.name)
        solutions = store.query(
            "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
            named_graphs=[ox.NamedNode(g) for g in graphs],
        )
        return {s["g"].value: int(s["n"].value) for s in solutions}

    def replace_graphs(
        self,
        files: Iterable[tuple[str, Path]],
        release: str,
        in_use: bool = True,
        bulk: bool = False,
    ) -> None:
        """Put each (graph, N-Triples file) in the store, all together or not at all.

        A store a release reads (`in_use`) gets each graph under a staging name, then all are
        moved into place in one update; a store nobody reads gets them under their own names
        (each emptied first), and the release switch moves the readers. On failure the graphs
        loaded are dropped and the served ones are untouched. Each graph is counted once
        loaded: a store that kept fewer triples than it was sent fails the load. `bulk` loads
        with the store's bulk loader instead of HTTP. An empty file empties its graph."""
        files = list(files)
        name = {
            graph: f"{STAGING_PREFIX}{release}:{graph}" if in_use else graph for graph, _ in files
        }
        loaded = [(graph, path) for graph, path in files if path.stat().st_size > 0]
        try:
            if not in_use:
                for graph, _ in files:
                    self.update(self.dialect.drop(graph))
            expected = {name[graph]: _lines(path) for graph, path in loaded}
            if bulk:
                self.bulk_load([(name[graph], path) for graph, path in loaded])
            else:
                for graph, path in loaded:
                    self.put_graph(name[graph], path)
            self._check_counts(expected)
            if in_use:
                operations = [
                    f"MOVE <{name[graph]}> TO <{graph}>"
                    if path.stat().st_size > 0
                    else f"DROP SILENT GRAPH <{graph}>"
                    for graph, path in files
                ]
                self.update(" ;\n".join(operations))
        except BaseException:
            for graph, _ in loaded:
                try:
                    self.update(self.dialect.drop(name[graph]))
                except RemoteStoreError:
                    break
            raise

    def _check_counts(self, expected: dict[str, int]) -> None:
        counted = self.count(list(expected))
        for graph, triples in expected.items():
            held = counted.get(graph, 0)
            if held != triples:
                raise RemoteStoreError(
                    f"remote store {self.endpoints.graph_store}: graph <{graph}> holds {held:,} "
                    f"triples after loading, of the {triples:,} sent"
                    + (
                        " (Virtuoso keeps one of literals equal in value, such as "
                        '"01" and "1" as xsd:integer, or true and "1" as xsd:boolean; '
                        "and its bulk loader logs a file it could not read in "
                        "DB.DBA.LOAD_LIST.ll_error)"
                        if self.dialect.name == "virtuoso"
                        else ""
                    )
                )


class _Digest:
    """HTTP digest authentication answered ahead of each request. urllib's own handler sends a
    request, body and all, then answers the 401; Virtuoso closes the connection on a 401
    without reading the body, so every upload larger than a socket buffer failed with a broken
    pipe. Here the challenge is fetched once with an empty request of the same method (refused,
    so it changes nothing), and each request carries its answer (the nonce count increasing)."""

    def __init__(self, url: str, user: str, password: str):
        passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        passwords.add_password(None, url, user, password)
        self._handler = urllib.request.HTTPDigestAuthHandler(passwords)
        self._challenge: dict[str, str] | None = None

    def sign(self, request: urllib.request.Request, opener, timeout: float) -> None:
        if self._challenge is None:
            self._challenge = self._fetch_challenge(request, opener, timeout)
        if self._challenge:
            answer = self._handler.get_authorization(request, self._challenge)
            request.add_unredirected_header("Authorization", f"Digest {answer}")

    def expired(self, err: urllib.error.HTTPError) -> bool:
        """Whether a 401 may be a challenge gone stale: if so, the next request fetches anew."""
        if err.code != 401 or not self._challenge:
            return False
        self._challenge = None
        return True

    @staticmethod
    def _fetch_challenge(request, opener, timeout: float) -> dict[str, str]:
        probe = urllib.request.Request(
            request.full_url, data=b"", method=request.get_method(), headers=request.headers
        )
        try:
            with opener.open(probe, timeout=timeout) as response:
                response.read()
            return {}  # no authentication asked for
        except urllib.error.HTTPError as err:
            scheme, _, challenge = (err.headers.get("WWW-Authenticate") or "").partition(" ")
            if err.code != 401 or scheme.lower() != "digest":
                raise
            items = urllib.request.parse_http_list(challenge)
            return urllib.request.parse_keqv_list(items)


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(block.count(b"\n") for block in iter(lambda: file.read(1 << 20), b""))


def _reason(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        detail = _plain_text(err.read().decode("utf-8", "replace"))
        return f"HTTP {err.code} {err.reason}" + (f": {detail[:300]}" if detail else "")
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def _plain_text(body: str) -> str:
    """What an error body says, on one line: an HTML page (Virtuoso's) as its text, other text
    as its first line (Virtuoso's next lines repeat the query)."""
    if "<html" in body.lower():
        return " ".join(re.sub(r"(?is)<(head|style|script)\b.*?</\1>|<[^>]+>", " ", body).split())
    return next((line.strip() for line in body.splitlines() if line.strip()), "")
