"""The SPARQL endpoint's content negotiation over the server's one format table."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

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
    return _choose(kind, override, request.headers.get("Accept"))


@functools.lru_cache(maxsize=512)
def _choose(kind: str, override: str | None, accept: str | None) -> Format:
    """Remembered per (kind, override, Accept header): clients send few distinct headers, and
    matching one against the table costs more than the rest of reading a query."""
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
    accepted = parse_accept_header(accept, MIMEAccept)
    if not accepted:
        return offered(kind)[0]
    candidates, by_type = _candidates(kind)
    best = accepted.best_match(candidates)
    if best is None:
        raise NotAcceptable(
            f"none of the accepted types ({accept}) is offered for this query; "
            f"offered: {_offer_list(kind)}"
        )
    return by_type[best]


@functools.cache
def _candidates(kind: str) -> tuple[list[str], dict[str, Format]]:
    """The media types of a kind, then their aliases, and the format each names."""
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
    return candidates, by_type
