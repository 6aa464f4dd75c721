"""The site without SPARQL (issue 22), over HTTP: lists that reach every record from `/`, names for
terms and memberships, RDF documents that carry what their pages show, dumps rdflib can read, source
pages with their text, the query page's /labels, and the small items. Expected names and dates are
read from the build's own graph, not written here."""

from __future__ import annotations

import gzip
import hashlib
import re
from html.parser import HTMLParser

import pytest
import rdflib
from rdflib.namespace import RDFS

from server import browse
from server.catalog import catalog
from server.names import duration_words

ORG = rdflib.Namespace("http://www.w3.org/ns/org#")
BASE = "https://w3id.org/treatygraph"
TIME = rdflib.Namespace("http://www.w3.org/2006/time#")


class Links(HTMLParser):
    """The links of a page: (href, text), and its <h1> and <title> text."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.h1 = self.title = ""
        self._href: str | None = None
        self._text: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []
        elif tag in ("h1", "title"):
            self._in = tag

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None
        elif tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._href is not None:
            self._text.append(data)
        if self._in == "h1":
            self.h1 += data
        elif self._in == "title":
            self.title += data


def page(client, path: str) -> Links:
    response = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
    assert response.status_code == 200, (path, response.status_code)
    parsed = Links()
    parsed.feed(response.get_data(as_text=True))
    return parsed


@pytest.fixture(scope="module")
def cat(app):
    with app.test_request_context("/"):
        return catalog()


@pytest.fixture(scope="module")
def store_graph(app):
    """The facts and provenance graphs of the build as one rdflib graph, to derive expectations."""
    with app.test_request_context("/"):
        cat = catalog()
        graph = rdflib.Graph()
        for quad in cat.store.quads_for_pattern(None, None, None, None):
            if quad.graph_name in cat.aside:
                continue
            graph.add(tuple(_rdflib(term) for term in (quad.subject, quad.predicate, quad.object)))
        return graph


def local(iri, document: str = "") -> str:
    """The path of a record's page (`/id/…`), or of its document (`/doc/…` + suffix)."""
    path = str(iri)[len(BASE) :]
    return path.replace("/id/", "/doc/", 1) + document if document else path


def _rdflib(term):
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    datatype = rdflib.URIRef(term.datatype.value) if term.datatype and not term.language else None
    return rdflib.Literal(term.value, lang=term.language, datatype=datatype)


# -- browse ------------------------------------------------------------------------------------------
def test_every_record_is_reached_by_links_from_the_home_page(client, cat):
    lists = {href for href, _ in page(client, "/").links if href.startswith("/browse/")}
    assert {"/browse/states", "/browse/persons", "/browse/terms", "/browse/memberships"} <= lists
    reached, todo = set(), sorted(lists)
    while todo:
        path = todo.pop()
        for href, _ in page(client, path).links:
            if href.startswith("/id/"):
                reached.add(href)
            elif href.startswith(path + "?page=") and href not in lists:
                lists.add(href)
                todo.append(href)
    assert {cat.href(iri) for iri in cat.entities} <= reached


@pytest.fixture
def pages_of_ten(app, monkeypatch):
    """Lists paged by 10 (the real data has no kind past 100), with the page cache emptied before
    and after."""
    pages = app.extensions["treatygraph.release_cache.pages"]
    build = app.extensions["treatygraph.builds"].get()
    monkeypatch.setattr(browse, "PAGE_SIZE", 10)
    pages.follow(build)
    yield
    pages.follow(build)


