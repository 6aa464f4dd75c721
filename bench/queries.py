"""The query mix of the endpoint benchmark, over the entities the generator made.

Every query declares its prefixes (raw Oxigraph and rdflib-endpoint predeclare none) and reads
the default graph as the union of the named graphs, as our endpoint does.
"""

from __future__ import annotations

import random
import urllib.parse

from treatygraph.core.config import CANONICAL_BASE_IRI

ID = f"{CANONICAL_BASE_IRI}/id/"
PREFIXES = f"""PREFIX tg: <{CANONICAL_BASE_IRI}/ontology/>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX p: <http://www.wikidata.org/prop/>
PREFIX ps: <http://www.wikidata.org/prop/statement/>
PREFIX pq: <http://www.wikidata.org/prop/qualifier/>
"""
SHAPES = (
    "entity lookup",
    "members on a date",
    "aggregation by organization",
    "DESCRIBE",
    "label search",
    "Wikidata-shaped p:/pq:",
)
SYLLABLES = ["ar", "be", "ca", "do", "el", "fa", "gu", "ha", "in", "jo", "ka", "lu", "ma"]


def query(shape: str, rng: random.Random, counts: dict[str, int]) -> str:
    state = f"<{ID}state/s{rng.randrange(counts['states'])}>"
    organization = f"<{ID}organization/o{rng.randrange(counts['organizations'])}>"
    membership = f"<{ID}membership/m{rng.randrange(max(1, counts['memberships']))}>"
    if shape == "entity lookup":
        return f"SELECT ?p ?o WHERE {{ {state} ?p ?o }}"
    if shape == "members on a date":
        date = f"{rng.randint(1950, 2020)}-{rng.randint(1, 12):02d}-01"
        # Written as queries/01 and queries/14 ask it: the claims in the same group as the
        # membership, the end date OPTIONAL after them. (With the claims after the OPTIONAL,
        # Oxigraph joins every claim of the store before it filters: 2 s at 1M, 35 s at 10M.)
        return f"""SELECT ?state ?start ?end ?source ?quote WHERE {{
  ?m org:organization {organization} ; org:member ?state ; org:role tg:MemberRole ;
     org:memberDuring ?period .
  ?period time:hasBeginning/time:inXSDDate ?start .
  ?claim tg:claimAbout ?m ; prov:wasQuotedFrom ?source ; tg:quote ?quote .
  OPTIONAL {{ ?period time:hasEnd/time:inXSDDate ?end }}
  FILTER(?start <= "{date}"^^xsd:date && (!BOUND(?end) || ?end > "{date}"^^xsd:date))
}} ORDER BY ?state"""
    if shape == "aggregation by organization":
        role = rng.choice(["MemberRole", "ObserverRole", "PartnerRole"])
        return f"""SELECT ?organization (COUNT(DISTINCT ?state) AS ?members) WHERE {{
  ?m org:organization ?organization ; org:member ?state ; org:role tg:{role} .
}} GROUP BY ?organization ORDER BY DESC(?members) LIMIT 10"""
    if shape == "DESCRIBE":
        return f"DESCRIBE {membership}"
    if shape == "label search":
        needle = rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
        return f"""SELECT ?thing ?label WHERE {{
  ?thing rdfs:label ?label . FILTER(CONTAINS(LCASE(STR(?label)), "{needle}"))
}} LIMIT 20"""
    if shape == "Wikidata-shaped p:/pq:":
        return f"""SELECT ?organization ?start ?end WHERE {{
  {state} p:P463 ?statement .
  ?statement ps:P463 ?organization ; pq:P580 ?start .
  OPTIONAL {{ ?statement pq:P582 ?end }}
}}"""
    raise ValueError(shape)


def mix(
    counts: dict[str, int], path: str, n: int = 600, seed: int = 11, shapes=SHAPES
) -> list[tuple[str, str]]:
    """n (GET path, Accept) pairs, the shapes in equal parts, shuffled, the same for every seed."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        shape = shapes[i % len(shapes)]
        text = PREFIXES + query(shape, rng, counts)
        accept = "text/turtle" if shape == "DESCRIBE" else "application/sparql-results+json"
        requests.append((f"{path}?{urllib.parse.urlencode({'query': text})}", accept))
    rng.shuffle(requests)
    return requests


def entity_pages(counts: dict[str, int], n: int = 600, seed: int = 13) -> list[tuple[str, str]]:
    """Paths of entity pages (HTML documents) of states, organizations and memberships."""
    rng = random.Random(seed)
    kinds = [("state", "s", "states"), ("organization", "o", "organizations")]
    kinds.append(("membership", "m", "memberships"))
    pages = []
    for i in range(n):
        kind, letter, key = kinds[i % len(kinds)]
        pages.append((f"/doc/{kind}/{letter}{rng.randrange(counts[key])}", "text/html"))
    return pages
