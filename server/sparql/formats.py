"""The SPARQL endpoint's content negotiation over the server's one format table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..formats import BY_KEY, FORMATS, GRAPH, RESULTS, Format, offered

if TYPE_CHECKING:
    from flask import Request

__all__ = [
    "BY_KEY",
    "GRAPH",
    "RESULTS",
    "SPARQL_FORMATS",
    "Format",
    "NotAcceptable",
    "UnknownFormat",
    "choose",
    "offered",
]

SPARQL_FORMATS = tuple(f for f in FORMATS if f.kinds & {RESULTS, GRAPH})


class NotAcceptable(Exception):
    """Nothing the client accepts is offered; the message lists what is."""


class UnknownFormat(Exception):
    """A `format=` value that names no format at all."""


def _offer_list(kind: str) -> str:
    return ", ".join(f.media_type for f in offered(kind))


def choose(request: Request, kind: str, override: str | None) -> Format:
    """The format to answer in: `format=` wins over Accept; the kind's default when neither says."""
    if override:
        wanted = override.strip().lower()
        for fmt in offered(kind):
            if wanted in fmt.names or wanted == fmt.media_type or wanted in fmt.aliases:
                return fmt
        if not any(wanted in f.names or wanted == f.media_type for f in SPARQL_FORMATS):
            names = ", ".join(sorted({n for f in SPARQL_FORMATS for n in f.names}))
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
