"""Entity pages rendered ahead of their first visitor: when a release is opened, a thread of the
web process renders every record's HTML page into the page cache, so a first visit costs what a
revisit costs. It stops when the cache is three quarters full (a larger build keeps rendering on
first visits) or when another release is opened."""

from __future__ import annotations

import threading

from flask import Flask

from .builds import OpenBuild, current_build
from .catalog import catalog
from .release_cache import room_left

FILL = 0.75  # the page cache's share that pre-rendering may take


def prerender_on_open(app: Flask) -> None:
    """Render every entity page of each release the app opens; open the current one now."""
    builds = app.extensions["treatygraph.builds"]

    def start(build: OpenBuild) -> None:
        threading.Thread(target=prerender, args=(app, build), daemon=True).start()

    builds.on_change(start)

    def open_current() -> None:
        try:
            builds.get()
        except Exception:  # no build yet, or a store not answering: the first request will say
            return

    threading.Thread(target=open_current, daemon=True).start()


def prerender(app: Flask, build: OpenBuild) -> int:
    """Render the HTML page of every record of `build` into the page cache; how many it did."""
    from .linkeddata import entity_document

    with app.test_request_context("/"):
        if current_build() is not build:
            return 0
        paths = [catalog().href(iri) for iri in catalog().entities]
    done = 0
    for path in sorted(p for p in paths if p):
        document = path.replace("/id/", "/doc/", 1) + ".html"
        with app.test_request_context(document):
            if current_build() is not build or not room_left(FILL):
                break
            kind, name = document.split("/")[2:4]
            entity_document(kind, name)
        done += 1
    return done