def test_lists_are_sorted_by_name_and_paged_past_the_page_size(client, cat, pages_of_ten):
    persons = [iri for iri in cat.entities if cat.tg + "Person" in cat.entities[iri]]
    expected = sorted((cat.label(iri) for iri in persons), key=lambda n: n.casefold())
    shown, number = [], 1
    while True:
        path = "/browse/persons" + (f"?page={number}" if number > 1 else "")
        html = client.get(path).get_data(as_text=True)
        listed = page(client, path)
        shown += [text for href, text in listed.links if href.startswith("/id/person/")]
        if 'rel="next"' not in html:
            break
        number += 1
    assert number == -(-len(persons) // 10) > 1
    assert [s.casefold() for s in shown] == [e.casefold() for e in expected]
    refused = client.get("/browse/persons?page=99")
    assert refused.status_code == 400 and "`page`" in refused.get_data(as_text=True)
    assert client.get("/browse/persons?page=x").status_code == 400
    assert client.get("/browse/no-such-kind").status_code == 404


def test_class_pages_link_to_their_lists(client):
    assert ("/browse/states", "list them") in page(client, "/doc/ontology/State").links
    assert ("/browse/class/Summit", "list them") in page(client, "/doc/ontology/Summit").links
    summits = page(client, "/browse/class/Summit")
    assert any(href.startswith("/id/meeting/") for href, _ in summits.links)


# -- names ------------------------------------------------------------------------------------------
def test_terms_are_named_from_holder_post_and_the_dates_the_data_has(client, store_graph):
    tg = rdflib.Namespace("https://w3id.org/treatygraph/ontology/")
    terms = list(store_graph.subjects(rdflib.RDF.type, tg.TermOfOffice))
    assert terms
    for term in terms:
        heading = page(client, local(term)).h1
        holder = store_graph.value(store_graph.value(term, tg.holder), RDFS.label)
        post = store_graph.value(store_graph.value(term, tg.post), RDFS.label)
        assert str(holder) in heading and str(post) in heading, heading
        interval = store_graph.value(term, TIME.hasTime)
        start = store_graph.value(store_graph.value(interval, TIME.hasBeginning), TIME.inXSDDate)
        if start is not None:
            assert ", from " in heading or " \N{EN DASH} " in heading, heading
            assert str(start.toPython().year) in heading
        assert "-" not in heading.split(str(post))[-1].replace("\N{EN DASH}", ""), heading


def test_posts_list_their_holders_with_dates(client, store_graph):
    tg = rdflib.Namespace("https://w3id.org/treatygraph/ontology/")
    post = rdflib.URIRef("https://w3id.org/treatygraph/id/post/csto-secretary-general")
    links = page(client, "/doc/post/csto-secretary-general").links
    for term in store_graph.subjects(tg.post, post):
        holder = str(store_graph.value(store_graph.value(term, tg.holder), RDFS.label))
        text = dict(links)[local(term)]
        assert holder in text and re.search(r"\d{4}", text), text
    html = client.get("/doc/post/csto-secretary-general").get_data(as_text=True)
    table = html.split('<section class="holders">', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<tr><th scope="row">(.*?)</tr>', table, flags=re.S)
    assert len(rows) == len(set(store_graph.subjects(tg.post, post)))
    years = [min(re.findall(r"\b(\d{4})\b", row), default="9999") for row in rows]
    assert years == sorted(years)


def test_durations_read_in_words(client, store_graph):
    assert duration_words("P5Y") == "5 years"
    assert duration_words("P1Y6M") == "1 year and 6 months"
    assert duration_words("P1Y2M3D") == "1 year, 2 months and 3 days"
    assert duration_words("not a duration") == "not a duration"
    durations = [
        (s, o)
        for s, o in store_graph.subject_objects()
        if isinstance(o, rdflib.Literal) and o.datatype == rdflib.XSD.duration
    ]
    for subject, value in durations:
        text = client.get(local(subject, ".html"))
        assert duration_words(str(value)) in text.get_data(as_text=True)
        assert f">{value}<" not in text.get_data(as_text=True)


def test_search_finds_memberships_and_terms_by_their_names(client, cat):
    hits = client.get("/search?q=Uzbekistan CSTO&format=json").get_json()["results"]
    assert any("http://www.w3.org/ns/org#Membership" in hit["types"] for hit in hits)
    hits = client.get("/search?q=Secretary General of the CSTO&format=json").get_json()["results"]
    assert any(cat.tg + "TermOfOffice" in hit["types"] for hit in hits)
    assert all(not hit["label"].islower() for hit in hits)


# -- follow your nose --------------------------------------------------------------------------------
def test_an_organization_document_carries_its_members_parts_and_post_holders(client, store_graph):
    csto = rdflib.URIRef("https://w3id.org/treatygraph/id/organization/csto")
    document = rdflib.Graph().parse(
        data=client.get("/doc/organization/csto.ttl").data, format="ttl"
    )
    memberships = set(store_graph.subjects(ORG.organization, csto))
    assert memberships
    for membership in memberships:
        member = store_graph.value(membership, ORG.member)
        assert (membership, ORG.member, member) in document
        assert (member, RDFS.label, None) in document
        during = store_graph.value(membership, ORG.memberDuring)
        if during is not None:
            begin = store_graph.value(during, TIME.hasBeginning)
            date = store_graph.value(begin, TIME.inXSDDate)
            if date is not None:
                assert (begin, TIME.inXSDDate, date) in document
    for part in store_graph.subjects(ORG.subOrganizationOf, csto):
        assert (part, ORG.subOrganizationOf, csto) in document
    tg = rdflib.Namespace("https://w3id.org/treatygraph/ontology/")
    for post in store_graph.subjects(ORG.postIn, csto):
        for term in store_graph.subjects(tg.post, post):
            assert (term, tg.holder, store_graph.value(term, tg.holder)) in document


def test_following_links_from_a_state_reaches_its_organizations(client, store_graph):
    uzbekistan = rdflib.URIRef("https://w3id.org/treatygraph/id/state/uzbekistan")
    document = rdflib.Graph().parse(data=client.get("/doc/state/uzbekistan.ttl").data, format="ttl")
    wdt_member_of = rdflib.URIRef("http://www.wikidata.org/prop/direct/P463")
    organizations = set()
    for membership in document.subjects(ORG.member, uzbekistan):
        group = document.value(membership, ORG.organization)
        if group is not None:
            organizations.add(group)
    assert organizations == {
        store_graph.value(m, ORG.organization)
        for m in store_graph.subjects(ORG.member, uzbekistan)
        if store_graph.value(m, ORG.organization) is not None
    }
    assert set(document.objects(uzbekistan, wdt_member_of))  # the Wikidata view, too
    for organization in organizations:  # and each one's document links back
        path = local(organization, ".ttl")
        there = rdflib.Graph().parse(data=client.get(path).data, format="ttl")
        assert any(there.subjects(ORG.member, uzbekistan)), path


# -- dumps ------------------------------------------------------------------------------------------
def test_gzip_dumps_parse_from_their_urls_and_keep_their_checksums(live_server):
    import requests

    sums = requests.get(f"{live_server.url}/dumps/SHA256SUMS", timeout=30).text
    for name, container in (
        ("treatygraph.nt.gz", rdflib.Graph),
        ("treatygraph.nq.gz", rdflib.Dataset),
    ):
        url = f"{live_server.url}/dumps/{name}"
        parsed = container().parse(url)
        assert len(parsed) > 1000, name
        raw = requests.get(url, timeout=30)
        assert raw.headers["Content-Type"] == "application/gzip"
        assert "Content-Encoding" not in raw.headers
        assert f"{hashlib.sha256(raw.content).hexdigest()}  {name}" in sums
        assert gzip.decompress(raw.content)
    text = requests.get(f"{live_server.url}/dumps/", timeout=30).text
    assert "sha256sum -c --ignore-missing SHA256SUMS" in text


# -- source pages -----------------------------------------------------------------------------------
def test_source_pages_show_number_text_and_marked_quotes(client, cat, config):
    sources = [iri for iri in cat.entities if cat.tg + "SourceDocument" in cat.entities[iri]]
    assert sources
    for iri in sources:
        html = client.get(cat.href(iri), follow_redirects=True).get_data(as_text=True)
        assert cat.source_name(iri) in html and re.match(r"source \d{3}$", cat.source_name(iri))
        assert cat.label(iri) in html and "publisher" in html
        link = re.search(r'href="(/sources/[^"]+\.txt)"', html).group(1)
        served = client.get(link)
        assert served.status_code == 200 and served.mimetype == "text/plain"
        assert served.data == (config.sources_dir / link.rsplit("/", 1)[1]).read_bytes()
        marks = re.findall(r'<mark><a href="#quote-(\d+)">', html)
        assert marks and all(f'id="quote-{n}"' in html for n in marks)
        assert "has unrelated tail" not in html and "file name" not in html
    assert client.get("/sources/not-a-source.txt").status_code == 404


# -- the query page's labels ------------------------------------------------------------------------
def test_labels_name_records_for_the_query_page(client, cat):
    csto = "https://w3id.org/treatygraph/id/organization/csto"
    named = client.post(
        "/labels", json=[csto, "http://example.org/unknown", "not an iri"]
    ).get_json()
    assert named == {csto: {"label": cat.label(csto), "href": "/id/organization/csto"}}
    refused = client.post("/labels", json=[csto] * 501)
    assert refused.status_code == 400 and "500" in refused.get_data(as_text=True)
    assert client.post("/labels", json={"iris": [csto]}).status_code == 400
    assert client.post("/labels", data="[").status_code == 400
    assert client.post("/labels", json=["x" * 5000]).status_code == 400


def test_the_query_page_has_the_site_frame_and_knows_the_prefixes(client):
    html = client.get("/sparql", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'href="/browse"' in html and 'action="/search"' in html and "site.css" in html
    assert (
        '"org": "http://www.w3.org/ns/org#"' in html or '"org":"http://www.w3.org/ns/org#"' in html
    )


# -- the small items --------------------------------------------------------------------------------
def test_favicon_and_distinct_titles(client, cat):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    titles = [page(client, cat.href(iri)).title for iri in cat.entities if "/state/" in iri]
    assert len(set(titles)) == len(titles)
    assert page(client, "/browse/states").title != page(client, "/browse/persons").title


def test_sources_are_numbered_from_one_and_the_whole_record_is_cited_once(client):
    html = client.get("/doc/meeting/csto-csc-2020-12-02-videoconference").get_data(as_text=True)
    numbers = [int(n) for n in re.findall(r'<span class="claim-number">\[(\d+)\]</span>', html)]
    assert numbers and min(numbers) == 1 and sorted(numbers) == list(range(1, len(numbers) + 1))
    assert html.count("Sources for the whole record") <= 1
    assert ">how<" not in html
