"""The SPARQL endpoint at /sparql."""

from __future__ import annotations

import pyoxigraph as ox
from flask import Blueprint, Response, request

from treatygraph.query import QueryError, execute

from .builds import current_build

blueprint = Blueprint("sparql", __name__)

SELECT_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
}


def _query_text() -> str | None:
    if request.method == "GET":
        return request.args.get("query")
    if request.mimetype == "application/sparql-query":
        return request.get_data(as_text=True)
    return request.form.get("query")


@blueprint.route("/sparql", methods=["GET", "POST"])
def endpoint():
    text = _query_text()
    if not text:
        return Response(
            "Give a SPARQL query in the `query` parameter.\n", 400, mimetype="text/plain"
        )
    build = current_build()
    try:
        results = execute(build.store, text, build.ns)
    except QueryError as err:
        return Response(f"{err}\n", 400, mimetype="text/plain")
    if isinstance(results, ox.QueryTriples):
        media = request.accept_mimetypes.best_match(list(GRAPH_FORMATS), "text/turtle")
        body = ox.serialize(results, format=GRAPH_FORMATS[media])
        return Response(body, mimetype=media)
    media = request.accept_mimetypes.best_match(
        list(SELECT_FORMATS), "application/sparql-results+json"
    )
    return Response(results.serialize(format=SELECT_FORMATS[media]), mimetype=media)
