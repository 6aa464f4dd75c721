"""Load every input and assemble the graphs of the dataset, checking quotes and shapes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, URIRef

from treatygraph.core.config import Config
from treatygraph.core.errors import Collector, DataError, Problem
from treatygraph.curation.facts import FactsResult, Mapping, load_facts
from treatygraph.curation.links import load_links
from treatygraph.curation.sources import load_sources, sources_graph
from treatygraph.rdf.io import load_turtle_dir
from treatygraph.rdf.namespaces import (
    GRAPH_FACTS,
    GRAPH_LINKS,
    GRAPH_ONTOLOGY,
    GRAPH_PROVENANCE,
    GRAPH_WIKIDATA_VIEW,
    ProjectNamespaces,
)
from treatygraph.validation.report import ValidationReport
from treatygraph.wikidata.view import wikidata_view


@dataclass
class Assembled:
    """The dataset as named graphs, before it is written anywhere."""

    ns: ProjectNamespaces
    graphs: dict[str, Graph]
    shapes: Graph
    facts: FactsResult

    def union(self, *names: str) -> Graph:
        graph = Graph()
        for name in names or self.graphs:
            for triple in self.graphs[name]:
                graph.add(triple)
        return graph

    def locate(self, iri: URIRef) -> str | None:
        """The file and line of the record an IRI (or one of its #fragments) comes from."""
        text = str(iri).split("#", 1)[0]
        if not text.startswith(self.ns.id):
            return None
        found = self.facts.records.get(text[len(self.ns.id) :])
        return f"{found.path}:{found.line}" if found else None


def assemble(config: Config) -> Assembled:
    """Read ontology, shapes, sources and facts; raise DataError with file:line on any problem."""
    ns = ProjectNamespaces(config.base_iri)
    ontology = load_turtle_dir(config.ontology_dir, ns)
    shapes = load_turtle_dir(config.shapes_dir, ns)
    mapping = Mapping.load(config.ontology_dir / "mapping.yaml", ns)
    problems = Collector()
    sources = load_sources(config.sources_dir, problems)
    described = sources_graph(sources, ns, problems)
    problems.raise_if_any()
    facts = load_facts(config.facts_dir, mapping, ns, sources)
    provenance = described + facts.provenance
    links = load_links(config.data_dir, ns, facts.records)
    graphs = {
        GRAPH_ONTOLOGY: ontology,
        GRAPH_FACTS: facts.facts,
        GRAPH_PROVENANCE: provenance,
        GRAPH_LINKS: links,
        GRAPH_WIKIDATA_VIEW: wikidata_view(ns, facts.facts, facts.provenance, ontology),
    }
    return Assembled(ns=ns, graphs=graphs, shapes=shapes, facts=facts)


def validate(assembled: Assembled) -> ValidationReport:
    """SHACL-validate the facts, provenance and links, with the ontology for the class hierarchy,
    with the project's SHACL-to-SPARQL engine on an in-memory Oxigraph store.

    The Wikidata-shaped view is derived from the validated graphs, so it is not validated again.
    A shape the engine cannot evaluate is a DataError naming it, never a pass.
    """
    import pyoxigraph as ox

    from treatygraph.validation.shacl_sparql import UnsupportedShape, validate_store

    store = ox.Store()
    validated = [name for name in assembled.graphs if name != GRAPH_WIKIDATA_VIEW]
    for name in validated:
        store.bulk_load(
            assembled.graphs[name].serialize(format="nt", encoding="utf-8"),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(assembled.ns.graph(name)),
        )
    try:
        return validate_store(
            store,
            assembled.shapes,
            locate=assembled.locate,
            graphs=[assembled.ns.graph(name) for name in validated],
        )
    except UnsupportedShape as error:
        raise DataError(Problem(Path("shapes"), None, str(error))) from None
