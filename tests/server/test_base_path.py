"""The dataset's IRIs resolve on a local server under their own path too (issue 14, item 2).

The data mints `https://w3id.org/treatygraph/id/…`; a user of `make run` who pastes the path of
such an IRI onto the local address (`/treatygraph/id/organization/csto`) is redirected to the path
the server answers (`/id/organization/csto`). The home page says in one line how the IRIs map to
this server, and every IRI it shows parses with rdflib against the local server, both ways.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import rdflib
import requests

IRI_PATHS = ("/id/", "/ontology/")


class _Shown(HTMLParser):
    """The links of a page and the text of its `p.iri-map` line."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.iri_map = ""
        self._in_map = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "p" and attrs.get("class") == "iri-map":
            self._in_map = True

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_map = False

    def handle_data(self, data):
        if self._in_map:
            self.iri_map += data


@pytest.fixture(scope="module")
def home(live_server) -> _Shown:
    response = requests.get(f"{live_server.url}/", timeout=30)
    assert response.status_code == 200
    shown = _Shown()
    shown.feed(response.text)
    return shown


@pytest.fixture(scope="module")
def base_path(built) -> str:
    path = urlsplit(built.base_iri).path
    assert path, "the default base IRI has a path (/treatygraph): this is what is tested"
    return path


def test_home_page_says_how_the_iris_map_to_this_server(home, built, live_server, base_path):
    line = " ".join(home.iri_map.split())
    assert f"{built.base_iri}/id/…" in line, line
    assert f"{live_server.url}/id/…" in line, line
    assert f"{live_server.url}{base_path}/id/…" in line, line


def test_iri_path_under_the_base_path_redirects_to_the_served_path(live_server, base_path):
    response = requests.get(
        f"{live_server.url}{base_path}/id/organization/csto?format=ttl",
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/id/organization/csto?format=ttl")
    followed = requests.get(
        f"{live_server.url}{base_path}/id/organization/csto",
        headers={"Accept": "text/turtle"},
        timeout=30,
    )
    assert followed.status_code == 200
    assert followed.url.endswith("/doc/organization/csto.ttl")


def test_unknown_path_under_the_base_path_is_still_a_404(live_server, base_path):
    response = requests.get(f"{live_server.url}{base_path}/id/state/atlantis", timeout=30)
    assert response.status_code == 404


def test_every_iri_on_the_home_page_parses_with_rdflib_locally(home, built, live_server, base_path):
    """rdflib.Graph().parse() on each IRI the home page links to, at the local address and at
    the local address with the base IRI's path, gives triples about the canonical IRI."""
    iris = sorted({link for link in home.links if link.startswith(IRI_PATHS)})
    assert len(iris) >= 20, iris
    for path in iris:
        canonical = rdflib.URIRef(built.base_iri + path)
        for local in (f"{live_server.url}{path}", f"{live_server.url}{base_path}{path}"):
            graph = rdflib.Graph().parse(local)
            assert (canonical, None, None) in graph, f"{local} says nothing about {canonical}"


@pytest.mark.parametrize("path", ["/treatygraph//evil.example/x", "/treatygraph/\\evil.example/x"])
def test_canonical_path_redirect_stays_on_the_site(client, path):
    response = client.get(path)
    assert response.status_code == 301
    location = response.headers["Location"]
    assert location == "/evil.example/x"
    assert not urlsplit(location).netloc
