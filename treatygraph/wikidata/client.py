"""Asking a Wikidata SPARQL endpoint (the Query Service, or a local mirror in tests) through
SPARQLWrapper, and proposing items for our unlinked entities."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from treatygraph.curation.links import Entity, Link, today

USER_AGENT = "treatygraph/0.1 (entity linking and diff; +https://w3id.org/treatygraph)"
WD_ITEM = re.compile(r"^http://www\.wikidata\.org/entity/(Q[1-9][0-9]*)$")
LABEL_LANGUAGES = ("en", "ru")
BATCH = 80

# The classes an item must be an instance of (wdt:P31/wdt:P279*) to be proposed for a kind.
# Direct P31 values are listed too, so a mirror without the class tree still answers.
TYPE_CONSTRAINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "state": (("Q3624078", "sovereign state"), ("Q6256", "country")),
    "person": (("Q5", "human"),),
    "organization": (("Q484652", "international organization"), ("Q43229", "organization")),
    "body": (("Q43229", "organization"),),
    "treaty": (("Q131569", "treaty"), ("Q1864008", "legal instrument")),
    "place": (("Q2221906", "geographic location"), ("Q486972", "human settlement")),
    "meeting": (("Q2761147", "meeting"),),
}


class WikidataError(Exception):
    """The endpoint could not be asked or gave an answer we cannot use."""


def ask(endpoint: str, query: str, timeout: float = 60) -> list[dict[str, str]]:
    """Run a SELECT query; each row maps variable names to the values' text."""
    from urllib.error import HTTPError, URLError

    from SPARQLWrapper import JSON, POST, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    client = SPARQLWrapper(endpoint, agent=USER_AGENT)
    client.setQuery(query)
    client.setMethod(POST)
    client.setReturnFormat(JSON)
    client.setTimeout(max(1, round(timeout)))
    try:
        result = client.queryAndConvert()
    except (HTTPError, URLError, OSError, SPARQLWrapperException) as err:
        raise WikidataError(f"{endpoint}: {err}") from None
    if not isinstance(result, dict) or "results" not in result:
        raise WikidataError(f"{endpoint}: the answer is not SPARQL JSON results")
    rows = []
    for binding in result["results"]["bindings"]:
        row = {}
        for name, cell in binding.items():
            row[name] = cell["value"]
            if cell.get("xml:lang"):
                row[f"{name}@lang"] = cell["xml:lang"]
        rows.append(row)
    return rows


def qid(iri: str) -> str | None:
    match = WD_ITEM.match(iri)
    return match.group(1) if match else None


def literal(text: str, language: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"@{language}'


@dataclass
class Candidate:
    """A Wikidata item whose label or alias matches one of an entity's names."""

    qid: str
    matches: set[tuple[str, str, str]] = field(default_factory=set)  # (text, language, label|alias)
    classes: set[str] = field(default_factory=set)
    typed: bool = False

    def evidence(self) -> str:
        names = ", ".join(f'"{text}"@{lang} ({via})' for text, lang, via in sorted(self.matches))
        classes = ", ".join(sorted(self.classes, key=lambda q: int(q[1:]))) or "none"
        return f"{names}; P31 {classes}"


@dataclass
class Proposal:
    entity: Entity
    candidates: list[Candidate]

    @property
    def typed(self) -> list[Candidate]:
        return [c for c in self.candidates if c.typed]

    @property
    def verdict(self) -> str:
        if self.entity.kind not in TYPE_CONSTRAINTS:
            return "no type constraint for this kind: link by hand"
        typed = self.typed
        if len(typed) == 1:
            return f"proposed: {typed[0].qid}"
        if typed:
            return "ambiguous: " + ", ".join(c.qid for c in typed)
        if self.candidates:
            return "no candidate of the right type"
        return "no candidate"

    def accepted(self, endpoint: str) -> Link | None:
        typed = self.typed
        if self.entity.kind not in TYPE_CONSTRAINTS or len(typed) != 1:
            return None
        best = typed[0]
        text, lang, via = sorted(best.matches)[0]
        classes = " ".join(
            sorted(best.classes & {q for q, _ in TYPE_CONSTRAINTS[self.entity.kind]})
        )
        how = (
            f'treatygraph link --accept: label+type match ("{text}"@{lang} {via}; '
            f"P31 {classes or 'subclass of ' + TYPE_CONSTRAINTS[self.entity.kind][0][0]}) "
            f"at {endpoint}"
        )
        return Link(self.entity.record_id, best.qid, text, how, today())


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def candidate_query(kind: str, entities: list[Entity]) -> str:
    """Items whose label or alias (en, ru) is one of the entities' names, with their P31."""
    rows = []
    for entity in entities:
        for text, lang in entity.names:
            if lang in LABEL_LANGUAGES:
                rows.append(f"(<urn:treatygraph:{entity.record_id}> {literal(text, lang)})")
    allowed = " ".join(f"wd:{q}" for q, _ in TYPE_CONSTRAINTS[kind])
    return f"""PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?ours ?name ?item ?via ?class ?typed WHERE {{
  VALUES (?ours ?name) {{ {" ".join(rows)} }}
  VALUES ?via {{ rdfs:label skos:altLabel }}
  ?item ?via ?name .
  OPTIONAL {{ ?item wdt:P31 ?class }}
  BIND(EXISTS {{ VALUES ?allowed {{ {allowed} }} ?item wdt:P31/wdt:P279* ?allowed }} AS ?typed)
}}"""


def propose(endpoint: str, entities: list[Entity], timeout: float = 60) -> list[Proposal]:
    """Ask the endpoint for candidates for each entity, grouped by kind and batched."""
    by_kind: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_kind[entity.kind].append(entity)
    found: dict[str, dict[str, Candidate]] = defaultdict(dict)
    for kind, members in sorted(by_kind.items()):
        if kind not in TYPE_CONSTRAINTS:
            continue
        for batch in _chunks([e for e in members if e.names], BATCH):
            for row in ask(endpoint, candidate_query(kind, batch), timeout):
                item = qid(row.get("item", ""))
                if item is None:
                    continue
                record_id = row["ours"].removeprefix("urn:treatygraph:")
                candidate = found[record_id].setdefault(item, Candidate(item))
                via = "label" if row["via"].endswith("#label") else "alias"
                candidate.matches.add((row["name"], row.get("name@lang", ""), via))
                if row.get("class") and qid(row["class"]):
                    candidate.classes.add(qid(row["class"]))
                candidate.typed = candidate.typed or row.get("typed") in ("true", "1")
    return [
        Proposal(e, sorted(found[e.record_id].values(), key=lambda c: int(c.qid[1:])))
        for e in entities
    ]
