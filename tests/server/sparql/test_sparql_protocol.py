"""The W3C SPARQL 1.1 Protocol at /sparql, over real HTTP: methods, dataset, formats, errors, CORS."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import rdflib
import requests
from rdflib.namespace import RDFS, VOID
from rdflib.query import Result
from sparql_support import ARMENIA, CSTO, endpoint_server

from treatygraph.rdf.namespaces import SD, ProjectNamespaces

LABELS = f"SELECT ?label WHERE {{ <{CSTO}> rdfs:label ?label }}"
CONSTRUCT_CSTO = f"CONSTRUCT {{ <{CSTO}> ?p ?o }} WHERE {{ <{CSTO}> ?p ?o }}"

RESULT_TYPES = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": "turtle",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
    "application/trig": "trig",
    "application/n-quads": "nquads",
}


@pytest.fixture(scope="module")
def url(live_server) -> str:
    return f"{live_server.url}/sparql"


def _labels(response) -> set[str]:
    fmt = RESULT_TYPES[response.headers["Content-Type"].split(";")[0]]
    result = Result.parse(io.BytesIO(response.content), format=fmt)
    return {str(row[0]) for row in result}


def _graph(response) -> rdflib.Graph:
    fmt = GRAPH_TYPES[response.headers["Content-Type"].split(";")[0]]
    if fmt in ("trig", "nquads"):
        dataset = rdflib.Dataset()
        dataset.parse(data=response.content, format=fmt)
        graph = rdflib.Graph()
        for s, p, o, _ in dataset.quads((None, None, None, None)):
            graph.add((s, p, o))
        return graph
    return rdflib.Graph().parse(data=response.content, format=fmt)


def test_get_post_form_and_post_body_give_the_same_answer(url):
    by_get = requests.get(url, params={"query": LABELS}, timeout=10)
    by_form = requests.post(url, data={"query": LABELS}, timeout=10)
    by_body = requests.post(
        url,
        data=LABELS.encode(),
        headers={"Content-Type": "application/sparql-query"},
        timeout=10,
    )
    for response in (by_get, by_form, by_body):
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/sparql-results+json")
        assert "Collective Security Treaty Organization" in _labels(response)
    assert _labels(by_get) == _labels(by_form) == _labels(by_body)


@pytest.mark.parametrize("media_type", list(RESULT_TYPES))
def test_select_in_every_results_format_by_accept(url, media_type):
    response = requests.get(
        url, params={"query": LABELS}, headers={"Accept": media_type}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type
    assert "Collective Security Treaty Organization" in _labels(response)


@pytest.mark.parametrize("media_type", list(RESULT_TYPES))
def test_ask_in_every_results_format(url, media_type):
    response = requests.get(
        url,
        params={"query": f"ASK {{ <{ARMENIA}> ?p ?o }}"},
        headers={"Accept": media_type},
        timeout=10,
    )
    assert response.status_code == 200
    if media_type in ("text/csv", "text/tab-separated-values"):
        assert response.text.strip() == "true"
    else:
        result = Result.parse(io.BytesIO(response.content), format=RESULT_TYPES[media_type])
        assert result.askAnswer is True


@pytest.mark.parametrize("media_type", list(GRAPH_TYPES))
def test_construct_in_every_rdf_format_parses_back(url, media_type):
    response = requests.get(
        url, params={"query": CONSTRUCT_CSTO}, headers={"Accept": media_type}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].split(";")[0] == media_type
    graph = _graph(response)
    labels = set(graph.objects(rdflib.URIRef(CSTO), RDFS.label))
    assert rdflib.Literal("Collective Security Treaty Organization", lang="en") in labels


@pytest.mark.parametrize("fmt", ["ttl", "nt", "jsonld", "rdf", "trig", "nq"])
def test_describe_with_format_override(url, fmt):
    response = requests.get(
        url,
        params={"query": f"DESCRIBE <{ARMENIA}>", "format": fmt},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    graph = _graph(response)
    assert len(graph) > 0
    assert (rdflib.URIRef(ARMENIA), RDFS.label, rdflib.Literal("Armenia", lang="en")) in graph


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("text/csv;q=0.5, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
        ("text/*", "text/csv"),
        ("*/*", "application/sparql-results+json"),
        ("application/json", "application/sparql-results+json"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "application/sparql-results+xml",
        ),
        ("image/png, text/tab-separated-values;q=0.1", "text/tab-separated-values"),
    ],
)
def test_accept_q_values_and_wildcards(url, accept, expected):
    response = requests.get(url, params={"query": LABELS}, headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == expected


def test_responses_vary_on_accept(url):
    for params in ({"query": LABELS}, {}):
        assert "Accept" in requests.get(url, params=params, timeout=10).headers["Vary"]


def test_no_accept_header_gets_the_default(url):
    session = requests.Session()
    session.headers.pop("Accept", None)
    response = session.get(url, params={"query": LABELS}, timeout=10)
    assert response.headers["Content-Type"].startswith("application/sparql-results+json")
    response = session.get(url, params={"query": CONSTRUCT_CSTO}, timeout=10)
    assert response.headers["Content-Type"].startswith("text/turtle")


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
        ("text/csv", "text/csv"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
    ],
)
def test_format_parameter_overrides_accept(url, fmt, expected):
    response = requests.get(
        url, params={"query": LABELS, "format": fmt}, headers={"Accept": "text/csv"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == expected


def test_short_names_mean_the_rdf_format_for_construct(url):
    for fmt, expected in (("json", "application/ld+json"), ("xml", "application/rdf+xml")):
        response = requests.get(url, params={"query": CONSTRUCT_CSTO, "format": fmt}, timeout=10)
        assert response.headers["Content-Type"].split(";")[0] == expected
        assert len(_graph(response)) > 0


def test_406_lists_the_offered_types(url):
    response = requests.get(
        url, params={"query": LABELS}, headers={"Accept": "image/png"}, timeout=10
    )
    assert response.status_code == 406
    assert response.headers["Content-Type"].startswith("text/plain")
    for media_type in RESULT_TYPES:
        assert media_type in response.text
    response = requests.get(url, params={"query": CONSTRUCT_CSTO, "format": "csv"}, timeout=10)
    assert response.status_code == 406
    assert "text/turtle" in response.text


def test_unknown_format_is_400_naming_the_known_ones(url):
    response = requests.get(url, params={"query": LABELS, "format": "yaml"}, timeout=10)
    assert response.status_code == 400
    assert "'yaml'" in response.text and "json" in response.text


def test_default_graph_uri_selects_among_the_stores_graphs(url, built):
    from treatygraph.rdf.namespaces import ProjectNamespaces

    ns = ProjectNamespaces(built.base_iri)
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    classes = "ASK { ?c a owl:Class }"

    def ask(query, **params):
        response = requests.get(url, params={"query": query, **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    union = int(ask(count)["results"]["bindings"][0]["n"]["value"])
    facts = int(
        ask(count, **{"default-graph-uri": ns.graph("facts")})["results"]["bindings"][0]["n"][
            "value"
        ]
    )
    assert 0 < facts < union
    assert ask(classes)["boolean"] is True
    assert ask(classes, **{"default-graph-uri": ns.graph("facts")})["boolean"] is False
    assert ask(classes, **{"default-graph-uri": ns.graph("ontology")})["boolean"] is True
    nothing = ask(count, **{"default-graph-uri": "https://example.org/no-such-graph"})
    assert nothing["results"]["bindings"][0]["n"]["value"] == "0"


def test_named_graph_uri_limits_graph_patterns(url, built):
    from treatygraph.rdf.namespaces import ProjectNamespaces

    ns = ProjectNamespaces(built.base_iri)
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    everything = requests.get(url, params={"query": query}, timeout=10).json()
    graphs = {b["g"]["value"] for b in everything["results"]["bindings"]}
    assert {ns.graph("facts"), ns.graph("ontology")} <= graphs
    response = requests.post(
        url,
        data={"query": query, "named-graph-uri": [ns.graph("facts")]},
        timeout=10,
    )
    assert {b["g"]["value"] for b in response.json()["results"]["bindings"]} == {ns.graph("facts")}
    body = requests.post(
        url + "?named-graph-uri=" + requests.utils.quote(ns.graph("ontology"), safe=""),
        data=query,
        headers={"Content-Type": "application/sparql-query"},
        timeout=10,
    )
    assert {b["g"]["value"] for b in body.json()["results"]["bindings"]} == {ns.graph("ontology")}


def test_from_in_the_query_selects_a_graph(url, built):
    from treatygraph.rdf.namespaces import ProjectNamespaces

    ns = ProjectNamespaces(built.base_iri)
    query = f"ASK FROM <{ns.graph('facts')}> {{ ?c a owl:Class }}"
    assert requests.get(url, params={"query": query}, timeout=10).json()["boolean"] is False
    query = f"ASK FROM <{ns.graph('ontology')}> {{ ?c a owl:Class }}"
    assert requests.get(url, params={"query": query}, timeout=10).json()["boolean"] is True


def test_bad_graph_iri_is_400(url):
    response = requests.get(
        url, params={"query": LABELS, "default-graph-uri": "not an iri"}, timeout=10
    )
    assert response.status_code == 400
    assert "not an iri" in response.text


def test_syntax_error_is_400_with_message_and_position(url):
    query = "SELECT ?s WHERE {\n  ?s rdfs:label ?l .\n  FILTER(?l = )\n}"
    response = requests.get(url, params={"query": query}, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert re.search(r"syntax error at line \d+, column \d+: expected", response.text), (
        response.text
    )
    assert "FILTER(?l = )" in response.text and "^" in response.text
    assert "Traceback" not in response.text and 'File "' not in response.text


@pytest.mark.parametrize(
    ("method", "kwargs", "status"),
    [
        ("get", {"params": {"query": "   "}}, 400),
        ("get", {"params": {"query": ["ASK {}", "ASK {}"]}}, 400),
        ("post", {"data": {"format": "json"}}, 400),
        ("post", {}, 415),
        ("post", {"data": "ASK {}", "headers": {"Content-Type": "text/plain"}}, 415),
        ("put", {"data": {"query": "ASK {}"}}, 405),
        ("delete", {}, 405),
    ],
)
def test_protocol_misuse_gets_a_plain_4xx(url, method, kwargs, status):
    response = requests.request(method, url, timeout=10, **kwargs)
    assert response.status_code == status
    assert "Traceback" not in response.text


def test_unterminated_string_is_a_readable_400(url):
    response = requests.get(url, params={"query": 'SELECT * WHERE { ?s ?p "oops }'}, timeout=10)
    assert response.status_code == 400
    assert "unterminated string" in response.text


def test_cors_is_open_for_reads_without_credentials(url):
    response = requests.get(
        url, params={"query": LABELS}, headers={"Origin": "https://example.org"}, timeout=10
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    preflight = requests.options(
        url,
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    error = requests.get(
        url, params={"query": "SELEC"}, headers={"Origin": "https://a.b"}, timeout=10
    )
    assert error.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "media_type", ["text/turtle", "application/ld+json", "application/rdf+xml"]
)
def test_service_description_for_rdf_clients(url, media_type, config):
    response = requests.get(url, headers={"Accept": media_type}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == media_type
    graph = _graph(response)
    service = rdflib.URIRef(url)
    assert (service, rdflib.RDF.type, SD.Service) in graph
    assert (service, SD.endpoint, service) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert (service, SD.feature, SD.UnionDefaultGraph) in graph
    formats = {str(f) for f in graph.objects(service, SD.resultFormat)}
    assert "http://www.w3.org/ns/formats/SPARQL_Results_JSON" in formats
    assert "http://www.w3.org/ns/formats/Turtle" in formats
    assert len(formats) == 10
    dataset = graph.value(service, SD.defaultDataset)
    default_graph = graph.value(dataset, SD.defaultGraph)
    assert int(graph.value(default_graph, VOID.triples)) > 0
    named = list(graph.objects(dataset, SD.namedGraph))
    assert named
    assert all(int(graph.value(graph.value(n, SD.graph), VOID.triples)) > 0 for n in named)
    ns = ProjectNamespaces(config.base_iri)
    assert str(graph.value(service, ns.tg.queryBaseIRI)) == ns.id
    ontology = rdflib.Graph().parse(config.ontology_dir / "treatygraph.ttl")
    used = {term for triple in graph for term in triple if str(term).startswith(str(ns.tg))}
    undeclared = {term for term in used if (term, RDFS.label, None) not in ontology}
    assert not undeclared, f"ontology/treatygraph.ttl does not declare {sorted(undeclared)}"


def test_relative_iris_resolve_against_the_stated_base(url, config):
    """`<organization/csto>` is the CSTO's IRI, resolved against the base the description gives."""
    query = "SELECT ?label WHERE { <organization/csto> rdfs:label ?label }"
    response = requests.get(url, params={"query": query, "format": "json"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"], "the relative IRI found no labels"
    construct = "CONSTRUCT { <s> <p> 1 } WHERE {}"
    response = requests.get(url, params={"query": construct, "format": "nt"}, timeout=10)
    assert response.status_code == 200, response.text
    ns = ProjectNamespaces(config.base_iri)
    triple = (rdflib.URIRef(f"{ns.id}s"), rdflib.URIRef(f"{ns.id}p"), rdflib.Literal(1))
    assert triple in _graph(response)


def test_the_query_own_base_wins_over_the_service_one(url):
    query = "BASE <http://example.org/x/> ASK { FILTER(STR(<y>) = 'http://example.org/x/y') }"
    response = requests.get(url, params={"query": query, "format": "json"}, timeout=10)
    assert response.json()["boolean"] is True


def test_a_malformed_iri_is_a_400_that_says_so(url):
    response = requests.get(url, params={"query": "ASK { <http://a b> ?p ?o }"}, timeout=10)
    assert response.status_code == 400
    assert "IRI is not valid" in response.text and "queryBaseIRI" in response.text


def test_format_parameter_chooses_between_description_and_editor(url):
    browser = {"Accept": "text/html"}
    described = requests.get(url, params={"format": "nt"}, headers=browser, timeout=10)
    assert described.headers["Content-Type"].startswith("application/n-triples")
    assert len(_graph(described)) > 0
    editor = requests.get(url, params={"format": "html"}, headers={"Accept": "*/*"}, timeout=10)
    assert editor.headers["Content-Type"].startswith("text/html")


def test_curl_gets_the_service_description_as_turtle(url):
    response = requests.get(url, headers={"Accept": "*/*"}, timeout=10)
    assert response.headers["Content-Type"].startswith("text/turtle")
    assert len(_graph(response)) > 0


class _Links(HTMLParser):
    """Every URL a page loads or sends to, and every link but the licence's (the one link the
    site's frame gives to another site, which a browser follows only when clicked)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and dict(attrs).get("rel") == "license":
            return
        for name, value in attrs:
            if name in ("src", "href", "action") and value:
                self.urls.append(value)


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_browsers_get_the_editor_from_local_assets_only(config, built, tmp_path):
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "members.rq").write_text(
        "# Question: Who was a member of the CSTO\n# on 1 January 2010?\nSELECT * WHERE { ?s ?p ?o } LIMIT 1\n"
    )
    (queries / "sources.rq").write_text(
        "# Question: Which sources say </script> things?\nASK { ?s ?p ?o }\n"
    )
    with endpoint_server(config, queries_dir=queries) as server:
        response = requests.get(
            f"{server.url}/sparql", headers={"Accept": BROWSER_ACCEPT}, timeout=10
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/html")
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "connect-src 'self'" in csp
        page = response.text
        assert "Who was a member of the CSTO on 1 January 2010?" in page
        assert "Which sources say &lt;/script&gt; things?" in page
        data = re.search(
            r'<script type="application/json" id="examples">(.*?)</script>', page, re.S
        )
        examples = json.loads(data.group(1))
        assert [e["name"] for e in examples] == ["members", "sources"]
        assert examples[1]["query"].startswith("# Question: Which sources say </script>")
        links = _Links()
        links.feed(page)
        assert links.urls
        for link in links.urls:
            parts = urlsplit(link)
            assert not parts.netloc or parts.netloc == urlsplit(server.url).netloc, link
            if link.startswith("/static/"):
                asset = requests.get(server.url + link, timeout=10)
                assert asset.status_code == 200, link


def test_the_real_example_queries_are_offered(client, config):
    response = client.get("/sparql", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200
    for path in sorted(config.queries_dir.glob("*.rq")):
        assert f'title="{path.stem}.rq"' in response.get_data(as_text=True)


def test_vendored_editor_loads_nothing_from_other_hosts():
    from pathlib import Path

    static = Path(__file__).parents[3] / "server" / "static"
    bundle = (static / "yasgui" / "yasgui.min.js").read_text(encoding="utf-8")
    css = (static / "yasgui" / "yasgui.min.css").read_text(encoding="utf-8")
    assert "sourceMappingURL" not in bundle
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)
    assert not re.search(r"@import", css)
    # The one remote service the bundle knows (LOV autocompletion of classes and properties) is
    # switched off by our script, as is prefix completion, which wrote PREFIX lines while typing.
    script = (static / "sparql-editor.js").read_text(encoding="utf-8")
    assert 'autocompleters = ["variables"]' in script
    assert (static / "yasgui" / "LICENSE").is_file()
