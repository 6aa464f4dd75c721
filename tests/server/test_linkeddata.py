"""Dereferenceable IRIs and pages: content negotiation, caching headers, RDF that parses, pages that read."""

from __future__ import annotations

import hashlib
import re
import threading
import urllib.parse
from html.parser import HTMLParser

import pytest
import rdflib
from conftest import free_port
from markupsafe import escape
from rdflib.namespace import OWL, RDFS, VOID
from werkzeug.serving import make_server

from treatygraph.core.config import Config
from treatygraph.publish.build import build

RDF_MEDIA = {
    "ttl": ("text/turtle", "turtle"),
    "nt": ("application/n-triples", "nt"),
    "jsonld": ("application/ld+json", "json-ld"),
    "rdf": ("application/rdf+xml", "xml"),
}
CSTO = "organization/csto"
ARMENIA = "state/armenia"
TG = "https://w3id.org/treatygraph/ontology/"


def iri(built, record: str) -> rdflib.URIRef:
    return rdflib.URIRef(f"{built.base_iri}/id/{record}")


def parse(response, fmt: str, base: str = "http://localhost/") -> rdflib.Graph:
    return rdflib.Graph().parse(data=response.data, format=fmt, publicID=base)


# -- content negotiation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "suffix"),
    [
        ("text/html", "html"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
        ("*/*", "html"),
        ("text/turtle", "ttl"),
        ("application/n-triples", "nt"),
        ("application/ld+json", "jsonld"),
        ("application/rdf+xml", "rdf"),
        ("text/turtle;q=0.5, application/ld+json", "jsonld"),
        (
            "application/rdf+xml, text/n3, text/turtle, application/n-triples, application/ld+json",
            "ttl",
        ),
    ],
)
def test_entity_iri_answers_303_to_the_asked_format(client, accept, suffix):
    response = client.get(f"/id/{CSTO}", headers={"Accept": accept})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/doc/{CSTO}.{suffix}")
    assert "Accept" in response.headers["Vary"]
    assert f'</doc/{CSTO}.ttl>; rel="alternate"; type="text/turtle"' in response.headers["Link"]


