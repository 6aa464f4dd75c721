"""The bulk dumps of a build, written with Oxigraph's serializers, and their VoID/DCAT description."""

from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD

from .namespaces import SD, ProjectNamespaces

DCAT_VERSION = URIRef(f"{DCAT}version")  # DCAT 3; rdflib ships the DCAT 2 terms
LICENCE = "https://creativecommons.org/licenses/by/4.0/"


@dataclass(frozen=True)
class Distribution:
    file: str
    media_type: str
    title: str


DISTRIBUTIONS = (
    Distribution(
        "treatygraph.ttl", "text/turtle", "The whole dataset as readable Turtle (graphs merged)"
    ),
    Distribution(
        "treatygraph.nt.gz",
        "application/n-triples",
        "The whole dataset as sorted N-Triples, gzipped",
    ),
    Distribution(
        "treatygraph.nq.gz",
        "application/n-quads",
        "The dataset with its named graphs, as sorted N-Quads, gzipped",
    ),
    Distribution(
        "treatygraph.jsonld", "application/ld+json", "The dataset with its named graphs, as JSON-LD"
    ),
    Distribution("ontology.ttl", "text/turtle", "The treatygraph ontology"),
    Distribution("shapes.ttl", "text/turtle", "The SHACL shapes the data is validated against"),
)


def _gzip(data: bytes) -> bytes:
    """Gzip with no name and no timestamp, so the same content gives the same bytes."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(data)
    return out.getvalue()


def sorted_lines(data: bytes) -> bytes:
    """Sort and deduplicate N-Triples/N-Quads lines, so dumps diff cleanly between releases."""
    lines = sorted(set(data.splitlines()))
    return b"\n".join(lines) + b"\n" if lines else b""


def union_triples(store: ox.Store):
    for quad in store.quads_for_pattern(None, None, None, None):
        yield quad.triple


def write_dumps(
    store: ox.Store,
    dumps_dir: Path,
    ns: ProjectNamespaces,
    ontology: Graph,
    shapes: Graph,
    version: str,
    built_at: str,
) -> int:
    """Write every distribution, SHA256SUMS and void.ttl; return the number of distinct triples."""
    dumps_dir.mkdir(parents=True, exist_ok=True)
    prefixes = ns.prefixes()
    nquads = sorted_lines(store.dump(format=ox.RdfFormat.N_QUADS))
    ntriples = sorted_lines(ox.serialize(union_triples(store), format=ox.RdfFormat.N_TRIPLES))
    triple_count = ntriples.count(b"\n")
    ordered = ox.parse(ntriples, format=ox.RdfFormat.N_TRIPLES)
    (dumps_dir / "treatygraph.ttl").write_bytes(
        ox.serialize(ordered, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
    )
    (dumps_dir / "treatygraph.nt.gz").write_bytes(_gzip(ntriples))
    (dumps_dir / "treatygraph.nq.gz").write_bytes(_gzip(nquads))
    (dumps_dir / "treatygraph.jsonld").write_bytes(
        ox.serialize(ox.parse(nquads, format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.JSON_LD)
    )
    (dumps_dir / "ontology.ttl").write_text(ontology.serialize(format="turtle"), encoding="utf-8")
    (dumps_dir / "shapes.ttl").write_text(shapes.serialize(format="turtle"), encoding="utf-8")
    sums = {
        d.file: hashlib.sha256((dumps_dir / d.file).read_bytes()).hexdigest() for d in DISTRIBUTIONS
    }
    (dumps_dir / "SHA256SUMS").write_text(
        "".join(f"{digest}  {name}\n" for name, digest in sums.items()), encoding="utf-8"
    )
    void = void_graph(ns, dumps_dir, sums, triple_count, version, built_at)
    (dumps_dir / "void.ttl").write_bytes(
        ox.serialize(
            ox.parse(void.serialize(format="nt").encode(), format=ox.RdfFormat.N_TRIPLES),
            format=ox.RdfFormat.TURTLE,
            prefixes=prefixes,
        )
    )
    return triple_count


def void_graph(
    ns: ProjectNamespaces,
    dumps_dir: Path,
    sums: dict[str, str],
    triple_count: int,
    version: str,
    built_at: str,
) -> Graph:
    """VoID + DCAT: the dataset, its distributions (size, type, checksum, licence) and endpoint."""
    g = Graph()
    dataset = URIRef(f"{ns.base}/dataset")
    licence = URIRef(LICENCE)
    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCTERMS.title, Literal("treatygraph", lang="en")))
    g.add(
        (
            dataset,
            DCTERMS.description,
            Literal(
                "Treaties, the organizations and bodies they create, and who is a member of what and when, "
                "each statement with the source and the verbatim quote that supports it. First dataset: the "
                "Collective Security Treaty Organization (CSTO) and its neighbours.",
                lang="en",
            ),
        )
    )
    g.add((dataset, DCTERMS.license, licence))
    g.add((dataset, DCAT_VERSION, Literal(version)))
    g.add((dataset, DCTERMS.modified, Literal(built_at, datatype=XSD.dateTime)))
    g.add((dataset, VOID.triples, Literal(triple_count, datatype=XSD.integer)))
    g.add((dataset, VOID.uriSpace, Literal(ns.id)))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(f"{ns.base}/sparql")))
    g.add((dataset, VOID.vocabulary, URIRef(str(ns.tg))))
    g.add((dataset, VOID.exampleResource, URIRef(ns.entity("organization/csto"))))
    g.add((dataset, VOID.exampleResource, URIRef(ns.entity("state/armenia"))))
    service = URIRef(f"{ns.base}/sparql")
    g.add((dataset, DCAT.accessService, service))
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, RDF.type, SD.Service))
    g.add((service, DCAT.endpointURL, service))
    g.add((service, SD.endpoint, service))
    for dist in DISTRIBUTIONS:
        node = URIRef(f"{ns.base}/dumps/{dist.file}")
        size = (dumps_dir / dist.file).stat().st_size
        g.add((dataset, DCAT.distribution, node))
        g.add((dataset, VOID.dataDump, node))
        g.add((node, RDF.type, DCAT.Distribution))
        g.add((node, DCTERMS.title, Literal(dist.title, lang="en")))
        g.add((node, DCAT.downloadURL, node))
        g.add(
            (
                node,
                DCAT.mediaType,
                URIRef(f"https://www.iana.org/assignments/media-types/{dist.media_type}"),
            )
        )
        g.add((node, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger)))
        g.add((node, DCTERMS.license, licence))
        checksum = URIRef(f"{node}#sha256")
        g.add((node, URIRef("http://spdx.org/rdf/terms#checksum"), checksum))
        g.add((checksum, RDF.type, URIRef("http://spdx.org/rdf/terms#Checksum")))
        g.add(
            (
                checksum,
                URIRef("http://spdx.org/rdf/terms#algorithm"),
                URIRef("http://spdx.org/rdf/terms#checksumAlgorithm_sha256"),
            )
        )
        g.add(
            (
                checksum,
                URIRef("http://spdx.org/rdf/terms#checksumValue"),
                Literal(sums[dist.file], datatype=XSD.hexBinary),
            )
        )
    return g
