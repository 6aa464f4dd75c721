"""Endpoints serving the W3C suites' data (a pytest plugin, named in tests/conftest.py): the
project's server over its embedded store, and over `oxigraph serve` through the remote-store mode."""

from __future__ import annotations

import shutil

import pytest
from conftest import LiveServer, OxigraphServer
from w3c_support import (
    data_files,
    evaluation_tests,
    fill_store,
    require_suite,
    suite_ntriples,
    suite_release,
    w3c_iri,
)


@pytest.fixture(scope="session")
def suite_store(tmp_path_factory):
    """An Oxigraph store holding every data file the suites read, each a named graph; its folder
    and the graph names."""
    require_suite()
    location = tmp_path_factory.mktemp("w3c-data") / "store"
    return location, fill_store(location)


def _serve(config):
    from server.app import create_app
    from server.sparql import shutdown

    app = create_app(config)
    app.config["TESTING"] = True
    server = LiveServer(app).start()
    try:
        yield f"{server.url}/sparql"
    finally:
        server.stop()
        shutdown(app)


@pytest.fixture(scope="session")
def embedded_endpoint(suite_store, tmp_path_factory):
    """The /sparql URL of the project's server over a release whose embedded store holds the
    suites' data."""
    location, _ = suite_store
    yield from _serve(suite_release(tmp_path_factory.mktemp("w3c-embedded"), store=location))


@pytest.fixture(scope="session")
def oxigraph_store(suite_store, tmp_path_factory):
    """`oxigraph serve-read-only` over a copy of the suites' store."""
    location, names = suite_store
    copy = tmp_path_factory.mktemp("w3c-oxigraph") / "store"
    shutil.copytree(location, copy)
    server = OxigraphServer(copy)
    try:
        yield server, names
    finally:
        server.stop()


@pytest.fixture(scope="session")
def remote_endpoint(oxigraph_store, tmp_path_factory):
    """The /sparql URL of the project's server in the remote-store mode, reading `oxigraph
    serve` (the store's query service, our graphs named as a build names them)."""
    server, names = oxigraph_store
    remote = {"query": server.query_url, "graphs": names, "dialect": ""}
    yield from _serve(suite_release(tmp_path_factory.mktemp("w3c-remote"), remote=remote))


@pytest.fixture(scope="session")
def virtuoso_suite(virtuoso, tmp_path_factory):
    """The session's private Virtuoso holding the query suites' data, loaded by the project's
    own uploader (Graph Store Protocol PUTs, one per graph); (server, graph names)."""
    from treatygraph.store.remote import StoreEndpoints, StoreLoader

    require_suite()
    folder = tmp_path_factory.mktemp("w3c-virtuoso-load")
    endpoints = StoreEndpoints.from_urls(
        virtuoso.graph_store, credentials=(virtuoso.user, virtuoso.password)
    )
    loader = StoreLoader(endpoints)
    names = []
    for index, path in enumerate(data_files(evaluation_tests())):
        file = folder / f"{index}.nt"
        file.write_bytes(suite_ntriples(path))
        loader.put_graph(w3c_iri(path), file)
        names.append(w3c_iri(path))
    return virtuoso, names


@pytest.fixture(scope="session")
def virtuoso_endpoint(virtuoso_suite, tmp_path_factory):
    """The /sparql URL of the project's server in the remote-store mode over Virtuoso, read
    through its dialect."""
    server, names = virtuoso_suite
    remote = {"query": f"{server.url}/sparql", "graphs": names, "dialect": "virtuoso"}
    yield from _serve(suite_release(tmp_path_factory.mktemp("w3c-virtuoso"), remote=remote))
