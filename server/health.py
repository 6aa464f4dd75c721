"""Health check for load balancers and the test-suite."""

from flask import Blueprint, current_app, jsonify

from treatygraph.store.remote import RemoteStore

from .builds import current_build
from .sparql import queries
from .sparql.share import Refused

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """200 while the build can be served: a remote store and the query broker are asked, so that a
    load balancer sees the replica down when either is."""
    build = current_build()
    if isinstance(build.store, RemoteStore):
        build.store.query("ASK {}")
    try:
        if current_app.config["TREATYGRAPH"].query_broker:
            queries().check()
    except Refused as err:
        return jsonify(error="queries cannot run", detail=err.message), 503, err.headers
    return jsonify(
        status="ok",
        version=build.info.version,
        triples=build.info.triples,
        built_at=build.info.built_at,
    )
