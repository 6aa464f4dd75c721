"""The example queries offered in the query editor use the served build's base IRI.

queries/*.rq are written against the canonical base (`BASE <https://w3id.org/treatygraph/id/>`,
`tg:` = https://w3id.org/treatygraph/ontology/); a deployment under another base must offer them
rebased, or every example would silently find nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import requests
from sparql_support import endpoint_server

from treatygraph.core.config import CANONICAL_BASE_IRI
from treatygraph.publish.build import build

OTHER_BASE = "https://data.example.org/csto"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def other_base(config, tmp_path_factory):
    own = dataclasses.replace(
        config, build_dir=tmp_path_factory.mktemp("other-base"), base_iri=OTHER_BASE
    )
    build(own)
    return own


def test_the_editor_offers_the_examples_under_the_served_base_iri(other_base):
    with endpoint_server(other_base) as server:
        page = requests.get(f"{server.url}/sparql", headers={"Accept": BROWSER_ACCEPT}, timeout=10)
        assert page.status_code == 200
        data = re.search(
            r'<script type="application/json" id="examples">(.*?)</script>', page.text, re.S
        )
        examples = {e["name"]: e["query"] for e in json.loads(data.group(1))}
        assert len(examples) >= 30
        for name, query in examples.items():
            assert CANONICAL_BASE_IRI + "/" not in query, name
        cis = examples["04-cis-members-on-dates"]
        assert f"BASE <{OTHER_BASE}/id/>" in cis
        assert f"PREFIX tg: <{OTHER_BASE}/ontology/>" in cis

        answer = requests.post(
            f"{server.url}/sparql",
            data={"query": cis},
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        states = {row["state"]["value"] for row in answer.json()["results"]["bindings"]}
        assert len(states) == 10
        assert f"{OTHER_BASE}/id/state/moldova" in states
