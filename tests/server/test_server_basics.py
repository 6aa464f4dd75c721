"""The app factory, the health check and the dumps over a real build."""

import rdflib


def test_healthz_reports_version_and_triples(client, built):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["version"] == built.version
    assert response.json["triples"] == built.triples


def test_ask_over_http(live_server):
    import requests

    response = requests.get(
        f"{live_server.url}/sparql", params={"query": "ASK { ?s ?p ?o }"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["boolean"] is True


def test_dump_download_parses(client, built):
    response = client.get("/dumps/treatygraph.ttl")
    assert response.status_code == 200
    graph = rdflib.Graph().parse(data=response.data, format="turtle")
    assert len(graph) == built.triples


def test_unknown_dump_is_404(client):
    assert client.get("/dumps/../build.json").status_code == 404
    assert client.get("/dumps/nothing.ttl").status_code == 404
