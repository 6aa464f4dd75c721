"""SERVICE calls, made by us rather than by Oxigraph: allowlisted, timed, and SILENT-aware.

The endpoint evaluates each `SERVICE <iri> { P }` clause of a query the way SPARQL 1.1
Federated Query describes it: `SELECT * WHERE { P }` is sent to the remote endpoint on its own,
and its solutions are joined with the rest of the query. The solutions come back inline, as a
`VALUES` block that replaces the clause, so Oxigraph itself never opens a connection.
"""

from __future__ import annotations

import re
import time

import pyoxigraph as ox

from .sparql_text import QueryText, ServiceCall, splice

USER_AGENT = "treatygraph/0.1 (SPARQL federation; +https://w3id.org/treatygraph)"
SKOLEM_BASE = "https://w3id.org/treatygraph/.well-known/genid/service/"
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_\u00B7-\uFFFF]+$")


class ServiceFailed(Exception):
    """A remote SERVICE failed and the query did not say SILENT."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def remote_query(query: QueryText, call: ServiceCall, predeclared: dict[str, str]) -> str:
    """The query sent to the remote endpoint: the clause's pattern, with the prefixes it may use."""
    prefixes = {**predeclared, **query.prefixes}
    lines = [f"BASE <{query.base}>"] if query.base else []
    lines += [f"PREFIX {name}: <{iri}>" for name, iri in prefixes.items()]
    lines.append(f"SELECT * WHERE {{{call.body}}}")
    return "\n".join(lines)


def fetch_solutions(url: str, sparql: str, timeout: float) -> ox.QuerySolutions:
    """Ask a remote endpoint with SPARQLWrapper; its JSON answer parsed by Oxigraph."""
    from SPARQLWrapper import JSON, POST, SPARQLWrapper

    client = SPARQLWrapper(url, agent=USER_AGENT)
    client.setQuery(sparql)
    client.setMethod(POST)
    client.setReturnFormat(JSON)
    client.setTimeout(max(1, round(timeout)))
    response = client.query().response
    body = response.read()
    return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)


def values_block(solutions: ox.QuerySolutions) -> str:
    """A group pattern holding exactly these solutions, as an inline VALUES table."""
    names = [v.value for v in solutions.variables]
    for name in names:
        if not _VARIABLE_NAME.match(name):
            raise ServiceFailed(f"remote endpoint answered with a bad variable name {name!r}")
    rows = []
    for solution in solutions:
        cells = [_term(solution[name]) for name in names]
        rows.append("(" + " ".join(cells) + ")")
    head = " ".join(f"?{name}" for name in names)
    return "{ VALUES (" + head + ") {\n" + "\n".join(rows) + "\n} }"


def _term(term) -> str:
    if term is None:
        return "UNDEF"
    if isinstance(term, ox.BlankNode):
        return f"<{SKOLEM_BASE}{term.value}>"
    if isinstance(term, ox.NamedNode | ox.Literal):
        return str(term)
    raise ServiceFailed(f"remote endpoint answered with a term this endpoint cannot join: {term}")


def resolve_services(
    query: QueryText,
    predeclared: dict[str, str],
    mirrors: dict[str, str],
    timeout: float,
    deadline: float,
) -> str:
    """The query text with every SERVICE clause replaced by the remote endpoint's solutions."""
    replacements = []
    for call in query.services:
        url = mirrors.get(call.iri, call.iri)
        budget = min(timeout, deadline - time.monotonic())
        try:
            if budget <= 0:
                raise TimeoutError("no time left for the SERVICE call")
            started = time.monotonic()
            solutions = fetch_solutions(url, remote_query(query, call, predeclared), budget)
            group = values_block(solutions)
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"SERVICE took longer than {timeout:g} s")
        except Exception as err:
            if call.silent:
                group = "{}"
            else:
                timed_out = isinstance(err, TimeoutError) or "timed out" in str(err).lower()
                raise ServiceFailed(
                    f"SERVICE <{call.iri}> failed: {_describe(err)}", timed_out=timed_out
                ) from None
        replacements.append((call, group))
    return splice(query.text, replacements)


def _describe(err: Exception) -> str:
    text = str(err).strip().splitlines()
    first = text[0] if text else type(err).__name__
    return first[:300]
