"""Remote-store mode: `treatygraph build --store URL` loads a real `oxigraph serve` process through
the Graph Store Protocol, and the same server (endpoint, pages, dumps, Wikidata view) reads it."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import time
from collections import Counter

import pyoxigraph as ox
import pytest
import rdflib
import requests
from click.testing import CliRunner
from conftest import OxigraphServer
from rdflib.compare import isomorphic
from reliability_support import cli_env
from sparql_support import WIKIDATA, endpoint_server

from treatygraph.cli.commands import main
from treatygraph.core.config import PROJECT_ROOT
from treatygraph.publish.build import STORE_DIR, build, current_release
from treatygraph.store.opening import open_store
from treatygraph.store.remote import (
    STAGING_PREFIX,
    RemoteStore,
    RemoteStoreError,
    StoreEndpoints,
    StoreLoader,
)

QUERIES = sorted((PROJECT_ROOT / "queries").glob("*.rq"))
OTHER_GRAPH = "http://example.org/someone-elses-data"
CSTO_DOC = "/doc/organization/csto"


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory):
    """A writable Oxigraph server that already holds somebody else's graph."""
    server = OxigraphServer(tmp_path_factory.mktemp("remote-store"), writable=True, timeout_s=5)
    endpoints = StoreEndpoints.from_urls(f"{server.url}/store")
    StoreLoader(endpoints).update(
        f"INSERT DATA {{ GRAPH <{OTHER_GRAPH}> {{ <http://example.org/x> <http://example.org/p> 1 }} }}"
    )
    server.endpoints = endpoints
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote_config(tmp_path_factory, config, oxigraph):
    remote = dataclasses.replace(config, build_dir=tmp_path_factory.mktemp("remote-build"))
    build(remote, remote=[oxigraph.endpoints])
    return remote


@pytest.fixture(scope="module")
def servers(config, built, remote_config, wikidata_mirror):
    """Our server over the local build and over the remote one, side by side."""
    mirrors = {WIKIDATA: wikidata_mirror}
    with (
        endpoint_server(config, service_mirrors=mirrors) as local,
        endpoint_server(remote_config, service_mirrors=mirrors) as remote,
    ):
        yield local.url, remote.url


def _bindings(base: str, query: str) -> Counter:
    response = requests.post(
        f"{base}/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return Counter(
        json.dumps(row, sort_keys=True) for row in response.json()["results"]["bindings"]
    )


def _graph(response: requests.Response, fmt: str) -> rdflib.Graph:
    assert response.status_code == 200, response.text
    return rdflib.Graph().parse(data=response.content, format=fmt)


def test_the_release_points_at_the_remote_store_and_keeps_no_copy(remote_config, oxigraph):
    release = current_release(remote_config)
    assert not (release / STORE_DIR).exists()
    info = json.loads((release / "build.json").read_text())
    assert info["store"]["query"] == f"{oxigraph.url}/query"
    assert isinstance(open_store(release), RemoteStore)


def test_every_graph_in_the_remote_store_is_the_local_builds(config, built, remote_config):
    local = open_store(current_release(config))
    remote = open_store(current_release(remote_config))
    graphs = json.loads((current_release(remote_config) / "build.json").read_text())["store"]
    for graph in graphs["graphs"]:
        name = ox.NamedNode(graph)
        local_triples = rdflib.Graph().parse(
            data=local.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=name), format="nt"
        )
        remote_triples = rdflib.Graph().parse(
            data=ox.serialize(
                (q.triple for q in remote.quads_for_pattern(None, None, None, name)),
                format=ox.RdfFormat.N_TRIPLES,
            ),
            format="nt",
        )
        assert len(local_triples) > 0
        assert isomorphic(local_triples, remote_triples), graph


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_every_example_query_answers_the_same_from_the_remote_store(servers, path):
    local, remote = servers
    text = path.read_text(encoding="utf-8")
    assert _bindings(remote, text) == _bindings(local, text)


