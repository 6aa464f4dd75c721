"""A SPARQL 1.1 store on another machine, in place of the embedded Oxigraph store.

The build writes to it with the SPARQL 1.1 Graph Store Protocol (each named graph PUT under a
staging name, then all moved into place by one SPARQL Update request, so the graphs being served
change together or not at all). The server reads it through SPARQLWrapper with the same calls it
makes on a `pyoxigraph.Store` (`query`, `quads_for_pattern`), answered with pyoxigraph's own
result objects, so pages, endpoint, dumps and the Wikidata view run unchanged on either.

Every read names its dataset with the protocol's `default-graph-uri`/`named-graph-uri`: our
graphs only, so other data the store holds, and the staging graphs of a build under way, stay
out of every answer.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from . import __version__
from .sparql_text import query_form

USER_AGENT = f"treatygraph/{__version__} (remote store; +https://w3id.org/treatygraph)"
N_TRIPLES = "application/n-triples"
RESULTS_JSON = "application/sparql-results+json"
# Stands for an empty default graph, which the protocol has no other way to ask for.
EMPTY_GRAPH = "urn:treatygraph:no-graph"
STAGING_PREFIX = "urn:treatygraph:staging:"
CACHED_SUBJECTS = 5_000  # subjects whose quads a RemoteStore keeps (least recently used go)
SUBJECT_QUADS = 500  # a subject with more is not kept whole; each pattern is asked instead
# Where the query and update services sit beside the Graph Store Protocol service, by store.
SIBLING_SERVICES = {"store": ("query", "update"), "data": ("query", "update")}


class RemoteStoreError(OSError):
    """The remote store could not be reached, or refused a request; names the URL."""


@dataclass(frozen=True)
class StoreEndpoints:
    """The three services of a remote store."""

    graph_store: str
    query: str
    update: str

    @classmethod
    def from_urls(
        cls, graph_store: str, query: str | None = None, update: str | None = None
    ) -> StoreEndpoints:
        """The store's services; query and update guessed for Oxigraph (`/store`) and Fuseki
        (`/<dataset>/data`) when not given."""
        for name, url in (
            ("--store", graph_store),
            ("--store-query", query),
            ("--store-update", update),
        ):
            if url is not None and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
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
                "(known layouts: Oxigraph …/store, Fuseki …/<dataset>/data); "
                "give --store-query and --store-update"
            )
        return cls(graph_store, query or guessed[0], update or guessed[1])


def _sparql_term(term) -> str:
    if isinstance(term, ox.BlankNode):
        raise ValueError(f"a blank node ({term}) cannot be looked up in a remote store")
    return str(term)


class RemoteStore:
    """Read access to a remote SPARQL 1.1 store, shaped like `pyoxigraph.Store`."""

    def __init__(self, query_url: str, graphs: Sequence[str], timeout: float = 60.0):
        self.query_url = query_url
        self.graphs = tuple(graphs)
        self.timeout = timeout
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
    ):
        """Run a query remotely; the answer as pyoxigraph's QuerySolutions, QueryBoolean or
        an iterator of triples, as `Store.query` gives them."""
        form, calls_out = query_form(query)
        if not calls_out:
            # Oxigraph's own syntax errors, with the asker's line numbers (evaluated on nothing).
            self._parser.query(query, prefixes=prefixes, use_default_graph_as_union=True)
        defaults, named = self._dataset(use_default_graph_as_union, default_graph, named_graphs)
        prologue = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in (prefixes or {}).items())
        graph_form = form in ("CONSTRUCT", "DESCRIBE")
        response = self._send(prologue + query, form, defaults, named)
        if graph_form:
            return (quad.triple for quad in ox.parse(response, format=ox.RdfFormat.N_TRIPLES))
        return ox.parse_query_results(response.read(), format=ox.QueryResultsFormat.JSON)

    def quads_for_pattern(self, subject, predicate, object_, graph_name=None) -> Iterator[ox.Quad]:
        """The quads matching a pattern (None matches anything) in our graphs.

        Pages ask about one subject many times over (its label, its types, each property), so
        a subject's quads are fetched once, whole, and kept: one round trip instead of several.
        A store's contents change only with a release, which opens a new RemoteStore."""
        if isinstance(graph_name, ox.DefaultGraph):
            return iter(())  # every triple of a build is in a named graph
        known = self._about(subject) if isinstance(subject, ox.NamedNode) else None
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
        named = [g.value for g in named_graphs] if named_graphs is not None else list(self.graphs)
        if default_graph is not None:
            return [g.value for g in default_graph] or [EMPTY_GRAPH], named
        if union:
            return list(self.graphs), named
        return [EMPTY_GRAPH], named

    def _send(self, text: str, form: str | None, defaults: list[str], named: list[str]):
        """The open HTTP response."""
        from SPARQLWrapper import POST, URLENCODED, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

        client = SPARQLWrapper(self.query_url, agent=USER_AGENT)
        client.setMethod(POST)
        client.setRequestMethod(URLENCODED)
        client.setOnlyConneg(True)
        client.setQuery(text)
        client.queryType = form  # SPARQLWrapper's own guess reads words in comments as verbs
        graph_form = form in ("CONSTRUCT", "DESCRIBE")
        client.addCustomHttpHeader("Accept", N_TRIPLES if graph_form else RESULTS_JSON)
        client.setTimeout(max(1, round(self.timeout)))
        for iri in defaults:
            client.addDefaultGraph(iri)
        for iri in named:
            client.addNamedGraph(iri)
        try:
            return client.query().response
        except QueryBadFormed as err:
            raise ValueError(
                f"the remote store {self.query_url} refused the query: {err}"
            ) from None
        except (urllib.error.URLError, OSError, SPARQLWrapperException) as err:
            raise RemoteStoreError(f"remote store {self.query_url}: {_reason(err)}") from None