def test_format_parameter_overrides_accept(client):
    response = client.get(f"/id/{ARMENIA}?format=jsonld", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/doc/{ARMENIA}.jsonld")
    bad = client.get(f"/id/{ARMENIA}?format=docx")
    assert bad.status_code == 400
    assert "docx" in bad.get_data(as_text=True)


@pytest.mark.parametrize("suffix", sorted(RDF_MEDIA))
def test_every_rdf_document_parses_with_the_entity_claims_and_links(client, built, suffix):
    media, rdflib_format = RDF_MEDIA[suffix]
    response = client.get(f"/doc/{CSTO}.{suffix}")
    assert response.status_code == 200
    assert response.mimetype == media
    graph = parse(response, rdflib_format)
    csto = iri(built, CSTO)
    assert (
        csto,
        RDFS.label,
        rdflib.Literal("Collective Security Treaty Organization", lang="en"),
    ) in graph
    claims = set(graph.subjects(rdflib.URIRef(TG + "claimAbout"), csto))
    assert claims, "the claims about the entity are in its document"
    for claim in claims:
        assert graph.value(claim, rdflib.URIRef(TG + "quote")) is not None
        source = graph.value(claim, rdflib.URIRef("http://www.w3.org/ns/prov#wasQuotedFrom"))
        assert graph.value(source, RDFS.label) is not None, "sources come with their labels"
    same = set(graph.objects(csto, OWL.sameAs))
    assert any(str(s).startswith("http://www.wikidata.org/entity/Q") for s in same)


@pytest.mark.parametrize("suffix", sorted(RDF_MEDIA))
def test_suffix_on_the_iri_redirects_to_that_format(client, suffix):
    response = client.get(f"/id/{ARMENIA}.{suffix}", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/doc/{ARMENIA}.{suffix}")


@pytest.mark.parametrize("suffix", sorted(RDF_MEDIA))
def test_document_without_suffix_negotiates_and_says_where_it_lives(client, built, suffix):
    media, rdflib_format = RDF_MEDIA[suffix]
    response = client.get(f"/doc/{ARMENIA}", headers={"Accept": media})
    assert response.status_code == 200
    assert response.mimetype == media
    assert response.headers["Content-Location"] == f"/doc/{ARMENIA}.{suffix}"
    assert "Accept" in response.headers["Vary"]
    graph = parse(response, rdflib_format)
    assert (iri(built, ARMENIA), None, None) in graph


def test_document_includes_fragments_and_labels_of_linked_things(client, built):
    response = client.get("/doc/membership/armenia-csto.ttl")
    graph = parse(response, "turtle")
    membership = iri(built, "membership/armenia-csto")
    interval = rdflib.URIRef(f"{membership}#interval")
    time = rdflib.Namespace("http://www.w3.org/2006/time#")
    assert (membership, rdflib.URIRef("http://www.w3.org/ns/org#memberDuring"), interval) in graph
    start = graph.value(interval, time.hasBeginning)
    assert str(graph.value(start, time.inXSDDate)) == "2002-05-14"
    assert graph.value(iri(built, ARMENIA), RDFS.label) is not None
    assert graph.value(iri(built, CSTO), RDFS.label) is not None


def test_document_describes_itself(client, built):
    graph = parse(client.get(f"/doc/{ARMENIA}.ttl"), "turtle")
    foaf = rdflib.Namespace("http://xmlns.com/foaf/0.1/")
    doc = graph.value(None, foaf.primaryTopic, iri(built, ARMENIA))
    assert doc is not None
    assert (doc, VOID.inDataset, rdflib.URIRef(f"{built.base_iri}/dataset")) in graph


# -- caching ------------------------------------------------------------------------------------------
def test_etag_and_last_modified_give_304(client):
    first = client.get(f"/doc/{CSTO}.ttl")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified
    again = client.get(f"/doc/{CSTO}.ttl", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    since = client.get(f"/doc/{CSTO}.ttl", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    stale = client.get(f"/doc/{CSTO}.ttl", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    html = client.get(f"/doc/{CSTO}.html")
    assert html.headers["ETag"] != etag, "each representation has its own ETag"
    negotiated = client.get(
        f"/doc/{CSTO}", headers={"Accept": "text/turtle", "If-None-Match": etag}
    )
    assert negotiated.status_code == 304


def test_link_header_lists_every_alternate(client):
    response = client.get(f"/doc/{ARMENIA}.html")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    links = response.headers["Link"]
    for suffix, (media, _) in RDF_MEDIA.items():
        assert f'</doc/{ARMENIA}.{suffix}>; rel="alternate"; type="{media}"' in links


# -- not found ----------------------------------------------------------------------------------------
def test_unknown_entity_is_a_helpful_404(client):
    response = client.get("/id/state/armenya", headers={"Accept": "text/html"})
    assert response.status_code == 404
    text = response.get_data(as_text=True)
    assert "Not in this dataset" in text
    assert f'href="/id/{ARMENIA}"' in text, "suggests the entity the slug resembles"
    machine = client.get("/id/state/armenya", headers={"Accept": "text/turtle"})
    assert machine.status_code == 404
    assert machine.mimetype == "text/plain"
    assert client.get("/doc/state/armenya.ttl").status_code == 404
    assert client.get(f"/doc/{ARMENIA}.docx").status_code == 404
    assert client.get("/ontology/NoSuchTerm").status_code == 404


# -- every IRI resolves ---------------------------------------------------------------------------------
def _entities(app) -> list[str]:
    from server.builds import current_build

    with app.app_context():
        store = current_build().store
        base = current_build().ns.id
        rows = store.query(
            f"SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
            f'FILTER(STRSTARTS(STR(?s), "{base}") && !CONTAINS(STR(?s), "#")) }}'
        )
        return sorted(row["s"].value[len(base) :] for row in rows)


def test_every_entity_has_a_page_and_a_turtle_document(app, client, built):
    entities = _entities(app)
    assert f"{CSTO}" in entities and len(entities) > 20
    for record in entities:
        redirect = client.get(f"/id/{record}", headers={"Accept": "text/html"})
        assert redirect.status_code == 303, record
        page = client.get(f"/doc/{record}.html")
        assert page.status_code == 200, record
        assert "<h1>" in page.get_data(as_text=True)
        graph = parse(client.get(f"/doc/{record}.ttl"), "turtle")
        assert (iri(built, record), None, None) in graph, record


def test_every_ontology_term_resolves(app, client, built):
    from server.catalog import catalog

    with app.test_request_context():
        terms = [t.iri for t in catalog().own_terms()]
    tg = f"{built.base_iri}/ontology/"
    assert f"{tg}InternationalOrganization" in terms
    for term in terms:
        name = term[len(tg) :]
        redirect = client.get(f"/ontology/{name}", headers={"Accept": "text/turtle"})
        assert redirect.status_code == 303, name
        assert redirect.headers["Location"].endswith(f"/doc/ontology/{name}.ttl")
        graph = parse(client.get(f"/doc/ontology/{name}.ttl"), "turtle")
        assert (rdflib.URIRef(term), None, None) in graph, name
        assert client.get(f"/doc/ontology/{name}.html").status_code == 200, name


def test_the_ontology_iri_resolves_to_the_whole_ontology(client, built):
    response = client.get("/ontology/", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    graph = parse(client.get(response.headers["Location"]), "turtle")
    assert (rdflib.URIRef(f"{built.base_iri}/ontology/"), None, OWL.Ontology) in graph
    page = client.get("/doc/ontology", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "international organization" in page and "Q484652" in page


# -- rdflib dereferences IRIs against a real server whose base IRI is its own address ----------------
@pytest.fixture(scope="module")
def own_base_server(tmp_path_factory):
    """A build whose base IRI is the address of the server that serves it."""
    from server.app import create_app

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = Config.from_env(build_dir=tmp_path_factory.mktemp("own-base"), base_iri=base)
    build(config)
    server = make_server("127.0.0.1", port, create_app(config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.parametrize("record", [CSTO, ARMENIA, "membership/armenia-csto"])
def test_rdflib_parses_the_entity_iri(own_base_server, record):
    entity = rdflib.URIRef(f"{own_base_server}/id/{record}")
    graph = rdflib.Graph().parse(str(entity))
    assert (entity, None, None) in graph
    for fmt in ("turtle", "xml", "json-ld", "nt"):
        assert (entity, None, None) in rdflib.Graph().parse(str(entity), format=fmt), fmt


def test_rdflib_parses_an_ontology_term(own_base_server):
    term = rdflib.URIRef(f"{own_base_server}/ontology/InternationalOrganization")
    graph = rdflib.Graph().parse(str(term))
    assert (term, RDFS.label, None) in graph


# -- pages ------------------------------------------------------------------------------------------------
def test_home_page(client, built):
    text = client.get("/").get_data(as_text=True)
    assert built.version in text and built.built_at.replace("T", " ").replace("Z", " UTC") in text
    assert 'action="/search"' in text
    assert 'href="/dumps/"' in text and 'href="/doc/ontology"' in text
    assert "creativecommons.org/licenses/by/4.0" in text
    assert re.search(
        r"international organization</a></td><td class=\"num\"><a href=\"/browse/organizations\""
        r" title=\"list them\">\d+</a>",
        text,
    )
    assert 'href="/id/organization/csto"' in text


def test_home_links_every_example_query_into_the_editor(client, config):
    """`/sparql#query=…` opens the editor with the query in it (a `?query=` would run it instead)."""
    from server.sparql.description import read_examples

    text = client.get("/").get_data(as_text=True)
    examples = read_examples(config.queries_dir)
    assert examples
    for example in examples:
        link = "/sparql#query=" + urllib.parse.quote(example.query, safe="/")
        assert f'href="{link}"' in text, example.name
        assert str(escape(example.question)) in text


def test_organization_page_draws_the_membership_timeline(client):
    text = client.get(f"/doc/{CSTO}.html").get_data(as_text=True)
    svg = text[
        text.index('<svg class="timeline-svg"') : text.index("</svg>", text.index("timeline-svg"))
    ]
    assert (
        "<title" in svg and "Membership timeline of Collective Security Treaty Organization" in svg
    )
    assert 'href="/id/state/armenia"' in svg
    assert "Armenia: member" in svg, "each bar has a title saying who, what and when"
    years = [int(y) for y in re.findall(r'text-anchor="middle">(\d{4})</text>', svg)]
    assert years and min(years) <= 2002 < max(years), "years on the axis"
    assert 'class="legend"' in text
    table = text[text.index("The timeline as a table") :]
    assert 'class="member" href="/id/state/armenia"' in table
    assert "14 May 2002" in table


def test_entity_page_shows_statements_sources_quotes_and_inverse_links(client):
    text = client.get(f"/doc/{ARMENIA}.html").get_data(as_text=True)
    assert "<h1>Armenia</h1>" in text
    assert "Armenia is a founding member of the CSTO." in text
    assert "wikidata.org/entity/Q399" in text
    assert "memberships" in text and 'href="/id/membership/armenia-csto"' in text
    membership = client.get("/doc/membership/armenia-csto.html").get_data(as_text=True)
    assert "since 14 May 2002" in membership
    assert "supports: " in membership


def test_source_page_lists_the_claims_quoting_it(client):
    text = client.get("/doc/source/csto-2019-russia-chairmanship.html").get_data(as_text=True)
    assert "Claims quoting this source" in text
    assert "Armenia is a founding member of the CSTO." in text
    assert "publisher" in text


def test_meeting_page_lists_participants_with_whom_they_represent(app, client):
    from server.builds import current_build

    with app.app_context():
        rows = list(
            current_build().store.query(
                "PREFIX tg: <https://w3id.org/treatygraph/ontology/> SELECT ?m WHERE { "
                "?m tg:participation/tg:represents ?state } LIMIT 1",
                use_default_graph_as_union=True,
            )
        )
    if not rows:
        pytest.skip("no meeting with participants in the data yet")
    path = rows[0]["m"].value.split("/id/", 1)[1]
    text = client.get(f"/doc/{path}.html").get_data(as_text=True)
    assert '<th scope="col">participant</th>' in text and '<th scope="col">represents</th>' in text


def test_dates_show_their_precision_and_inference(client):
    text = client.get("/doc/source/csto-2019-russia-chairmanship.html").get_data(as_text=True)
    assert re.search(
        r'<span class="date">(January|February|March|April|May|June|July|August|September|October|November|December) \d{4}</span>',
        text,
    )
    assert 'class="inferred"' in text


def test_a_value_only_inferences_support_is_marked_inferred_with_its_rule(client):
    """The European Council's parent organization is general knowledge, kept as an inference: the
    link to the EU carries the marker and the rule, as an inferred date does."""
    text = client.get("/doc/body/european-council.html").get_data(as_text=True)
    marked = re.search(
        r'<a href="[^"]*/organization/eu[^"]*">[^<]*</a><details class="inference"><summary>'
        r'<span class="inferred">inferred</span>.*?</summary><p>([^<]*)</p>',
        text,
    )
    assert marked, "the link to the European Union is not marked inferred"
    assert "general knowledge" in marked.group(1)


def test_ontology_term_page(client):
    text = client.get("/doc/ontology/signatory.html").get_data(as_text=True)
    assert "signatory" in text and "A state that signed the instrument." in text
    assert "P1891" in text, "Wikidata alignment"
    assert "domain" in text and "range" in text and "uses in the data" in text


# -- search -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["armenia", "ARMENIA", "Arménia", "republic of arm"])
def test_search_is_case_and_accent_insensitive(client, built, query):
    response = client.get("/search", query_string={"q": query, "format": "json"})
    assert response.status_code == 200
    hits = [hit["iri"] for hit in response.json["results"]]
    assert str(iri(built, ARMENIA)) in hits


def test_search_finds_short_names_and_answers_html_by_default(client, built):
    response = client.get("/search?q=csto")
    assert response.mimetype == "text/html"
    assert 'href="/id/organization/csto"' in response.get_data(as_text=True)
    as_json = client.get("/search?q=CSTO", headers={"Accept": "application/json"})
    assert as_json.json["results"][0]["iri"] == str(iri(built, CSTO))
    assert as_json.json["results"][0]["page"] == "/id/organization/csto"


# -- the dataset describes itself -----------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/.well-known/void", "/dumps/"])
@pytest.mark.parametrize("suffix", sorted(RDF_MEDIA))
def test_void_description_in_every_format(client, built, path, suffix):
    media, rdflib_format = RDF_MEDIA[suffix]
    response = client.get(path, headers={"Accept": media})
    assert response.status_code == 200 and response.mimetype == media
    graph = parse(response, rdflib_format)
    dataset = rdflib.URIRef(f"{built.base_iri}/dataset")
    assert (dataset, rdflib.RDF.type, VOID.Dataset) in graph
    assert graph.value(dataset, VOID.sparqlEndpoint) is not None
    assert str(graph.value(dataset, VOID.uriSpace)) == f"{built.base_iri}/id/"
    assert iri(built, CSTO) in set(graph.objects(dataset, VOID.exampleResource))
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    distributions = list(graph.objects(dataset, dcat.distribution))
    assert distributions
    for dist in distributions:
        assert graph.value(dist, dcat.byteSize) is not None
        assert graph.value(dist, dcat.mediaType) is not None


def test_dumps_page_lists_distributions_with_size_checksum_and_licence(client):
    response = client.get("/dumps/", headers={"Accept": "text/html"})
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    sums = client.get("/dumps/SHA256SUMS").get_data(as_text=True)
    for line in sums.splitlines():
        digest, name = line.split()
        assert f'href="/dumps/{name}"' in text
        assert digest in text
        body = client.get(f"/dumps/{name}").data
        assert hashlib.sha256(body).hexdigest() == digest
    assert "text/turtle" in text and "CC BY 4.0" in text


def test_dataset_iri_resolves(client):
    response = client.get("/dataset", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).mimetype == "text/turtle"


# -- pages load nothing from another host ----------------------------------------------------------------
class _Loads(HTMLParser):
    """The URLs a page makes the browser fetch by itself (not the links a reader may follow)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "audio", "video", "source") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if (
            tag == "link"
            and attrs.get("rel") in ("stylesheet", "icon", "preload")
            and attrs.get("href")
        ):
            self.urls.append(attrs["href"])


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/doc/{CSTO}.html",
        f"/doc/{ARMENIA}.html",
        "/doc/ontology",
        "/search?q=csto",
        "/dumps/",
        "/id/state/x",
    ],
)
def test_pages_load_nothing_from_another_host(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    parser = _Loads()
    parser.feed(response.get_data(as_text=True))
    assert parser.urls, "the page has its stylesheet"
    for url in parser.urls:
        assert urllib.parse.urlsplit(url).netloc == "", url
    assert "<script" not in response.get_data(as_text=True), "pages need no JavaScript"


def test_graph_and_ontology_version_iris_resolve(client, built):
    graph = client.get("/graph/facts", headers={"Accept": "text/turtle"})
    assert graph.status_code == 303
    described = client.get(graph.headers["Location"], headers={"Accept": "text/turtle"})
    assert described.mimetype == "text/turtle"
    assert client.get("/graph/no-such-graph").status_code == 404
    ontology = parse(client.get("/doc/ontology.ttl"), "turtle")
    version = ontology.value(rdflib.URIRef(f"{built.base_iri}/ontology/"), OWL.versionIRI)
    assert version is not None
    answer = client.get(str(version)[len(built.base_iri) :], headers={"Accept": "text/turtle"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/doc/ontology.ttl")


def test_search_suggests_names_for_a_misspelling(client):
    text = client.get("/search?q=Kazakstan").get_data(as_text=True)
    assert "Did you mean" in text and 'href="/id/state/kazakhstan"' in text


def test_any_unknown_path_gets_the_helpful_404(client):
    page = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Not in this dataset" in page.get_data(as_text=True)
    machine = client.get("/no/such/page", headers={"Accept": "text/turtle"})
    assert machine.status_code == 404 and machine.mimetype == "text/plain"
