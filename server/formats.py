"""The one table of every format the server speaks, and the documents' negotiation over it.

Each format says which uses it serves: entity and ontology documents (HTML and RDF, also the
VoID description), SPARQL graph results (CONSTRUCT, DESCRIBE, the service description), SPARQL
results (SELECT, ASK). The endpoint's negotiation over the same table is in `server.sparql.formats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyoxigraph as ox

if TYPE_CHECKING:
    from flask import Request

DOCUMENT = "document"  # entity and ontology documents, /.well-known/void
GRAPH = "graph"  # SPARQL CONSTRUCT and DESCRIBE
RESULTS = "results"  # SPARQL SELECT and ASK

W3C = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class Format:
    """A representation: its key (also the file suffix), media type and how to write it."""

    key: str
    media_type: str
    label: str
    kinds: frozenset[str]
    oxigraph: ox.RdfFormat | ox.QueryResultsFormat | None  # None: HTML, rendered by a template
    names: tuple[str, ...]  # short names for ?format=, first is the canonical one
    aliases: tuple[str, ...] = ()  # other media types a client may ask for
    w3c: str = ""  # IRI in http://www.w3.org/ns/formats/, for the service description
    rdflib: str = ""  # rdflib's parser and serializer name, for RDF formats

    @property
    def is_html(self) -> bool:
        return self.oxigraph is None

    @property
    def is_rdf(self) -> bool:
        return isinstance(self.oxigraph, ox.RdfFormat)

    @property
    def content_type(self) -> str:
        """The Content-Type of a SPARQL answer: the media type, with a charset for text formats."""
        if self.media_type.startswith("text/") or self.media_type.endswith(
            ("json", "xml", "triples", "quads", "trig")
        ):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


_DOCUMENT_AND_GRAPH = frozenset({DOCUMENT, GRAPH})

# Order matters: within a kind, the first format is its default and wins `*/*`. HTML comes first,
# so a client that accepts anything (curl, a browser) gets the page of a document.
FORMATS: tuple[Format, ...] = (
    Format(
        "html",
        "text/html",
        "HTML",
        frozenset({DOCUMENT}),
        None,
        ("html", "htm"),
        ("application/xhtml+xml",),
    ),
    Format(
        "srj",
        "application/sparql-results+json",
        "SPARQL results JSON",
        frozenset({RESULTS}),
        ox.QueryResultsFormat.JSON,
        ("json", "srj"),
        ("application/json",),
        W3C + "SPARQL_Results_JSON",
    ),
    Format(
        "srx",
        "application/sparql-results+xml",
        "SPARQL results XML",
        frozenset({RESULTS}),
        ox.QueryResultsFormat.XML,
        ("xml", "srx"),
        ("application/xml", "text/xml"),
        W3C + "SPARQL_Results_XML",
    ),
    Format(
        "csv",
        "text/csv",
        "CSV",
        frozenset({RESULTS}),
        ox.QueryResultsFormat.CSV,
        ("csv",),
        (),
        W3C + "SPARQL_Results_CSV",
    ),
    Format(
        "tsv",
        "text/tab-separated-values",
        "TSV",
        frozenset({RESULTS}),
        ox.QueryResultsFormat.TSV,
        ("tsv",),
        ("text/tsv",),
        W3C + "SPARQL_Results_TSV",
    ),
    Format(
        "ttl",
        "text/turtle",
        "Turtle",
        _DOCUMENT_AND_GRAPH,
        ox.RdfFormat.TURTLE,
        ("ttl", "turtle", "n3"),
        ("application/x-turtle", "text/n3", "text/rdf+n3"),
        W3C + "Turtle",
        "turtle",
    ),
    Format(
        "nt",
        "application/n-triples",
        "N-Triples",
        _DOCUMENT_AND_GRAPH,
        ox.RdfFormat.N_TRIPLES,
        ("nt", "ntriples", "n-triples"),
        ("text/plain",),
        W3C + "N-Triples",
        "nt",
    ),
    Format(
        "jsonld",
        "application/ld+json",
        "JSON-LD",
        _DOCUMENT_AND_GRAPH,
        ox.RdfFormat.JSON_LD,
        ("jsonld", "json-ld", "json"),
        ("application/json",),
        W3C + "JSON-LD",
        "json-ld",
    ),
    Format(
        "rdf",
        "application/rdf+xml",
        "RDF/XML",
        _DOCUMENT_AND_GRAPH,
        ox.RdfFormat.RDF_XML,
        ("rdf", "rdfxml", "rdf+xml", "xml", "owl"),
        ("application/xml", "text/xml"),
        W3C + "RDF_XML",
        "xml",
    ),
    Format(
        "trig",
        "application/trig",
        "TriG",
        frozenset({GRAPH}),
        ox.RdfFormat.TRIG,
        ("trig",),
        ("application/x-trig",),
        W3C + "TriG",
        "trig",
    ),
    Format(
        "nq",
        "application/n-quads",
        "N-Quads",
        frozenset({GRAPH}),
        ox.RdfFormat.N_QUADS,
        ("nq", "nquads", "n-quads"),
        (),
        W3C + "N-Quads",
        "nquads",
    ),
)
BY_KEY = {f.key: f for f in FORMATS}


def offered(kind: str) -> list[Format]:
    """The formats of one kind, in the table's order (the first is the default)."""
    return [f for f in FORMATS if kind in f.kinds]


DOCUMENT_FORMATS = tuple(offered(DOCUMENT))
HTML = BY_KEY["html"]
_DOCUMENT_BY_MEDIA_TYPE = {m: f for f in DOCUMENT_FORMATS for m in (f.media_type, *f.aliases)}
_DOCUMENT_BY_NAME = {n: f for f in DOCUMENT_FORMATS for n in (*f.names, f.media_type)}
_DOCUMENT_BY_SUFFIX = {f.key: f for f in DOCUMENT_FORMATS}


class UnknownFormat(ValueError):
    """A `?format=` value that names no format of the table."""


def negotiate(request: Request, default: Format = HTML) -> Format:
    """The document format a request asks for: `?format=` wins, then the Accept header."""
    asked = request.args.get("format")
    if asked:
        try:
            return _DOCUMENT_BY_NAME[asked.strip().lower()]
        except KeyError:
            known = ", ".join(f.key for f in DOCUMENT_FORMATS)
            raise UnknownFormat(f"unknown format {asked!r}; use one of {known}") from None
    if not request.accept_mimetypes:
        return default
    best = request.accept_mimetypes.best_match(list(_DOCUMENT_BY_MEDIA_TYPE), default=None)
    return _DOCUMENT_BY_MEDIA_TYPE[best] if best else default


def split_suffix(name: str) -> tuple[str, Format | None]:
    """`csto.ttl` -> ("csto", Turtle); `csto` -> ("csto", None). Raises KeyError for unknown suffixes."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return name, None
    return stem, _DOCUMENT_BY_SUFFIX[suffix]
