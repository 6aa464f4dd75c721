"""The W3C SPARQL 1.1 Protocol suite, one test per manifest entry, against the served endpoint.

Every request is sent as the manifest writes it (method, path after /sparql/, headers, body);
the suite's data1-3 are named graphs of the release served. The update tests do not apply: the
endpoint is read-only and answers every update with 403.
"""

from __future__ import annotations

import io

import pytest
import rdflib
import requests
from rdflib.query import Result
from w3c_support import SUITE, protocol_tests

READ_ONLY = "not applicable: the endpoint is read-only (every SPARQL Update is refused with 403)"
RESULT_FORMATS = {
    "application/sparql-results+xml": "xml",
    "application/sparql-results+json": "json",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
BOOLEAN_FORMATS = {"application/sparql-results+xml", "application/sparql-results+json"}
RDF_FORMATS = {
    "application/rdf+xml": "xml",
    "text/turtle": "turtle",
    "application/n-triples": "nt",
}

TESTS = protocol_tests() if (SUITE / "protocol" / "manifest.ttl").is_file() else []


@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_protocol(embedded_endpoint, test):
    if test.is_update:
        pytest.skip(READ_ONLY)
    for sent in test.requests:
        url = f"{embedded_endpoint}{sent.path}" if sent.path.startswith("?") else embedded_endpoint
        response = requests.request(
            sent.method,
            url,
            headers=sent.headers,
            data=sent.body,
            timeout=30,
            allow_redirects=False,
        )
        context = f"{test.title}: {response.status_code} {response.text[:300]}"
        assert response.status_code // 100 in sent.expected_status, context
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if sent.expected_format == "boolean":
            assert media_type in BOOLEAN_FORMATS, context
            result = Result.parse(io.BytesIO(response.content), format=RESULT_FORMATS[media_type])
            assert result.type == "ASK", context
            if sent.expected_boolean is not None:
                assert result.askAnswer is sent.expected_boolean, context
        elif sent.expected_format == "tabular":
            assert media_type in RESULT_FORMATS, context
            result = Result.parse(io.BytesIO(response.content), format=RESULT_FORMATS[media_type])
            assert result.type == "SELECT" and result.vars, context
        elif sent.expected_format == "RDF":
            assert media_type in RDF_FORMATS, context
            rdflib.Graph().parse(data=response.content, format=RDF_FORMATS[media_type])
