"""The one table of response formats, and content negotiation over it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request

RESULTS = "results"  # SELECT and ASK
GRAPH = "graph"  # CONSTRUCT and DESCRIBE


@dataclass(frozen=True)
class Format:
    key: str
    kind: str
    media_type: str
    names: tuple[str, ...]  # short names for ?format=, first is the canonical one
    aliases: tuple[str, ...] = ()  # other media types a client may ask for
    w3c: str = ""  # IRI in http://www.w3.org/ns/formats/, for the service description

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type.endswith(
            ("json", "xml", "triples", "quads", "trig")
        ):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


W3C = "http://www.w3.org/ns/formats/"

# Order matters: the first format of a kind is its default, and wins `*/*`.
FORMATS: tuple[Format, ...] = (
    Format(
        "srj",
        RESULTS,
        "application/sparql-results+json",
        ("json", "srj"),
        ("application/json",),
        W3C + "SPARQL_Results_JSON",
    ),
    Format(
        "srx",
        RESULTS,
        "application/sparql-results+xml",
        ("xml", "srx"),
        ("application/xml", "text/xml"),
        W3C + "SPARQL_Results_XML",
    ),
    Format("csv", RESULTS, "text/csv", ("csv",), (), W3C + "SPARQL_Results_CSV"),
    Format(
        "tsv",
        RESULTS,
        "text/tab-separated-values",
        ("tsv",),
        ("text/tsv",),
        W3C + "SPARQL_Results_TSV",
    ),
    Format(
        "ttl",
        GRAPH,
        "text/turtle",
        ("ttl", "turtle", "n3"),
        ("application/x-turtle", "text/n3", "text/rdf+n3"),
        W3C + "Turtle",
    ),
    Format(
        "nt",
        GRAPH,
        "application/n-triples",
        ("nt", "ntriples", "n-triples"),
        ("text/plain",),
        W3C + "N-Triples",
    ),
    Format(
        "jsonld",
        GRAPH,
        "application/ld+json",
        ("jsonld", "json-ld", "json"),
        ("application/json",),
        W3C + "JSON-LD",
    ),
    Format(
        "rdf",
        GRAPH,
        "application/rdf+xml",
        ("rdf", "rdfxml", "rdf+xml", "xml", "owl"),
        ("application/xml", "text/xml"),
        W3C + "RDF_XML",
    ),
    Format("trig", GRAPH, "application/trig", ("trig",), ("application/x-trig",), W3C + "TriG"),
    Format("nq", GRAPH, "application/n-quads", ("nq", "nquads", "n-quads"), (), W3C + "N-Quads"),
)
BY_KEY = {f.key: f for f in FORMATS}


class NotAcceptable(Exception):
    """Nothing the client accepts is offered; the message lists what is."""


class UnknownFormat(Exception):
    """A `format=` value that names no format at all."""


def offered(kind: str) -> list[Format]:
    return [f for f in FORMATS if f.kind == kind]


def _offer_list(kind: str) -> str:
    return ", ".join(f.media_type for f in offered(kind))


def choose(request: Request, kind: str, override: str | None) -> Format:
    """The format to answer in: `format=` wins over Accept; the kind's default when neither says."""
    if override:
        wanted = override.strip().lower()
        for fmt in offered(kind):
            if wanted in fmt.names or wanted == fmt.media_type or wanted in fmt.aliases:
                return fmt
        if not any(wanted in f.names or wanted == f.media_type for f in FORMATS):
            names = ", ".join(sorted({n for f in FORMATS for n in f.names}))
            raise UnknownFormat(f"format={override!r} is not a format this endpoint knows: {names}")
        raise NotAcceptable(
            f"format={override!r} does not fit this query's results; offered: {_offer_list(kind)}"
        )
    candidates: list[str] = []
    by_type: dict[str, Format] = {}
    for fmt in offered(kind):
        candidates.append(fmt.media_type)
        by_type[fmt.media_type] = fmt
    for fmt in offered(kind):
        for alias in fmt.aliases:
            if alias not in by_type:
                candidates.append(alias)
                by_type[alias] = fmt
    if not request.accept_mimetypes:
        return offered(kind)[0]
    best = request.accept_mimetypes.best_match(candidates)
    if best is None:
        raise NotAcceptable(
            f"none of the accepted types ({request.headers.get('Accept')}) is offered for this "
            f"query; offered: {_offer_list(kind)}"
        )
    return by_type[best]
