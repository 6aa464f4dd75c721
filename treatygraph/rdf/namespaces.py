"""Namespaces: the standard vocabularies we reuse and the project's own, which follow the base IRI."""

from __future__ import annotations

from dataclasses import dataclass

from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SH, SKOS, TIME, VOID, XSD

from treatygraph.core.config import CANONICAL_BASE_IRI

ORG = Namespace("http://www.w3.org/ns/org#")
SCHEMA = Namespace("http://schema.org/")
WD = Namespace("http://www.wikidata.org/entity/")
WDT = Namespace("http://www.wikidata.org/prop/direct/")
WDP = Namespace("http://www.wikidata.org/prop/")
PS = Namespace("http://www.wikidata.org/prop/statement/")
PQ = Namespace("http://www.wikidata.org/prop/qualifier/")
PR = Namespace("http://www.wikidata.org/prop/reference/")
PSV = Namespace("http://www.wikidata.org/prop/statement/value/")
PQV = Namespace("http://www.wikidata.org/prop/qualifier/value/")
WDS = Namespace("http://www.wikidata.org/entity/statement/")
WDREF = Namespace("http://www.wikidata.org/reference/")
WIKIBASE = Namespace("http://wikiba.se/ontology#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")

STANDARD_PREFIXES: dict[str, str] = {
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "owl": str(OWL),
    "xsd": str(XSD),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "foaf": str(FOAF),
    "prov": str(PROV),
    "time": str(TIME),
    "org": str(ORG),
    "schema": str(SCHEMA),
    "sh": str(SH),
    "void": str(VOID),
    "dcat": str(DCAT),
    "wd": str(WD),
    "wdt": str(WDT),
    "p": str(WDP),
    "ps": str(PS),
    "pq": str(PQ),
    "pr": str(PR),
    "psv": str(PSV),
    "pqv": str(PQV),
    "wikibase": str(WIKIBASE),
}


@dataclass(frozen=True)
class ProjectNamespaces:
    """The IRIs that depend on the configured base IRI."""

    base: str

    @property
    def tg(self) -> Namespace:
        return Namespace(f"{self.base}/ontology/")

    @property
    def id(self) -> str:
        return f"{self.base}/id/"

    @property
    def shapes(self) -> Namespace:
        return Namespace(f"{self.base}/shapes/")

    def entity(self, record_id: str) -> str:
        """The IRI of a curated record, from its `kind/slug` id."""
        return f"{self.id}{record_id}"

    def graph(self, name: str) -> str:
        return f"{self.base}/graph/{name}"

    def prefixes(self) -> dict[str, str]:
        """Prefixes for readable serializations: ours first, then the standard ones."""
        ours = {"tg": str(self.tg)}
        return {**ours, **STANDARD_PREFIXES}

    def rebase(self, text: str) -> str:
        """Rewrite IRIs written against the canonical base so they use the configured one."""
        if self.base == CANONICAL_BASE_IRI:
            return text
        return text.replace(CANONICAL_BASE_IRI + "/", self.base + "/")


# The named graphs of the store; the nq/trig dumps keep them apart.
GRAPH_FACTS = "facts"
GRAPH_PROVENANCE = "provenance"
GRAPH_ONTOLOGY = "ontology"
GRAPH_LINKS = "wikidata-links"
GRAPH_WIKIDATA_VIEW = "wikidata-view"
