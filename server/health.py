"""Health check for load balancers and the test-suite."""

from flask import Blueprint, jsonify

from .builds import current_build

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    build = current_build()
    return jsonify(
        status="ok",
        version=build.info.version,
        triples=build.info.triples,
        built_at=build.info.built_at,
    )
