"""The one table of document formats the linked-data pages negotiate, and the negotiation itself."""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox
from flask import Request


@dataclass(frozen=True)
class DocFormat:
    """A representation of a document: its suffix, media type, and Oxigraph serializer (None: HTML)."""

    suffix: str
    media_type: str
    label: str
    rdf: ox.RdfFormat | None
    aliases: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def is_html(self) -> bool:
        return self.rdf is None


# HTML first: a client that accepts anything (`*/*`, curl, a browser) gets the page.
FORMATS: tuple[DocFormat, ...] = (
    DocFormat("html", "text/html", "HTML", None, ("application/xhtml+xml",), ("html", "htm")),
    DocFormat(
        "ttl",
        "text/turtle",
        "Turtle",
        ox.RdfFormat.TURTLE,
        ("application/x-turtle", "text/n3"),
        ("ttl", "turtle"),
    ),
    DocFormat(
        "nt",
        "application/n-triples",
        "N-Triples",
        ox.RdfFormat.N_TRIPLES,
        ("text/plain",),
        ("nt", "ntriples", "n-triples"),
    ),
    DocFormat(
        "jsonld",
        "application/ld+json",
        "JSON-LD",
        ox.RdfFormat.JSON_LD,
        ("application/json",),
        ("jsonld", "json-ld", "json"),
    ),
    DocFormat(
        "rdf",
        "application/rdf+xml",
        "RDF/XML",
        ox.RdfFormat.RDF_XML,
        ("application/xml",),
        ("rdf", "xml", "rdfxml", "rdf+xml"),
    ),
)
BY_SUFFIX = {f.suffix: f for f in FORMATS}
BY_MEDIA_TYPE = {m: f for f in FORMATS for m in (f.media_type, *f.aliases)}
BY_NAME = {n: f for f in FORMATS for n in (*f.names, f.media_type)}
HTML = BY_SUFFIX["html"]
RDF_FORMATS = tuple(f for f in FORMATS if not f.is_html)


class UnknownFormat(ValueError):
    """A `?format=` value that names no format of the table."""


def negotiate(request: Request, default: DocFormat = HTML) -> DocFormat:
    """The format a request asks for: `?format=` wins, then the Accept header."""
    asked = request.args.get("format")
    if asked:
        try:
            return BY_NAME[asked.strip().lower()]
        except KeyError:
            known = ", ".join(f.suffix for f in FORMATS)
            raise UnknownFormat(f"unknown format {asked!r}; use one of {known}") from None
    if not request.accept_mimetypes:
        return default
    best = request.accept_mimetypes.best_match(list(BY_MEDIA_TYPE), default=None)
    return BY_MEDIA_TYPE[best] if best else default


def split_suffix(name: str) -> tuple[str, DocFormat | None]:
    """`csto.ttl` -> ("csto", Turtle); `csto` -> ("csto", None). Raises KeyError for unknown suffixes."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        return name, None
    return stem, BY_SUFFIX[suffix]
