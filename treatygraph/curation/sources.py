"""The source registry: the documents facts are taken from, and the check that quotes are verbatim."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, TIME, XSD

from treatygraph.core.dates import PRECISION_UNITS, parse_date
from treatygraph.core.errors import Collector, DataError
from treatygraph.core.files import read_text
from treatygraph.rdf.namespaces import ProjectNamespaces

from .yamlio import key_line, load_records, record_line

_SPACE = re.compile(r"\s+")
REQUIRED = ("id", "file", "title", "publisher", "language", "sha256")
SOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$")


def _registry_problem(record) -> tuple[str, str] | None:
    """The first key of a registry entry whose value is unusable, and why."""
    for key in ("title", "publisher", "subtitle", "author", "contributor", "date_inference"):
        if key in record and not isinstance(record[key], str | None):
            return key, f"{key} must be text, not {record[key]!r}"
    if not SOURCE_ID.match(str(record["id"])):
        return "id", f"source id {record['id']!r} must be lower-case letters, digits and hyphens"
    name = str(record["file"])
    if Path(name).name != name or name.startswith("."):
        return "file", f"file {name!r} must be a bare file name, in the folder of sources.yaml"
    if not LANGUAGE_TAG.match(str(record["language"])):
        return "language", f"language {record['language']!r} is not a language tag such as en"
    return None


def normalise_space(text: str) -> str:
    """Collapse every run of whitespace to one space, so line breaks in quotes do not matter."""
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Source:
    """One source document and what is known about it."""

    id: str
    path: Path
    title: str
    publisher: str
    language: str
    date: object | None
    date_inference: str | None
    tail_description: str | None
    metadata: dict
    line: int
    body: str
    tail: str

    def locate(self, quote: str) -> str | None:
        """Where a quote is found: "body", "tail" (the unrelated boilerplate), or None."""
        needle = normalise_space(quote)
        if not needle:
            return None
        if needle in self.body:
            return "body"
        if needle in self.tail:
            return "tail"
        return None


def load_sources(sources_dir: Path, problems: Collector) -> dict[str, Source]:
    """Read `sources.yaml` and the documents it lists, checking each file and its checksum."""
    registry = sources_dir / "sources.yaml"
    sources: dict[str, Source] = {}
    for record in load_records(registry):
        line = record_line(record)
        missing = [k for k in REQUIRED if not record.get(k)]
        if missing:
            problems.add(registry, line, f"source is missing {', '.join(missing)}")
            continue
        bad = _registry_problem(record)
        if bad:
            problems.add(registry, key_line(record, bad[0]), bad[1])
            continue
        source_id = str(record["id"])
        if source_id in sources:
            problems.add(registry, line, f"duplicate source id {source_id!r}")
            continue
        path = sources_dir / str(record["file"])
        if not path.is_file():
            problems.add(
                registry, key_line(record, "file"), f"source file {path.name} does not exist"
            )
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != str(record["sha256"]):
            problems.add(
                registry,
                key_line(record, "sha256"),
                f"{path.name} has changed: sha256 is {digest}, the registry says {record['sha256']}",
            )
            continue
        try:
            text = read_text(path)
        except DataError as err:
            problems.extend(err.problems)
            continue
        marker = record.get("tail_starts_at")
        body, tail = text, ""
        if marker:
            cut = text.find(str(marker))
            if cut < 0:
                problems.add(
                    registry,
                    key_line(record, "tail_starts_at"),
                    f"tail marker not found in {path.name}",
                )
                continue
            body, tail = text[:cut], text[cut:]
        date = record.get("date")
        if date is not None:
            try:
                parse_date(date)
            except ValueError as err:
                problems.add(registry, key_line(record, "date"), f"date: {err}")
                continue
        sources[source_id] = Source(
            id=source_id,
            path=path,
            title=str(record["title"]),
            publisher=str(record["publisher"]),
            language=str(record["language"]),
            date=date,
            date_inference=record.get("date_inference"),
            tail_description=record.get("tail_description"),
            metadata=dict(record),
            line=line,
            body=normalise_space(body),
            tail=normalise_space(tail),
        )
    return sources


def sources_graph(sources: dict[str, Source], ns: ProjectNamespaces, problems: Collector) -> Graph:
    """Describe each source document in RDF: title, publisher, date (and how it was inferred), tail."""
    tg = ns.tg
    graph = Graph()
    for source in sources.values():
        iri = URIRef(ns.entity(f"source/{source.id}"))
        meta = source.metadata
        graph.add((iri, RDF.type, tg.SourceDocument))
        graph.add((iri, RDFS.label, Literal(source.title, lang=source.language)))
        graph.add((iri, DCTERMS.title, Literal(source.title, lang=source.language)))
        graph.add((iri, DCTERMS.publisher, Literal(source.publisher, lang="en")))
        graph.add((iri, DCTERMS.language, Literal(source.language, datatype=XSD.language)))
        graph.add((iri, tg.fileName, Literal(source.path.name)))
        graph.add((iri, tg.sha256, Literal(str(meta["sha256"]), datatype=XSD.hexBinary)))
        for key, predicate in (
            ("subtitle", DCTERMS.alternative),
            ("author", DCTERMS.creator),
            ("contributor", DCTERMS.contributor),
        ):
            if meta.get(key):
                graph.add((iri, predicate, Literal(str(meta[key]), lang="en")))
        graph.add((iri, tg.hasUnrelatedTail, Literal(bool(source.tail))))
        if source.tail_description:
            graph.add((iri, tg.tailDescription, Literal(source.tail_description, lang="en")))
        if source.date is not None:
            try:
                date = parse_date(source.date)
            except ValueError as err:
                problems.add(source.path.parent / "sources.yaml", source.line, f"date: {err}")
                continue
            instant = URIRef(f"{iri}#published")
            graph.add((iri, tg.publicationDate, instant))
            graph.add((instant, RDF.type, TIME.Instant))
            graph.add((instant, TIME.inXSDDate, Literal(date.start.isoformat(), datatype=XSD.date)))
            graph.add((instant, tg.datePrecision, PRECISION_UNITS[date.precision]))
            if date.precision == "year":
                graph.add((instant, TIME.inXSDgYear, Literal(date.text, datatype=XSD.gYear)))
            elif date.precision == "month":
                graph.add(
                    (instant, TIME.inXSDgYearMonth, Literal(date.text, datatype=XSD.gYearMonth))
                )
            if source.date_inference:
                graph.add(
                    (
                        instant,
                        tg.inference,
                        Literal(" ".join(source.date_inference.split()), lang="en"),
                    )
                )
    return graph
