"""The bulk dumps of the current build, under /dumps/."""

from flask import Blueprint, abort, send_from_directory

from treatygraph.dumps import DISTRIBUTIONS

from .builds import current_build

blueprint = Blueprint("dumps", __name__)
SERVED = {d.file: d.media_type for d in DISTRIBUTIONS} | {
    "SHA256SUMS": "text/plain; charset=utf-8",
    "void.ttl": "text/turtle",
}


@blueprint.get("/dumps/")
def index():
    build = current_build()
    return send_from_directory(build.dumps_dir, "void.ttl", mimetype="text/turtle")


@blueprint.get("/dumps/<name>")
def dump(name: str):
    if name not in SERVED:
        abort(404)
    build = current_build()
    return send_from_directory(build.dumps_dir, name, mimetype=SERVED[name], etag=True)