class StoreLoader:
    """Replaces our named graphs in a remote store, all together, from N-Triples files."""

    def __init__(self, endpoints: StoreEndpoints, timeout: float = 600.0):
        self.endpoints = endpoints
        self.timeout = timeout

    def put_graph(self, graph: str, ntriples: Path) -> None:
        """PUT one graph (Graph Store Protocol), the body streamed from the file."""
        url = f"{self.endpoints.graph_store}?{urllib.parse.urlencode({'graph': graph})}"
        with ntriples.open("rb") as body:
            request = urllib.request.Request(
                url,
                data=body,
                method="PUT",
                headers={
                    "Content-Type": N_TRIPLES,
                    "Content-Length": str(ntriples.stat().st_size),
                    "User-Agent": USER_AGENT,
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as err:
                raise RemoteStoreError(
                    f"remote store {self.endpoints.graph_store}: PUT of graph <{graph}> "
                    f"failed: {_reason(err)}"
                ) from None

    def update(self, text: str) -> None:
        """One SPARQL Update request."""
        from SPARQLWrapper import POST, URLENCODED, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

        client = SPARQLWrapper(self.endpoints.update, updateEndpoint=self.endpoints.update)
        client.agent = USER_AGENT
        client.setMethod(POST)
        client.setRequestMethod(URLENCODED)
        client.setQuery(text)
        client.setTimeout(max(1, round(self.timeout)))
        try:
            client.query().response.read()
        except (urllib.error.URLError, OSError, SPARQLWrapperException) as err:
            raise RemoteStoreError(
                f"remote store {self.endpoints.update}: update failed: {_reason(err)}"
            ) from None

    def replace_graphs(self, files: Iterable[tuple[str, Path]], release: str) -> None:
        """Upload each (graph, file) under a staging name, then move them all into place in
        one update; on failure the staging graphs are dropped and the served ones untouched.

        An empty file empties its graph: stores need not keep an empty graph to move."""
        staged: list[tuple[str, str]] = []
        operations = []
        try:
            for graph, ntriples in files:
                if ntriples.stat().st_size == 0:
                    operations.append(f"DROP SILENT GRAPH <{graph}>")
                    continue
                staging = f"{STAGING_PREFIX}{release}:{graph}"
                staged.append((staging, graph))
                self.put_graph(staging, ntriples)
                operations.append(f"MOVE <{staging}> TO <{graph}>")
            self.update(" ;\n".join(operations))
        except BaseException:
            for staging, _ in staged:
                try:
                    self.update(f"DROP SILENT GRAPH <{staging}>")
                except RemoteStoreError:
                    break
            raise


def _reason(err: Exception) -> str:
    if isinstance(err, urllib.error.HTTPError):
        detail = err.read().decode("utf-8", "replace").strip().splitlines()
        return f"HTTP {err.code} {err.reason}" + (f": {detail[0][:300]}" if detail else "")
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__
