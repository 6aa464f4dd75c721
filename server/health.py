"""Health check for load balancers and the test-suite."""

from flask import Blueprint, jsonify

from treatygraph.remote_store import RemoteStore

from .builds import current_build

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """200 while the build can be served; a remote store is asked, so a balancer sees it down."""
    build = current_build()
    if isinstance(build.store, RemoteStore):
        build.store.query("ASK {}")
    return jsonify(
        status="ok",
        version=build.info.version,
        triples=build.info.triples,
        built_at=build.info.built_at,
    )
