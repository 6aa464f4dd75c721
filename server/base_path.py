"""The dataset's IRIs under their own path: `{base}` is `https://w3id.org/treatygraph`, so a user
who pastes the path of an IRI (`/treatygraph/id/organization/csto`) onto this server's address is
sent to the path the server answers (`/id/organization/csto`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request

from .builds import NoBuild, current_build

blueprint = Blueprint("base_path", __name__)


def base_path() -> str:
    """The path of the base IRI (`/treatygraph`), or "" when the base IRI has none."""
    try:
        base = current_build().ns.base
    except NoBuild:
        base = current_app.config["TREATYGRAPH"].base_iri
    return urlsplit(base).path.rstrip("/")


@blueprint.before_app_request
def strip_base_path():
    """A permanent redirect from `{base path}/…` to `/…`, for paths no route answers as they are
    (a base path such as `/id` must not shadow the server's own routes)."""
    if request.url_rule is not None:
        return None
    prefix = base_path()
    path = request.path
    if not prefix or not (path == prefix or path.startswith(prefix + "/")):
        return None
    # One leading slash only: `//host/x` or `/\host/x` is another site's address to a browser.
    target = "/" + path[len(prefix) :].lstrip("/\\")
    query = request.query_string.decode("latin-1")
    response = redirect(
        target + (f"?{query}" if query else ""),
        code=301 if request.method in ("GET", "HEAD") else 308,
    )
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
