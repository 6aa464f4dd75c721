"""The W3C Graph Store Protocol suite against the stores the remote-store mode uploads to
(`oxigraph serve`'s /store, Virtuoso's /sparql-graph-crud-auth), as the uploader talks to them:
graphs named with `?graph=` (indirect identification; a store's own URL space is not ours to
write in, so the direct-identification tests do not apply).

What each store does is measured, not assumed: the tests a store fails are expected failures
naming what it does instead, and the uploader relies on none of those behaviours.
"""

from __future__ import annotations

import pytest
import rdflib
import requests
from conftest import VIRTUOSO_MISSING, OxigraphServer
from rdflib.compare import isomorphic
from w3c_support import SUITE, graph_store_tests, require_suite, status_matches

from bench.virtuoso import installed

TESTS = (
    graph_store_tests()
    if (SUITE / "graph-store-protocol" / "manifest-indirect.ttl").is_file()
    else []
)
DIRECT = "not applicable: the uploader names graphs with ?graph= (indirect identification)"
POST_CREATION = "not applicable: the uploader never asks a store to create and name a graph"
# What each store does where the suite expects otherwise (measured on oxigraph 0.5.13 and
# Debian's Virtuoso 7.2).
MULTIPART = "a multipart/form-data POST (several files in one request)"
DEPARTS = {
    "oxigraph": {
        "post_get_post_get_indirect": f"oxigraph refuses {MULTIPART} with 415",
    },
    "virtuoso": {
        "put_get_default": "Virtuoso fails a PUT to the default graph (?default) with 500, "
        "error 22023",
        "post_get_post_get_indirect": f"Virtuoso accepts {MULTIPART} but the graph read back "
        "is not the one the suite expects",
        "head_existing_indirect": "Virtuoso answers HEAD with 501 Not Implemented",
        "head_non_existing_indirect": "Virtuoso answers HEAD with 501 Not Implemented",
    },
}
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml"}


@pytest.fixture(scope="module")
def oxigraph_gsp(tmp_path_factory):
    require_suite()
    server = OxigraphServer(tmp_path_factory.mktemp("gsp-oxigraph"), writable=True)
    try:
        yield f"{server.url}/store", None
    finally:
        server.stop()


@pytest.fixture(scope="module")
def virtuoso_gsp(request):
    if not installed():
        pytest.skip(VIRTUOSO_MISSING)
    virtuoso = request.getfixturevalue("virtuoso")
    return virtuoso.graph_store, requests.auth.HTTPDigestAuth(virtuoso.user, virtuoso.password)


def run(store_url: str, auth, test) -> None:
    """The test's requests in order, on a store without the suite's graphs (as the W3C's
    runners start each test)."""
    for n in range(1, 5):
        graph = f"http://www.example/gsp/person/{n}.ttl"
        requests.delete(store_url, params={"graph": graph}, auth=auth, timeout=30)
    variables: dict[str, str] = {}
    for number, sent in enumerate(test.requests, 1):
        path, body = sent.path, sent.body
        for name, value in variables.items():
            path = path.replace(name, requests.utils.quote(value, safe=""))
            body = body.replace(name.encode(), value.encode()) if body else body
        response = requests.request(
            sent.method,
            f"{store_url}{path}",
            headers=sent.headers,
            data=body,
            auth=auth,
            timeout=30,
        )
        context = f"{test.name}, request {number} ({sent.method} {path}): {response.status_code}"
        assert status_matches(response.status_code, sent.expected_status), (
            f"{context}, expected {sorted(sent.expected_status)}: {response.text[:300]}"
        )
        if sent.location_variable:
            variables[sent.location_variable] = response.headers["Location"]
        if sent.expected_body is not None:
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            assert media_type in RDF_TYPES, context
            got = rdflib.Graph().parse(data=response.content, format=RDF_TYPES[media_type])
            want = rdflib.Graph().parse(data=sent.expected_body, format="turtle")
            assert isomorphic(got, want), f"{context}: {got.serialize(format='nt')}"


def _cases(store: str):
    for test in TESTS:
        marks = []
        if "DirectGraphIdentification" in test.requires:
            marks.append(pytest.mark.skip(reason=DIRECT))
        elif "POSTGraphCreation" in test.requires:
            marks.append(pytest.mark.skip(reason=POST_CREATION))
        elif test.name in DEPARTS[store]:
            marks.append(pytest.mark.xfail(reason=DEPARTS[store][test.name], strict=True))
        yield pytest.param(test, id=test.name, marks=marks)


@pytest.mark.parametrize("test", list(_cases("oxigraph")))
def test_oxigraph_serve(oxigraph_gsp, test):
    run(*oxigraph_gsp, test)


@pytest.mark.virtuoso
@pytest.mark.parametrize("test", list(_cases("virtuoso")))
def test_virtuoso(virtuoso_gsp, test):
    run(*virtuoso_gsp, test)
