"""Reading the Turtle files of the ontology and the shapes, with file and line on a syntax error."""

from __future__ import annotations

import re
from pathlib import Path

from rdflib import Graph

from treatygraph.core.errors import DataError, Problem
from treatygraph.core.files import read_text

from .namespaces import ProjectNamespaces

_LINE = re.compile(r"line (\d+)")


def load_turtle_dir(directory: Path, ns: ProjectNamespaces) -> Graph:
    """Parse every .ttl file in a folder into one graph, rebased onto the configured base IRI."""
    graph = Graph()
    files = sorted(directory.glob("*.ttl"))
    if not files:
        raise DataError(Problem(directory, None, "no .ttl files found"))
    for path in files:
        text = ns.rebase(read_text(path))
        try:
            graph.parse(data=text, format="turtle", publicID=path.as_uri())
        except Exception as err:  # rdflib raises several unrelated types for bad syntax
            match = _LINE.search(str(err))
            line = int(match.group(1)) if match else None
            message = " ".join(str(err).split())
            raise DataError(Problem(path, line, f"invalid Turtle: {message[:300]}")) from None
    return graph


def store_graph(store, graph_iri: str) -> Graph:
    """One named graph of an Oxigraph store as an in-memory rdflib graph."""
    import pyoxigraph as ox

    data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph_iri))
    return Graph().parse(data=data, format="nt")
