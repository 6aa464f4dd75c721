"""What GET /sparql without a query shows: the service description, and the editor's examples."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, VOID, XSD

from treatygraph.rdf.namespaces import SD, ProjectNamespaces

from .formats import GRAPH, SPARQL_FORMATS, offered

RDFLIB_FORMATS = {f.key: f.rdflib for f in offered(GRAPH)}  # the service description's writers
ENTAILMENT_SIMPLE = URIRef("http://www.w3.org/ns/entailment/Simple")


UNION_SIZE = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
GRAPH_SIZES = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"


def graph_sizes(select: Callable[[str], list[dict]]) -> tuple[int, dict[str, int]]:
    """Triples in the union default graph, and in each named graph.

    `select` runs a SELECT query and gives its SPARQL JSON bindings.
    """
    total = int(select(UNION_SIZE)[0]["n"]["value"])
    named = {row["g"]["value"]: int(row["n"]["value"]) for row in select(GRAPH_SIZES)}
    return total, named


def service_description(
    endpoint: str, sizes: tuple[int, dict[str, int]], ns: ProjectNamespaces
) -> Graph:
    """The SPARQL 1.1 Service Description of the endpoint (sd: and void: vocabularies), with
    the base IRI relative IRIs in a query resolve against (`tg:queryBaseIRI`: SPARQL 1.1
    Protocol lets a service choose it, and sd: has no term for it)."""
    graph = Graph()
    graph.bind("sd", SD)
    graph.bind("void", VOID)
    graph.bind("tg", ns.tg)
    service = URIRef(endpoint)
    graph.add((service, ns.tg.queryBaseIRI, URIRef(ns.id)))
    graph.add((service, RDF.type, SD.Service))
    graph.add((service, SD.endpoint, service))
    graph.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    graph.add((service, SD.feature, SD.UnionDefaultGraph))
    graph.add((service, SD.feature, SD.BasicFederatedQuery))
    graph.add((service, SD.defaultEntailmentRegime, ENTAILMENT_SIMPLE))
    for fmt in SPARQL_FORMATS:
        graph.add((service, SD.resultFormat, URIRef(fmt.w3c)))
    total, named = sizes
    dataset = BNode()
    graph.add((service, SD.defaultDataset, dataset))
    graph.add((dataset, RDF.type, SD.Dataset))
    default = BNode()
    graph.add((dataset, SD.defaultGraph, default))
    graph.add((default, RDF.type, SD.Graph))
    graph.add((default, VOID.triples, Literal(total, datatype=XSD.integer)))
    for name, count in named.items():
        named_graph, described = BNode(), BNode()
        graph.add((dataset, SD.namedGraph, named_graph))
        graph.add((named_graph, RDF.type, SD.NamedGraph))
        graph.add((named_graph, SD.name, URIRef(name)))
        graph.add((named_graph, SD.graph, described))
        graph.add((described, RDF.type, SD.Graph))
        graph.add((described, VOID.triples, Literal(count, datatype=XSD.integer)))
    return graph


@dataclass(frozen=True)
class Example:
    name: str
    question: str
    query: str


_QUESTION = re.compile(r"^#\s*Question:\s*(.*)$", re.IGNORECASE)


def read_examples(folder: Path, ns: ProjectNamespaces | None = None) -> list[Example]:
    """Every `*.rq` in the folder, titled by its leading `# Question:` comment lines.

    The files are written against the canonical base IRI (`BASE <https://w3id.org/treatygraph/id/>`,
    `tg:`); pass the served build's namespaces so that the queries offered use its base IRI."""
    examples = []
    for path in sorted(folder.glob("*.rq")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        query = ns.rebase(text) if ns is not None else text
        examples.append(Example(path.stem, _question(text) or path.stem, query))
    return examples


def _question(text: str) -> str:
    parts: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        found = _QUESTION.match(stripped)
        if found:
            parts.append(found.group(1).strip())
        elif parts and re.match(r"^#\s*[A-Za-z -]+:", stripped) is None:
            parts.append(stripped.lstrip("#").strip())
        elif parts:
            break
    return " ".join(p for p in parts if p)
