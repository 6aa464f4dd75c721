"""Locust users for the reliability load test (tests/server/test_load.py runs this file headless).

49 readers mix SPARQL queries, entity pages (HTML and Turtle, through the /id/ redirect too),
searches and dump downloads; one more user sends a runaway query now and then, whose 504 is the
only failure that is expected (it is counted as a success when it is a 504 that says why).
Every answer is checked: a 200 with the content it should have, or the request fails.
"""

from __future__ import annotations

import json
import random
import urllib.parse
import urllib.request

from locust import HttpUser, between, constant, events, task

QUERIES = {
    "sparql: members on a date": """
        SELECT ?state ?start ?end WHERE {
          ?m org:organization <https://w3id.org/treatygraph/id/organization/csto> ;
             org:member ?state ; org:role tg:MemberRole ;
             org:memberDuring/time:hasBeginning/time:inXSDDate ?start .
          OPTIONAL { ?m org:memberDuring/time:hasEnd/time:inXSDDate ?end }
          FILTER(?start <= "2010-01-01"^^xsd:date && (!BOUND(?end) || ?end > "2010-01-01"^^xsd:date))
        } ORDER BY ?state""",
    "sparql: quotes about the CSTO": """
        SELECT ?source ?quote WHERE {
          ?claim tg:claimAbout <https://w3id.org/treatygraph/id/organization/csto> ;
                 prov:wasQuotedFrom ?source ; tg:quote ?quote .
        }""",
    "sparql: counts by class": """
        SELECT ?class (COUNT(?s) AS ?n) WHERE { ?s a ?class } GROUP BY ?class ORDER BY DESC(?n)""",
    "sparql: labels": "SELECT ?s ?label WHERE { ?s rdfs:label ?label } LIMIT 200",
}
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # CPU, not memory
SEARCHES = [
    "csto",
    "armenia",
    "collective",
    "council",
    "treaty",
    "moscow",
    "ОДКБ",
    "zzz",
    "e\u0301",
]
DUMPS = ["treatygraph.nt.gz", "void.ttl", "treatygraph.ttl", "SHA256SUMS"]
ENTITY_PATHS: list[str] = []


@events.test_start.add_listener
def find_entities(environment, **_kwargs):
    """The entities to visit: every labelled thing of the build, asked once before the run."""
    query = (
        "SELECT DISTINCT ?s WHERE { ?s rdfs:label ?l "
        'FILTER(STRSTARTS(STR(?s), "https://w3id.org/treatygraph/id/")) }'
    )
    url = f"{environment.host}/sparql?" + urllib.parse.urlencode({"query": query})
    request = urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        rows = json.load(response)["results"]["bindings"]
    base = "https://w3id.org/treatygraph"
    ENTITY_PATHS[:] = sorted(row["s"]["value"][len(base) :] for row in rows)


class Reader(HttpUser):
    weight = 49
    wait_time = between(0.05, 0.5)

    def _entity(self) -> str:
        return random.choice(ENTITY_PATHS)

    @task(4)
    def query(self):
        name, text = random.choice(list(QUERIES.items()))
        with self.client.get(
            "/sparql",
            params={"query": text},
            headers={"Accept": "application/sparql-results+json"},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            elif not response.json()["results"]["bindings"]:
                response.failure("no rows")

    @task(3)
    def entity_page(self):
        path = self._entity().replace("/id/", "/doc/", 1)
        with self.client.get(path, name="page: /doc/ (HTML)", catch_response=True) as response:
            if response.status_code != 200 or "<html" not in response.text[:200]:
                response.failure(f"{response.status_code}")

    @task(2)
    def entity_turtle(self):
        with self.client.get(
            self._entity(),
            headers={"Accept": "text/turtle"},
            name="page: /id/ -> 303 -> Turtle",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or not response.history:
                response.failure(f"{response.status_code}, redirects {len(response.history)}")
            elif "@prefix" not in response.text:
                response.failure("not Turtle")

    @task(2)
    def search(self):
        with self.client.get(
            "/search",
            params={"q": random.choice(SEARCHES), "format": "json"},
            name="search",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or "results" not in response.json():
                response.failure(f"{response.status_code}")

    @task(1)
    def dump(self):
        name = random.choice(DUMPS)
        with self.client.get(
            f"/dumps/{name}", name=f"dump: {name}", catch_response=True
        ) as response:
            if response.status_code != 200 or not response.content:
                response.failure(f"{response.status_code}")


class Runaway(HttpUser):
    """One client that keeps sending a query too big to finish: its 504 is intended."""

    fixed_count = 1
    wait_time = constant(5)

    @task
    def runaway(self):
        with self.client.get(
            "/sparql",
            params={"query": RUNAWAY},
            name="sparql: runaway (504 intended)",
            catch_response=True,
        ) as response:
            if response.status_code == 504 and "timed out" in response.text:
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")
