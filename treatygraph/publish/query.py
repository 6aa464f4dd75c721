"""Running SPARQL on a build's store: the same dataset the endpoint serves (default graph = union)."""

from __future__ import annotations

import io

import pyoxigraph as ox

from treatygraph.core.config import Config
from treatygraph.rdf.namespaces import ProjectNamespaces

RESULT_FORMATS = {
    "json": ox.QueryResultsFormat.JSON,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
}


class QueryError(Exception):
    """The query could not be run: no build, or a syntax error (with its position)."""


def open_current_store(config: Config) -> ox.Store:
    from treatygraph.store.opening import open_store

    from .build import current_release

    release = current_release(config)
    if release is None:
        raise QueryError(f"no build in {config.build_dir}; run `treatygraph build` first")
    return open_store(release, timeout=config.query_timeout)


def execute(store: ox.Store, sparql: str, ns: ProjectNamespaces):
    """Run a query with the project's prefixes predeclared and the union as default graph."""
    try:
        return store.query(sparql, use_default_graph_as_union=True, prefixes=ns.prefixes())
    except SyntaxError as err:
        raise QueryError(f"SPARQL syntax error: {err}") from None


def _cell(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def run_query_cli(config: Config, sparql: str, fmt: str) -> str:
    """Run a query on the current build and render it for the terminal or as a file format."""
    store = open_current_store(config)
    ns = ProjectNamespaces(config.base_iri)
    results = execute(store, sparql, ns)
    if isinstance(results, ox.QueryBoolean):
        if fmt in RESULT_FORMATS:
            return results.serialize(format=RESULT_FORMATS[fmt]).decode()
        return f"{str(bool(results)).lower()}\n"
    if not isinstance(results, ox.QuerySolutions):  # triples; from a remote store, an iterator
        if fmt not in ("table", "turtle"):
            raise QueryError("CONSTRUCT and DESCRIBE results print as turtle")
        return ox.serialize(results, format=ox.RdfFormat.TURTLE, prefixes=ns.prefixes()).decode()
    if fmt in RESULT_FORMATS:
        return results.serialize(format=RESULT_FORMATS[fmt]).decode()
    if fmt == "turtle":
        raise QueryError("SELECT results print as table, json, csv or tsv")
    from rich.console import Console
    from rich.table import Table

    names = [v.value for v in results.variables]
    table = Table(*names)
    rows = 0
    for solution in results:
        table.add_row(*(_cell(solution[name]) for name in names))
        rows += 1
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(table)
    return out.getvalue() + f"{rows} row(s)\n"
