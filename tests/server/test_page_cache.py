"""Pages and documents rendered once per release: the same bytes and headers as a fresh render."""

from __future__ import annotations

import dataclasses

import pytest
import rdflib

from server.release_cache import PAGES
from treatygraph.core.config import Config
from treatygraph.publish.build import _swap_current

SUFFIXES = ("html", "ttl", "nt", "jsonld", "rdf")
RDFLIB = {"ttl": "turtle", "nt": "nt", "jsonld": "json-ld", "rdf": "xml"}
MEDIA = {"html": "text/html", "ttl": "text/turtle", "jsonld": "application/ld+json"}


def _app(config: Config, **overrides):
    from server.app import create_app

    app = create_app(dataclasses.replace(config, **overrides))
    app.config["TESTING"] = True
    return app


@pytest.fixture(scope="module")
def cached(config, built):
    return _app(config)


@pytest.fixture(scope="module")
def fresh(config, built):
    """Renders everything each time: its page cache keeps nothing."""
    return _app(config, page_cache_mb=0)


def _entities(app) -> list[str]:
    from server.builds import current_build

    with app.app_context():
        build = current_build()
        rows = build.store.query(
            f"SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
            f'FILTER(STRSTARTS(STR(?s), "{build.ns.id}") && !CONTAINS(STR(?s), "#")) }}'
        )
        return sorted(row["s"].value[len(build.ns.id) :] for row in rows)


def _terms(app) -> list[str]:
    from server.catalog import catalog

    with app.test_request_context():
        cat = catalog()
        return [t.iri[len(cat.tg) :] for t in cat.own_terms()]


def _same(cached_client, fresh_client, path: str, headers: dict | None = None):
    """The response from the cache (asked twice: rendered, then kept) and a fresh render."""
    first = cached_client.get(path, headers=headers)
    kept = cached_client.get(path, headers=headers)
    rendered = fresh_client.get(path, headers=headers)
    assert rendered.status_code in (200, 304), path
    for response in (first, kept):
        assert response.status_code == rendered.status_code, path
        assert response.data == rendered.data, path
        assert sorted(response.headers.items()) == sorted(rendered.headers.items()), path
    return kept


@pytest.mark.slow
def test_every_page_and_document_is_the_fresh_render_byte_for_byte(cached, fresh):
    entities = _entities(cached)
    terms = _terms(cached)
    assert "organization/csto" in entities and len(entities) > 20 and terms
    paths = [f"/doc/{e}.{suffix}" for e in entities for suffix in SUFFIXES]
    paths += [f"/doc/ontology/{t}.{suffix}" for t in terms for suffix in SUFFIXES]
    paths += [f"/doc/ontology.{suffix}" for suffix in SUFFIXES]
    paths += ["/", "/dumps/", *(f"/.well-known/void?format={s}" for s in SUFFIXES)]
    cached_client, fresh_client = cached.test_client(), fresh.test_client()
    for path in paths:
        _same(cached_client, fresh_client, path)
    kept = cached.extensions[PAGES]
    assert len(kept) == len(paths) - 1, "/dumps/ and /.well-known/void?format=html are one page"
    assert len(fresh.extensions[PAGES]) == 0
    # Negotiated, revalidated: the same kept bodies with their own headers.
    for entity in ("organization/csto", "state/armenia", "membership/armenia-csto"):
        for media in MEDIA.values():
            response = _same(cached_client, fresh_client, f"/doc/{entity}", {"Accept": media})
            assert response.headers["Content-Location"].startswith(f"/doc/{entity}.")
            etag = response.headers["ETag"]
            _same(cached_client, fresh_client, f"/doc/{entity}", {"If-None-Match": etag})
    assert len(kept) == len(paths) - 1


@pytest.mark.parametrize("suffix", sorted(RDFLIB))
def test_kept_rdf_documents_parse(cached, built, suffix):
    client = cached.test_client()
    client.get(f"/doc/organization/csto.{suffix}")
    response = client.get(f"/doc/organization/csto.{suffix}")
    graph = rdflib.Graph().parse(data=response.data, format=RDFLIB[suffix])
    csto = rdflib.URIRef(f"{built.base_iri}/id/organization/csto")
    assert (csto, rdflib.RDFS.label, None) in graph


def test_the_service_description_is_kept_per_host(cached, fresh):
    client = cached.test_client()
    turtle = {"Accept": "text/turtle"}
    first = client.get("/sparql", headers=turtle)
    again = client.get("/sparql", headers=turtle)
    assert again.data == first.data
    described = rdflib.Graph().parse(data=again.data, format="turtle")
    rendered = rdflib.Graph().parse(data=fresh.test_client().get("/sparql", headers=turtle).data)
    assert rdflib.compare.isomorphic(described, rendered)
    other = client.get("/sparql", headers=turtle, base_url="http://mirror.example:8000")
    assert b"http://mirror.example:8000/sparql" in other.data
    assert b"http://mirror.example:8000/sparql" not in first.data


def test_pages_are_kept_per_public_root(cached):
    """Pages link their stylesheet under the path the application is mounted at, and the home
    page says how IRIs map to the host it was asked on."""
    client = cached.test_client()
    for _ in range(2):
        plain = client.get("/doc/state/armenia.html").data
        mounted = client.get("/doc/state/armenia.html", base_url="http://localhost/tg/").data
        assert b'href="/static/site.css"' in plain
        assert b'href="/tg/static/site.css"' in mounted
        home = client.get("/").data
        mirrored = client.get("/", base_url="https://mirror.example:8443/").data
        assert b"<code>http://localhost/id/" in home
        assert b"<code>https://mirror.example:8443/id/" in mirrored


def test_the_page_cache_is_bounded(config, built, fresh):
    small = _app(config, page_cache_mb=1)
    entities = _entities(small)
    client, fresh_client = small.test_client(), fresh.test_client()
    total = 0
    for entity in entities:
        response = client.get(f"/doc/{entity}.html")
        total += len(response.data)
    kept = small.extensions[PAGES]
    assert total > 2 << 20, "the pages together are larger than the cache"
    assert 0 < kept.size <= 1 << 20
    assert 0 < len(kept) < len(entities)
    for entity in entities[:5] + entities[-5:]:  # the oldest were dropped, the newest kept
        _same(client, fresh_client, f"/doc/{entity}.html")


def test_pages_of_a_replaced_release_are_forgotten(config, two_releases):
    swapped, _, second = two_releases
    app = _app(config, build_dir=swapped.build_dir)
    client = app.test_client()
    kept = app.extensions[PAGES]
    pages = ["/doc/organization/csto.html", "/doc/state/armenia.ttl", "/"]
    before = [client.get(path).data for path in pages]
    assert len(kept) == 3
    _swap_current(swapped, second)
    assert client.get(pages[0]).data == before[0]
    assert len(kept) == 1, "the first release's pages are gone"
    assert [client.get(path).data for path in pages] == before
