"""SERVICE calls, made by us rather than by Oxigraph: allowlisted, timed, and SILENT-aware.

The endpoint evaluates each `SERVICE <iri> { P }` clause of a query the way SPARQL 1.1
Federated Query describes it: `SELECT * WHERE { P }` is sent to the remote endpoint, and its
solutions are joined with the rest of the query. They come back inline, as a `VALUES` block that
replaces the clause, so Oxigraph itself never opens a connection. When the clause is joined with
plain triple patterns, their distinct bindings of the shared variables go along as a `VALUES`
block (a bound join), so `?org owl:sameAs ?item . SERVICE <wikidata> { ?item wdt:P571 ?date }`
asks Wikidata about our items only, not about every item it has.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyoxigraph as ox

from .text import QueryText, ServiceCall, splice

MAX_BOUND_ROWS = 1000  # distinct local bindings sent along with a SERVICE call, at most
USER_AGENT = "treatygraph/0.1 (SPARQL federation; +https://w3id.org/treatygraph)"
SKOLEM_BASE = "https://w3id.org/treatygraph/.well-known/genid/service/"
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_\u00B7-\uFFFF]+$")


class ServiceFailed(Exception):
    """A remote SERVICE failed and the query did not say SILENT."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


def remote_query(
    query: QueryText, call: ServiceCall, predeclared: dict[str, str], bindings: str = ""
) -> str:
    """The query sent to the remote endpoint: the clause's pattern, with the prefixes it may use.

    `bindings`, a VALUES block, narrows the pattern to what the rest of the query can join with.
    """
    prefixes = {**predeclared, **query.prefixes}
    lines = [f"BASE <{query.base}>"] if query.base else []
    lines += [f"PREFIX {name}: <{iri}>" for name, iri in prefixes.items()]
    lines.append(f"SELECT * WHERE {{ {bindings}{call.body}}}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Bindings:
    """Distinct local bindings of the variables a SERVICE clause shares with its WHERE group."""

    variables: tuple[str, ...]
    rows: tuple[str, ...]  # each `(term term …)` in SPARQL syntax

    def values(self) -> str:
        head = " ".join(f"?{name}" for name in self.variables)
        return f"VALUES ({head}) {{ {' '.join(self.rows)} }}\n"


def local_bindings(
    query: QueryText, call: ServiceCall, run_local: Callable[[str], ox.QuerySolutions]
) -> Bindings | None:
    """What the rest of the WHERE group can offer the SERVICE call to join with.

    Only when the clause is joined with plain triple patterns (and FILTERs, which can only remove
    solutions), so no answer that could join is left out; None when the call must go unbounded:
    another shape, no shared variable, too many distinct bindings, or blank nodes.
    """
    if not call.top_level or query.local_pattern is None or query.has_dataset_clause:
        return None
    shared = tuple(sorted(call.variables & query.local_variables))
    if not shared:
        return None
    head = " ".join(f"?{name}" for name in shared)
    sparql = (
        f"{query.prologue}\nSELECT DISTINCT {head} WHERE {{{query.local_pattern}}} "
        f"LIMIT {MAX_BOUND_ROWS + 1}"
    )
    try:
        solutions = list(run_local(sparql))
    except (SyntaxError, ValueError, RuntimeError, OSError):
        return None
    if len(solutions) > MAX_BOUND_ROWS:
        return None
    rows = []
    for solution in solutions:
        terms = [solution[name] for name in shared]
        if any(isinstance(term, ox.BlankNode) for term in terms):
            return None
        rows.append("(" + " ".join(_term(term) for term in terms) + ")")
    return Bindings(shared, tuple(rows))


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
    run_local: Callable[[str], ox.QuerySolutions] | None = None,
) -> str:
    """The query text with every SERVICE clause replaced by the remote endpoint's solutions."""
    replacements = []
    for call in query.services:
        url = mirrors.get(call.iri, call.iri)
        bindings = local_bindings(query, call, run_local) if run_local else None
        if bindings is not None and not bindings.rows:
            replacements.append((call, "{ FILTER(false) }"))  # nothing here to join with
            continue
        budget = min(timeout, deadline - time.monotonic())
        try:
            if budget <= 0:
                raise TimeoutError("no time left for the SERVICE call")
            started = time.monotonic()
            sparql = remote_query(query, call, predeclared, bindings.values() if bindings else "")
            solutions = fetch_solutions(url, sparql, budget)
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