def test_someone_elses_graph_in_the_store_stays_out_of_every_answer(servers):
    _, remote = servers
    graphs = _bindings(remote, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert graphs and all(OTHER_GRAPH not in row for row in graphs)
    assert not _bindings(remote, "SELECT * WHERE { <http://example.org/x> ?p ?o }")


@pytest.mark.parametrize("suffix,fmt", [("ttl", "turtle"), ("nt", "nt"), ("jsonld", "json-ld")])
def test_entity_documents_are_the_same_graph_from_the_remote_store(servers, suffix, fmt):
    local, remote = servers
    ours = _graph(requests.get(f"{local}{CSTO_DOC}.{suffix}", timeout=30), fmt)
    theirs = _graph(requests.get(f"{remote}{CSTO_DOC}.{suffix}", timeout=30), fmt)
    assert len(ours) > 20
    assert isomorphic(ours, theirs)


def test_entity_page_and_construct_from_the_remote_store(servers):
    _, remote = servers
    page = requests.get(f"{remote}{CSTO_DOC}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    assert "Collective Security Treaty Organization" in page.text
    construct = requests.get(
        f"{remote}/sparql",
        params={"query": "DESCRIBE <https://w3id.org/treatygraph/id/organization/csto>"},
        headers={"Accept": "text/turtle"},
        timeout=30,
    )
    assert len(_graph(construct, "turtle")) > 10


def test_dumps_are_served_with_their_checksums(servers, remote_config):
    _, remote = servers
    sums = requests.get(f"{remote}/dumps/SHA256SUMS", timeout=30)
    assert sums.status_code == 200
    expected = dict(line.split()[::-1] for line in sums.text.splitlines())
    body = requests.get(f"{remote}/dumps/treatygraph.nt.gz", timeout=30).content
    assert hashlib.sha256(body).hexdigest() == expected["treatygraph.nt.gz"]
    info = json.loads((current_release(remote_config) / "build.json").read_text())
    assert len(gzip.decompress(body).splitlines()) == info["triples"]


def test_endpoint_limits_hold_on_the_remote_store(remote_config):
    with endpoint_server(remote_config, max_result_rows=5) as server:
        response = requests.get(
            f"{server.url}/sparql",
            params={"query": "SELECT * WHERE { ?s ?p ?o }"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["results"]["bindings"]) == 5
        assert body["treatygraph:cut"]["rows"] == 5
        bad = requests.get(f"{server.url}/sparql", params={"query": "SELECT * {"}, timeout=30)
        assert bad.status_code == 400
        assert "line 1" in bad.text


def test_a_runaway_query_is_answered_504_on_time_and_the_endpoint_goes_on(remote_config):
    runaway = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?a ?d ?g"
    with endpoint_server(remote_config, query_timeout=2.0) as server:
        started = time.monotonic()
        response = requests.get(f"{server.url}/sparql", params={"query": runaway}, timeout=30)
        assert response.status_code == 504
        assert time.monotonic() - started < 6
        after = requests.get(
            f"{server.url}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=30
        )
        assert after.status_code == 200
        assert "true" in after.text


def test_an_unreachable_store_is_a_clear_503_and_502(tmp_path_factory, config):
    down = dataclasses.replace(config, build_dir=tmp_path_factory.mktemp("down-build"))
    store = OxigraphServer(tmp_path_factory.mktemp("down-store"), writable=True)
    try:
        build(down, remote=[StoreEndpoints.from_urls(f"{store.url}/store")])
    finally:
        store.stop()
    with endpoint_server(down) as server:
        health = requests.get(f"{server.url}/healthz", timeout=30)
        assert health.status_code == 503
        assert store.url in health.json()["detail"]
        page = requests.get(f"{server.url}{CSTO_DOC}.ttl", timeout=30)
        assert page.status_code == 503
        query = requests.get(f"{server.url}/sparql", params={"query": "ASK {}"}, timeout=30)
        assert query.status_code == 502
        assert store.url in query.text


def test_a_failed_upload_leaves_the_served_graphs_and_no_staging_graph(oxigraph, tmp_path):
    graph = "https://example.org/graph/kept"
    loader = StoreLoader(oxigraph.endpoints)
    first, second = tmp_path / "first.nt", tmp_path / "second.nt"
    first.write_text('<http://example.org/a> <http://example.org/b> "old" .\n')
    loader.replace_graphs([(graph, first)], "r1")
    second.write_text('<http://example.org/a> <http://example.org/b> "new" .\n')
    broken = StoreLoader(dataclasses.replace(oxigraph.endpoints, update="http://127.0.0.1:1/"))
    with pytest.raises(RemoteStoreError, match=r"127\.0\.0\.1:1"):
        broken.replace_graphs([(graph, second)], "r2")
    loader.update(f"DROP SILENT GRAPH <{STAGING_PREFIX}r2:{graph}>")  # what `broken` could not
    store = RemoteStore(oxigraph.endpoints.query, [graph])
    values = [q.object.value for q in store.quads_for_pattern(None, None, None, None)]
    assert values == ["old"]
    everything = RemoteStore(oxigraph.endpoints.query, [])
    names = everything.query(
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }", named_graphs=None
    )
    assert not [s for s in names if s["g"].value.startswith(STAGING_PREFIX)]


def test_a_build_that_cannot_reach_the_store_keeps_the_last_good_build(inputs_copy):
    build(inputs_copy)
    before = current_release(inputs_copy)
    result = CliRunner().invoke(
        main, ["build", "--quiet", "--store", "http://127.0.0.1:1/store"], env=cli_env(inputs_copy)
    )
    assert result.exit_code == 1
    assert "last good build is still in place" in result.output
    assert "127.0.0.1:1" in result.output
    assert current_release(inputs_copy) == before


@pytest.mark.parametrize(
    "args,message",
    [
        (["--store", "ftp://host/store"], "--store 'ftp://host/store' is not an http(s) URL"),
        (["--store", "http://host/sparql"], "give --store-query and --store-update"),
        (["--store-query", "http://host/query"], "need --store"),
    ],
)
def test_store_options_are_checked_before_anything_is_built(inputs_copy, args, message):
    result = CliRunner().invoke(main, ["build", *args], env=cli_env(inputs_copy))
    assert result.exit_code == 2
    assert message in result.output
    assert current_release(inputs_copy) is None


def test_credentials_go_in_the_environment_never_in_a_url(inputs_copy):
    env = cli_env(inputs_copy)
    in_url = CliRunner().invoke(
        main, ["build", "--store", "http://tg:s3cret@host/sparql-graph-crud-auth"], env=env
    )
    assert in_url.exit_code == 2
    assert "TREATYGRAPH_STORE_USER" in in_url.output
    assert "s3cret" not in in_url.output
    half = CliRunner().invoke(
        main,
        ["build", "--store", "http://host/store"],
        env={**env, "TREATYGRAPH_STORE_PASSWORD": "s3cret"},
    )
    assert half.exit_code == 2
    assert "TREATYGRAPH_STORE_PASSWORD is set but TREATYGRAPH_STORE_USER is not" in half.output
    assert current_release(inputs_copy) is None


def test_store_services_are_found_for_oxigraph_fuseki_and_virtuoso():
    oxigraph = StoreEndpoints.from_urls("http://h:7878/store")
    assert (oxigraph.query, oxigraph.update) == ("http://h:7878/query", "http://h:7878/update")
    fuseki = StoreEndpoints.from_urls("http://h:3030/ds/data")
    assert (fuseki.query, fuseki.update) == ("http://h:3030/ds/query", "http://h:3030/ds/update")
    virtuoso = StoreEndpoints.from_urls("http://h:8890/sparql-graph-crud-auth")
    assert (virtuoso.query, virtuoso.update) == (
        "http://h:8890/sparql",
        "http://h:8890/sparql-auth",
    )
    given = StoreEndpoints.from_urls("http://v/crud", "http://v/sparql", "http://v/sparql")
    assert (given.query, given.update) == ("http://v/sparql", "http://v/sparql")


def test_kept_quads_of_a_subject_answer_each_pattern_as_the_embedded_store(
    config, built, remote_config
):
    local = open_store(current_release(config))
    remote = open_store(current_release(remote_config))
    csto = ox.NamedNode("https://w3id.org/treatygraph/id/organization/csto")
    whole = list(remote.quads_for_pattern(csto, None, None, None))
    assert len(whole) > 10
    for quad in whole:
        for pattern in (
            (csto, quad.predicate, None, None),
            (csto, None, quad.object, None),
            (csto, quad.predicate, quad.object, quad.graph_name),
            (csto, quad.predicate, None, ox.NamedNode("https://example.org/no-such-graph")),
        ):
            assert set(remote.quads_for_pattern(*pattern)) == set(
                local.quads_for_pattern(*pattern)
            ), pattern
