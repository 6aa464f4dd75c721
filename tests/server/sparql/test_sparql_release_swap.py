"""A new build swapped in while the endpoint runs: query workers read the new release."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pyoxigraph as ox
import requests
from sparql_support import endpoint_server

from treatygraph.publish.build import INFO_FILE, STORE_DIR, current_release

MARK = ox.Quad(
    ox.NamedNode("https://example.org/swap-test"),
    ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
    ox.Literal("only in the second release"),
    ox.NamedNode("https://example.org/graph"),
)
ASK = 'ASK { ?s rdfs:label "only in the second release" }'


def _release_copy(source, target, extra=None):
    target.mkdir(parents=True)
    shutil.copy(source / INFO_FILE, target / INFO_FILE)
    store = ox.Store(str(target / STORE_DIR))
    old = ox.Store.read_only(str(source / STORE_DIR))
    store.extend(old.quads_for_pattern(None, None, None, None))
    if extra is not None:
        store.add(extra)
    store.flush()
    del store


def test_workers_follow_the_current_link(config, built, tmp_path):
    source = current_release(config)
    build_dir = tmp_path / "build"
    first, second = build_dir / "releases" / "first", build_dir / "releases" / "second"
    _release_copy(source, first)
    _release_copy(source, second, MARK)
    os.symlink("releases/first", build_dir / "current")
    swapped = dataclasses.replace(config, build_dir=build_dir)
    with endpoint_server(swapped, query_workers=2) as server:
        url = f"{server.url}/sparql"
        for _ in range(3):  # every worker has the first release open
            assert requests.get(url, params={"query": ASK}, timeout=10).json()["boolean"] is False
        os.symlink("releases/second", build_dir / "current.new")
        os.replace(build_dir / "current.new", build_dir / "current")
        for _ in range(4):
            assert requests.get(url, params={"query": ASK}, timeout=10).json()["boolean"] is True
