"""The Flask app factory."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request

from treatygraph.core.config import Config
from treatygraph.store.remote import RemoteStoreError

from .builds import BuildHandle, NoBuild
from .catalog import Catalogs
from .release_cache import PAGES, page_cache
from .sparql.answers import ANSWERS, answer_cache


def create_app(config: Config | None = None, *, prerender: bool = False) -> Flask:
    """Create the app for a configuration (from the environment by default); with `prerender`,
    every entity page of each release is rendered as the release is opened (`serve` does)."""
    config = config or Config.from_env()
    config.check_query_limits()
    app = Flask(__name__)
    app.config["TREATYGRAPH"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_request_bytes
    if config.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client's address (per-client query limit) and the public host and scheme (links)
        # come from the proxies' headers; without trusted proxies the headers are ignored.
        hops = config.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    builds = BuildHandle(config)
    app.extensions["treatygraph.builds"] = builds
    for name, make in ((PAGES, page_cache), (ANSWERS, answer_cache)):
        cache = app.extensions[name] = make(config)
        builds.on_change(cache.follow)
    app.extensions["treatygraph.catalogs"] = Catalogs()

    from . import base_path, browse, dumps, health, linkeddata, pages, sources, sparql

    app.register_blueprint(base_path.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(sparql.blueprint)
    app.register_blueprint(dumps.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(linkeddata.blueprint)
    app.register_blueprint(browse.blueprint)
    app.register_blueprint(sources.blueprint)

    if prerender:
        from .prerender import prerender_on_open

        prerender_on_open(app)

    @app.before_request
    def host_required():
        # RFC 9112, 3.2: an HTTP/1.1 request without Host is answered 400.
        if (
            request.environ.get("SERVER_PROTOCOL") == "HTTP/1.1"
            and "HTTP_HOST" not in request.environ
        ):
            return Response(
                "bad request: HTTP/1.1 requires a Host header\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return None

    @app.errorhandler(NoBuild)
    def no_build(err: NoBuild):
        return jsonify(error="no build to serve yet", detail=str(err)), 503

    @app.errorhandler(RemoteStoreError)
    def store_unreachable(err: RemoteStoreError):
        app.logger.error("%s", err)
        return jsonify(error="the store could not answer; try again later", detail=str(err)), 503

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        from werkzeug.exceptions import HTTPException

        if isinstance(err, HTTPException):
            return err
        app.logger.exception("unhandled error")
        return jsonify(error="internal error; it has been logged"), 500

    return app


def serving_app() -> Flask:
    """The app as `treatygraph serve` runs it: entity pages rendered ahead of their visitors."""
    return create_app(prerender=True)
