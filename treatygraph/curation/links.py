"""Curated links to Wikidata: data/wikidata-links.tsv, one verified link per row.

Each row names one of our records (kind/slug), the Wikidata item it is the same as, the label
we matched, how the link was established and when. The build turns the rows into
`owl:sameAs <http://www.wikidata.org/entity/Q…>` in the wikidata-links graph; a row naming an
unknown record, a malformed QID, a duplicate or an item linked twice fails the build with the
file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDFS, SKOS

from treatygraph.core.errors import Collector, DataError, Problem
from treatygraph.core.files import read_text
from treatygraph.rdf.namespaces import WD, ProjectNamespaces

LINKS_FILE = "wikidata-links.tsv"
COLUMNS = ("id", "qid", "label", "established", "date")
QID = re.compile(r"^Q[1-9][0-9]*$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Kinds whose records are statements in Wikidata's model (a membership is a P463 statement, a
# term of office a P1037/P1308 statement), or parts of our own provenance: never linked to items.
UNLINKABLE_KINDS = frozenset({"membership", "term", "chairmanship", "source"})


@dataclass(frozen=True)
class Link:
    """One row of the links file."""

    record_id: str
    qid: str
    label: str
    established: str
    date: str
    line: int = 0

    def cells(self) -> tuple[str, ...]:
        return (self.record_id, self.qid, self.label, self.established, self.date)

    @property
    def item(self) -> URIRef:
        return WD[self.qid]


def links_path(data_dir: Path) -> Path:
    return data_dir / LINKS_FILE


def _clean(cell: str) -> str:
    return " ".join(cell.split())


def read_links(path: Path) -> list[Link]:
    """Parse the links file, checking its shape; raise DataError with file:line on any problem."""
    if not path.exists():
        return []
    problems = Collector()
    links: list[Link] = []
    lines = read_text(path).splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise DataError(Problem(path, 1, f"the header must be {'<TAB>'.join(COLUMNS)}"))
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        cells = text.split("\t")
        if len(cells) != len(COLUMNS):
            problems.add(
                path, number, f"expected {len(COLUMNS)} tab-separated columns, found {len(cells)}"
            )
            continue
        link = Link(*(_clean(c) for c in cells), line=number)
        if not QID.match(link.qid):
            problems.add(path, number, f"{link.qid!r} is not a Wikidata item id such as Q318693")
        if not link.established:
            problems.add(path, number, "say how the link was established")
        if not DATE.match(link.date):
            problems.add(path, number, f"date {link.date!r} is not YYYY-MM-DD")
        links.append(link)
    problems.raise_if_any()
    return links


def check_links(path: Path, links: list[Link], records: dict) -> None:
    """Every link names a known, linkable record; no record and no item is linked twice."""
    problems = Collector()
    by_id: dict[str, Link] = {}
    by_qid: dict[str, Link] = {}
    for link in links:
        kind = link.record_id.split("/", 1)[0]
        if link.record_id not in records:
            problems.add(path, link.line, f"no record has the id {link.record_id!r}")
        elif kind in UNLINKABLE_KINDS:
            problems.add(path, link.line, f"{kind} records are not linked to Wikidata items")
        if link.record_id in by_id:
            first = by_id[link.record_id].line
            problems.add(path, link.line, f"{link.record_id} is already linked at line {first}")
        if link.qid in by_qid:
            first = by_qid[link.qid]
            problems.add(
                path,
                link.line,
                f"{link.qid} is already linked to {first.record_id} at line {first.line}",
            )
        by_id.setdefault(link.record_id, link)
        by_qid.setdefault(link.qid, link)
    problems.raise_if_any()


def load_links(data_dir: Path, ns: ProjectNamespaces, records: dict) -> Graph:
    """The wikidata-links graph: owl:sameAs from each linked record to its item."""
    path = links_path(data_dir)
    links = read_links(path)
    check_links(path, links, records)
    graph = Graph()
    for link in links:
        graph.add((URIRef(ns.entity(link.record_id)), OWL.sameAs, link.item))
    return graph


def canonical_links_text(links: list[Link]) -> str:
    rows = sorted({link.cells() for link in links})
    return "".join("\t".join(row) + "\n" for row in [COLUMNS, *rows])


def check_canonical_links(path: Path, fix: bool = False) -> bool:
    """Whether the links file is sorted and clean; rewrite it if `fix`. True when it changed."""
    if not path.exists():
        return False
    expected = canonical_links_text(read_links(path))
    if path.read_text(encoding="utf-8") == expected:
        return False
    if fix:
        path.write_text(expected, encoding="utf-8")
    return True


def append_links(path: Path, new: list[Link]) -> None:
    """Add rows and rewrite the file in canonical form."""
    write = read_links(path) + new
    path.write_text(canonical_links_text(write), encoding="utf-8")


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


@dataclass(frozen=True)
class Entity:
    """A curated record that could have a Wikidata item, with the names it goes by."""

    record_id: str
    kind: str
    label: str
    names: tuple[tuple[str, str], ...]  # (text, language)


def linkable_entities(facts: Graph, ns: ProjectNamespaces, records: dict) -> list[Entity]:
    """Every curated record of a kind that can have a Wikidata item, with its labels."""
    tg = ns.tg
    found = []
    for record_id in sorted(records):
        kind = record_id.split("/", 1)[0]
        if kind in UNLINKABLE_KINDS:
            continue
        subject = URIRef(ns.entity(record_id))
        names: dict[tuple[str, str], None] = {}
        label = ""
        for predicate in (RDFS.label, SKOS.altLabel, tg.shortName):
            for value in facts.objects(subject, predicate):
                language = getattr(value, "language", None) or "en"
                names[(str(value), language)] = None
                if predicate == RDFS.label and (language == "en" or not label):
                    label = str(value)
        found.append(Entity(record_id, kind, label, tuple(names)))
    return found


def unlinked_entities(
    facts: Graph, ns: ProjectNamespaces, records: dict, links: list[Link]
) -> list[Entity]:
    linked = {link.record_id for link in links}
    return [e for e in linkable_entities(facts, ns, records) if e.record_id not in linked]
