"""What the pages need to know about a whole build, computed once per build and cached on the app.

Labels of every resource, the ontology's terms (labels, comments, domain, range, Wikidata alignment),
the label search index, counts by class and the number of uses of each term.
"""

from __future__ import annotations

import difflib
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

import pyoxigraph as ox

from treatygraph.core.dates import format_date
from treatygraph.rdf.namespaces import GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW, ORG, WD

from .builds import OpenBuild
from .names import (
    ALL_TERMS,
    STANDARD_INVERSE_LABELS,
    STANDARD_LABELS,
    TERM_FACTS,
    Tenure,
    tenures,
    term_names,
)

RDF_TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"
TIME = "http://www.w3.org/2006/time#"
LABEL = ox.NamedNode(RDFS + "label")
ALT_LABEL = ox.NamedNode(SKOS + "altLabel")

INVERSE_LABEL_PREDICATES = ("inverseLabel",)


def normalize(text: str) -> str:
    """Case- and accent-insensitive form of a label: NFKD, no combining marks, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.casefold()).strip()


def humanize(iri: str) -> str:
    """A readable name from an IRI's local name: `memberDuring` -> `member during`."""
    local = re.split(r"[/#]", iri.rstrip("/"))[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", local).replace("-", " ").replace("_", " ")
    return spaced[:1].lower() + spaced[1:] if spaced[1:2].islower() else spaced


@dataclass
class Term:
    """An ontology term as the pages show it."""

    iri: str
    label: str
    kinds: list[str] = field(default_factory=list)
    comment: str = ""
    domain: list[str] = field(default_factory=list)
    range: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)
    close: list[str] = field(default_factory=list)
    inverse_label: str = ""

    @property
    def is_class(self) -> bool:
        return any(k in (OWL + "Class", RDFS + "Class") for k in self.kinds)

    @property
    def is_property(self) -> bool:
        return any(k.endswith("Property") for k in self.kinds)


@dataclass(frozen=True)
class Instant:
    """A time:Instant as the pages show it: its date, with precision and inference if stated."""

    date: ox.Term | None
    precision: ox.Term | None
    inference: ox.Term | None


@dataclass(frozen=True)
class MembershipFacts:
    """What a membership's name and its timeline bar are made of."""

    member: str | None
    group: str | None  # its organization, or its treaty
    role: str | None
    start: Instant | None
    end: Instant | None
    attested: Instant | None


class Remembered(dict):
    """A dict that forgets its oldest entries past `size`, so per-build lookups stay bounded on a
    store of millions of resources."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self._lock = threading.Lock()

    def __setitem__(self, key, value) -> None:
        with self._lock:
            super().__setitem__(key, value)
            while len(self) > self.size:
                super().__delitem__(next(iter(self)))


REMEMBERED = 100_000  # labels, classes, short names and membership facts kept per build
MEMBERSHIP_FACTS = """SELECT ?m ?member ?group ?treaty ?role ?typed ?labelled
       ?start ?sp ?sinf ?end ?ep ?einf ?seen ?seenp WHERE {
  PATTERN
  ?m org:member ?member .
  OPTIONAL { ?m org:organization ?group }
  OPTIONAL { ?m tg:treaty ?treaty }
  OPTIONAL { ?m org:role ?role }
  OPTIONAL { ?m a ?typed FILTER(?typed = org:Membership) }
  OPTIONAL { ?m rdfs:label ?labelled }
  OPTIONAL { ?m org:memberDuring ?i . ?i time:hasBeginning ?b . ?b time:inXSDDate ?start
             OPTIONAL { ?b tg:datePrecision ?sp } OPTIONAL { ?b tg:inference ?sinf } }
  OPTIONAL { ?m org:memberDuring ?j . ?j time:hasEnd ?e . ?e time:inXSDDate ?end
             OPTIONAL { ?e tg:datePrecision ?ep } OPTIONAL { ?e tg:inference ?einf } }
  OPTIONAL { ?m tg:attestedOn ?a . ?a time:inXSDDate ?seen OPTIONAL { ?a tg:datePrecision ?seenp } }
}"""


@dataclass(frozen=True)
class QuotedClaim:
    """A claim about a membership as its timeline row shows it."""

    iri: str
    source: str
    quote: str
    supports: frozenset[str]  # the properties it supports; empty for the whole record
    in_force: Instant | None  # the day its quote shows the membership in force (tg:inForceOn)


MEMBERSHIP_CLAIMS = """SELECT ?m ?claim ?source ?quote ?supports ?day ?dayp WHERE {
  VALUES ?m { MEMBERSHIPS }
  ?claim tg:claimAbout ?m ; prov:wasQuotedFrom ?source ; tg:quote ?quote .
  OPTIONAL { ?claim tg:supports ?supports }
  OPTIONAL { ?claim tg:inForceOn ?i . ?i time:inXSDDate ?day OPTIONAL { ?i tg:datePrecision ?dayp } }
}"""
SOURCE_NUMBER = re.compile(r"^(\d+)_")
ENTITIES = """SELECT DISTINCT ?s ?c WHERE {
  GRAPH ?g { ?s a ?c } FILTER(?g NOT IN (ASIDE))
  FILTER(STRSTARTS(STR(?s), "PREFIX") && !CONTAINS(STR(?s), "#"))
}"""


@dataclass(frozen=True)
class SearchHit:
    iri: str
    label: str
    matched: str
    types: tuple[str, ...]
    score: int


class Catalog:
    """Per-build lookups, each computed on first use."""

    def __init__(self, build: OpenBuild):
        self.build = build
        self.store = build.store
        self.base = build.ns.base
        self.tg = str(build.ns.tg)
        self.ontology_graph = ox.NamedNode(build.ns.graph(GRAPH_ONTOLOGY))
        self.view_graph = ox.NamedNode(build.ns.graph(GRAPH_WIKIDATA_VIEW))
        # Graphs that are not records: the vocabulary, and the same facts restated for Wikidata users.
        self.aside = (self.ontology_graph, self.view_graph)
        self._labels: dict[str, str | None] = Remembered(REMEMBERED)
        self._types: dict[str, tuple[str, ...]] = Remembered(REMEMBERED)
        self._shorts: dict[str, str] = Remembered(REMEMBERED)
        self._memberships: dict[str, MembershipFacts | None] = Remembered(REMEMBERED)
        self._membership_lists: dict[tuple[str, str], list[str]] = Remembered(1_000)
        self._membership_claims: dict[str, list[QuotedClaim]] = Remembered(REMEMBERED)
        self._source_names: dict[str, str] = Remembered(REMEMBERED)
        self._uses: dict[str, int] = {}
        self.lists: dict[str, list[str]] = {}  # the browse pages' lists, made once per build
        self._most_linked: dict[tuple[str, int], list[str]] = {}

    def warm(self) -> None:
        """Compute the whole-build lookups ahead of the first visitor."""
        try:
            self.search_index  # noqa: B018
            self.class_counts  # noqa: B018
        except OSError:
            pass  # an unreachable remote store: the first visitor's request will say so (503)

    def query(self, sparql: str):
        return self.store.query(
            sparql, use_default_graph_as_union=True, prefixes=self.build.ns.prefixes()
        )

    # -- labels and classes, looked up one IRI at a time and remembered -------------------------
    def _first_literal(self, iri: str, predicate: ox.NamedNode) -> str | None:
        """The English (or else any) literal value of a property, outside the Wikidata view."""
        best = None
        for quad in self.store.quads_for_pattern(ox.NamedNode(iri), predicate, None, None):
            if quad.graph_name == self.view_graph or not isinstance(quad.object, ox.Literal):
                continue
            if quad.object.language in ("en", None):
                return quad.object.value
            best = best or quad.object.value
        return best

    def rdfs_label(self, iri: str) -> str | None:
        """The rdfs:label of an IRI, or a name from the standard vocabularies, or None."""
        if iri not in self._labels:
            try:
                found = self._first_literal(iri, LABEL)
            except ValueError:
                found = None
            self._labels[iri] = found or STANDARD_LABELS.get(iri)
        return self._labels[iri]

    def types_of(self, iri: str) -> tuple[str, ...]:
        """The classes of a record (the ontology's own statements and the Wikidata view left out)."""
        if iri not in self._types:
            try:
                quads = self.store.quads_for_pattern(ox.NamedNode(iri), RDF_TYPE, None, None)
                found = {q.object.value for q in quads if q.graph_name not in self.aside}
            except ValueError:
                found = set()
            self._types[iri] = tuple(sorted(found))
        return self._types[iri]

    def _value(self, subject: ox.Term | None, predicate: str) -> ox.Term | None:
        """The first object of one property (one read per property: each quad read costs a lookup
        of every term in it, so reading a subject whole costs more than the few values needed)."""
        if not isinstance(subject, ox.NamedNode):
            return None
        for quad in self.store.quads_for_pattern(subject, ox.NamedNode(predicate), None, None):
            return quad.object
        return None

    def _instant(self, term: ox.Term | None, inference: bool = True) -> Instant | None:
        date = self._value(term, TIME + "inXSDDate")
        if date is None:
            return None
        return Instant(
            date,
            self._value(term, self.tg + "datePrecision"),
            self._value(term, self.tg + "inference") if inference else None,
        )

    def membership(self, iri: str) -> MembershipFacts | None:
        """Member, organization (or treaty), role and dates of a membership; None if no member."""
        if iri in self._memberships:
            return self._memberships[iri]
        node = ox.NamedNode(iri)
        member = self._value(node, str(ORG) + "member")
        facts = None
        if member is not None:
            group = self._value(node, str(ORG) + "organization") or self._value(
                node, self.tg + "treaty"
            )
            role = self._value(node, str(ORG) + "role")
            period = self._value(node, str(ORG) + "memberDuring")
            facts = MembershipFacts(
                member=member.value,
                group=group.value if group else None,
                role=role.value if role else None,
                start=self._instant(self._value(period, TIME + "hasBeginning")),
                end=self._instant(self._value(period, TIME + "hasEnd")),
                attested=self._instant(self._value(node, self.tg + "attestedOn"), inference=False),
            )
        self._memberships[iri] = facts
        return facts

    def memberships_of(self, iri: str) -> list[str]:
        """The memberships whose member is `iri`, their facts read in one query."""
        return self._read_memberships(iri, "?m org:member ?x .")

    def memberships_in(self, iri: str) -> list[str]:
        """The memberships in an organization or treaty `iri`, their facts read in one query."""
        return self._read_memberships(iri, "{ ?m org:organization ?x } UNION { ?m tg:treaty ?x }")

    def all_memberships(self) -> list[str]:
        """Every membership, their facts (and so their names) read in one query."""
        return self._read_memberships(None, "?m a org:Membership .")

    def _read_memberships(self, iri: str | None, pattern: str) -> list[str]:
        """One query for what many quad reads per membership would fetch: Oxigraph joins on its
        term ids and spells out only the values asked for (a quad read spells out all four)."""
        key = (iri, pattern)
        if key in self._membership_lists:
            return self._membership_lists[key]
        if iri is not None:
            node = ox.NamedNode(iri)  # refuses what is not an IRI before it goes into a query
            pattern = pattern.replace("?x", f"<{node.value}>")
        rows = self.query(MEMBERSHIP_FACTS.replace("PATTERN", pattern))
        found: dict[str, MembershipFacts] = {}
        labelled = set()
        for row in rows:
            iri_m = row["m"].value
            if iri_m in found:
                continue
            group = row["group"] or row["treaty"]
            found[iri_m] = MembershipFacts(
                member=row["member"].value,
                group=group.value if group else None,
                role=row["role"].value if row["role"] else None,
                start=_instant_of(row, "start", "sp", "sinf"),
                end=_instant_of(row, "end", "ep", "einf"),
                attested=_instant_of(row, "seen", "seenp", None),
            )
            if row["labelled"] is not None or row["typed"] is None:
                labelled.add(iri_m)  # named the usual way, from its label or its classes
        for iri_m, facts in found.items():
            self._memberships[iri_m] = facts
            if iri_m not in labelled:
                self._labels[iri_m] = self._membership_label(iri_m)
        self._membership_lists[key] = list(found)
        return self._membership_lists[key]

    def membership_claims(self, memberships: list[str]) -> dict[str, list[QuotedClaim]]:
        """The claims of each membership, with what they support and the day each shows it in
        force, read in one query for those not read before."""
        unread = [m for m in memberships if m not in self._membership_claims]
        if unread:
            values = " ".join(f"<{ox.NamedNode(m).value}>" for m in unread)
            parts: dict[str, dict[str, dict]] = {m: {} for m in unread}
            for row in self.query(MEMBERSHIP_CLAIMS.replace("MEMBERSHIPS", values)):
                claim = parts[row["m"].value].setdefault(
                    row["claim"].value,
                    {
                        "source": row["source"].value,
                        "quote": row["quote"].value,
                        "supports": set(),
                        "in_force": _instant_of(row, "day", "dayp", None),
                    },
                )
                if row["supports"] is not None:
                    claim["supports"].add(row["supports"].value)
            for membership, claims in parts.items():
                self._membership_claims[membership] = [
                    QuotedClaim(
                        iri,
                        found["source"],
                        found["quote"],
                        frozenset(found["supports"]),
                        found["in_force"],
                    )
                    for iri, found in sorted(claims.items(), key=lambda item: _claim_order(item[0]))
                ]
        return {m: self._membership_claims.get(m, []) for m in memberships}

    def source_name(self, iri: str) -> str:
        """How the notes and the pages cite a source document: `source 004`, from its file name."""
        if iri not in self._source_names:
            file_name = self._first_literal(iri, ox.NamedNode(self.tg + "fileName")) or ""
            number = SOURCE_NUMBER.match(file_name)
            self._source_names[iri] = f"source {number.group(1)}" if number else self.label(iri)
        return self._source_names[iri]

    def _membership_label(self, iri: str) -> str | None:
        """Memberships carry no label: `Armenia: member of CSTO`."""
        facts = self.membership(iri)
        if facts is None:
            return None
        role_name = self.label(facts.role) if facts.role else "member"
        group = self.short(facts.group) if facts.group else "?"
        name = f"{self.short(facts.member)}: {role_name} of {group}"
        start, end = _date_text(facts.start), _date_text(facts.end)
        if start and end:
            return f"{name}, {start} \N{EN DASH} {end}"
        if start:
            return f"{name}, since {start}"
        return f"{name}, until {end}" if end else name

    @cached_property
    def term_names(self) -> dict[str, str]:
        """Composed names of the terms of office (they carry no label), read in one query."""
        return term_names(self.query(TERM_FACTS.replace("TERMS", ALL_TERMS)), self._plain_label)

    def tenures(self, post: str) -> list[Tenure]:
        """The terms of office of a post, earliest first."""
        pattern = f"?t tg:post <{ox.NamedNode(post).value}> ."
        return tenures(self.query(TERM_FACTS.replace("TERMS", pattern)))

    def _plain_label(self, iri: str | None) -> str | None:
        return (self.rdfs_label(iri) or humanize(iri)) if iri else None

    def label(self, iri: str) -> str:
        """The readable name of any IRI: its label, a composed name, or its humanized local name."""
        found = self.rdfs_label(iri)
        if found:
            return found
        if iri in self.term_names:
            return self.term_names[iri]
        if str(ORG) + "Membership" in self.types_of(iri):
            composed = self._membership_label(iri)
            if composed:
                self._labels[iri] = composed
                return composed
        if iri.startswith(str(WD)):
            return iri[len(str(WD)) :]
        return humanize(iri)

    def short(self, iri: str) -> str:
        """A short name where there is one (CSTO), for tight spaces such as the timeline."""
        if iri not in self._shorts:
            try:
                short = self._first_literal(iri, ox.NamedNode(self.tg + "shortName"))
            except ValueError:
                short = None
            self._shorts[iri] = short or self.label(iri)
        return self._shorts[iri]

    def curie(self, iri: str) -> str:
        """`wd:Q131569`, `wikibase:Reference`: an IRI in its prefixed form where a prefix fits."""
        for prefix, namespace in sorted(
            self.build.ns.prefixes().items(), key=lambda item: -len(item[1])
        ):
            if iri.startswith(namespace) and len(iri) > len(namespace):
                return f"{prefix}:{iri[len(namespace) :]}"
        return iri

    def inverse_label(self, predicate: str) -> str:
        term = self.terms.get(predicate)
        if term and term.inverse_label:
            return term.inverse_label
        if predicate in STANDARD_INVERSE_LABELS:
            return STANDARD_INVERSE_LABELS[predicate]
        return f"{self.label(predicate)} of this"

    def href(self, iri: str) -> str | None:
        """The local path that resolves an IRI of this dataset, or None for outside IRIs."""
        if iri.startswith(self.base + "/"):
            return iri[len(self.base) :]
        return None

    # -- the ontology ---------------------------------------------------------------------------
    @cached_property
    def terms(self) -> dict[str, Term]:
        """Every term the ontology graph describes."""
        terms: dict[str, Term] = {}
        slots = {
            RDF_TYPE.value: "kinds",
            RDFS + "domain": "domain",
            RDFS + "range": "range",
            RDFS + "subClassOf": "parents",
            RDFS + "subPropertyOf": "parents",
            SKOS + "exactMatch": "exact",
            SKOS + "closeMatch": "close",
        }
        inverse_of = {}
        for quad in self.store.quads_for_pattern(None, None, None, self.ontology_graph):
            if not isinstance(quad.subject, ox.NamedNode):
                continue
            iri = quad.subject.value
            term = terms.setdefault(iri, Term(iri, ""))
            predicate, value = quad.predicate.value, quad.object
            if predicate in slots and isinstance(value, ox.NamedNode):
                getattr(term, slots[predicate]).append(value.value)
            elif predicate in (RDFS + "comment", SKOS + "definition"):
                term.comment = term.comment or value.value
            elif predicate == OWL + "inverseOf":
                inverse_of[iri] = value.value
            elif predicate.endswith(INVERSE_LABEL_PREDICATES) and predicate.startswith(self.tg):
                term.inverse_label = value.value
        for iri, term in terms.items():
            term.label = self.label(iri)
            if not term.inverse_label and iri in inverse_of:
                term.inverse_label = self.label(inverse_of[iri])
        return terms

    def own_terms(self) -> list[Term]:
        """Terms in our namespace, sorted by label."""
        return sorted(
            (t for t in self.terms.values() if t.iri.startswith(self.tg) and t.iri != self.tg),
            key=lambda t: t.label.casefold(),
        )

    def _not_aside(self) -> str:
        return f"FILTER(?g NOT IN (<{self.ontology_graph.value}>, <{self.view_graph.value}>))"

    def uses(self, term: str) -> int:
        """How many statements use a term, as their property or as their value (class, role…)."""
        if term not in self._uses:
            rows = self.query(
                f"SELECT (COUNT(*) AS ?n) WHERE {{ "
                f"{{ GRAPH ?g {{ ?s <{term}> ?o }} }} UNION {{ GRAPH ?g {{ ?s ?p <{term}> }} }} "
                f"{self._not_aside()} }}"
            )
            self._uses[term] = int(next(iter(rows))["n"].value)
        return self._uses[term]

    @cached_property
    def class_counts(self) -> list[tuple[str, int]]:
        """How many resources of each class, largest first (claims, instants and sources included)."""
        rows = self.query(
            f"SELECT ?c (COUNT(DISTINCT ?s) AS ?n) WHERE {{ GRAPH ?g {{ ?s a ?c }} "
            f"{self._not_aside()} }} GROUP BY ?c"
        )
        counts = [(row["c"].value, int(row["n"].value)) for row in rows]
        return sorted(counts, key=lambda item: (-item[1], self.label(item[0])))

    def most_linked(self, cls: str, limit: int) -> list[str]:
        """Instances of a class, the most linked-to first, then by name."""
        if (cls, limit) in self._most_linked:
            return self._most_linked[cls, limit]
        rows = self.query(
            f"SELECT ?x (COUNT(?s) AS ?n) WHERE {{ GRAPH ?g {{ ?x a <{cls}> }} "
            f"{self._not_aside()} OPTIONAL {{ ?s ?p ?x FILTER(?p != rdf:type) }} }} "
            f"GROUP BY ?x ORDER BY DESC(?n) LIMIT {limit * 4}"
        )
        ranked = [
            (-int(row["n"].value), self.label(row["x"].value).casefold(), row["x"].value)
            for row in rows
        ]
        self._most_linked[cls, limit] = [iri for _, _, iri in sorted(ranked)[:limit]]
        return self._most_linked[cls, limit]

    def exists(self, iri: str) -> bool:
        node = ox.NamedNode(iri)
        return next(iter(self.store.quads_for_pattern(node, None, None, None)), None) is not None

    # -- search ---------------------------------------------------------------------------------
    @cached_property
    def search_index(self) -> list[tuple[str, str, str]]:
        """(normalized name, name, IRI) for every label, alternative label and short name."""
        predicates = [LABEL, ALT_LABEL, ox.NamedNode(self.tg + "shortName")]
        index = []
        for predicate in predicates:
            for quad in self.store.quads_for_pattern(None, predicate, None, None):
                if quad.graph_name in self.aside:
                    continue
                if isinstance(quad.subject, ox.NamedNode) and isinstance(quad.object, ox.Literal):
                    index.append(
                        (normalize(quad.object.value), quad.object.value, quad.subject.value)
                    )
        composed = [(iri, self.label(iri)) for iri in self.all_memberships()]
        composed += list(self.term_names.items())
        index += [(normalize(name), name, iri) for iri, name in composed]
        return index

    @cached_property
    def entities(self) -> dict[str, tuple[str, ...]]:
        """Every record of the dataset (no #fragment, no Wikidata-view node) and its classes."""
        aside = ", ".join(f"<{graph.value}>" for graph in self.aside)
        query = ENTITIES.replace("ASIDE", aside).replace("PREFIX", self.base + "/id/")
        found: dict[str, set[str]] = {}
        for row in self.query(query):
            found.setdefault(row["s"].value, set()).add(row["c"].value)
        return {iri: tuple(sorted(classes)) for iri, classes in found.items()}

    def ancestors(self, cls: str) -> set[str]:
        """A class and every class above it in the ontology."""
        seen, todo = set(), [cls]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                term = self.terms.get(current)
                todo.extend(term.parents if term else [])
        return seen

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Entities whose label, alternative label or short name contains every word of `text`."""
        wanted = normalize(text)
        words = wanted.split()
        if not words:
            return []
        best: dict[str, SearchHit] = {}
        for normalized, name, iri in self.search_index:
            if not all(word in normalized for word in words):
                continue
            if normalized == wanted:
                score = 0
            elif normalized.startswith(wanted):
                score = 1
            elif all(re.search(rf"\b{re.escape(w)}", normalized) for w in words):
                score = 2
            else:
                score = 3
            known = best.get(iri)
            if known is None or score < known.score:
                best[iri] = SearchHit(iri, self.label(iri), name, self.types_of(iri), score)
        return sorted(best.values(), key=lambda h: (h.score, len(h.label), h.label))[:limit]

    def similar(self, text: str, limit: int = 10) -> list[SearchHit]:
        """Entities whose names look like `text` (misspellings included), for "did you mean"."""
        hits = {hit.iri: hit for hit in self.search(text, limit)}
        words = normalize(text).split()
        names: dict[str, list[str]] = {}
        for normalized, _, iri in self.search_index:
            for word in normalized.split():
                names.setdefault(word, []).append(iri)
        for word in words:
            for close in difflib.get_close_matches(word, list(names), n=5, cutoff=0.75):
                for iri in names[close]:
                    if iri not in hits:
                        name = self.label(iri)
                        hits[iri] = SearchHit(iri, name, name, self.types_of(iri), 4)
        return list(hits.values())[:limit]


class Catalogs:
    """One Catalog per build, kept on the app; a newer build replaces the old one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._current: Catalog | None = None

    def for_build(self, build: OpenBuild) -> Catalog:
        current = self._current
        if current is not None and current.build is build:
            return current
        with self._lock:
            if self._current is None or self._current.build is not build:
                self._current = Catalog(build)
                threading.Thread(target=self._current.warm, daemon=True).start()
            return self._current


def catalog() -> Catalog:
    """The catalog of the build this request is served from."""
    from flask import current_app

    from .builds import current_build

    return current_app.extensions["treatygraph.catalogs"].for_build(current_build())


def _instant_of(row, date: str, precision: str, inference: str | None) -> Instant | None:
    if row[date] is None:
        return None
    return Instant(row[date], row[precision], row[inference] if inference else None)


def _claim_order(iri: str) -> tuple:
    """`#claim-2` before `#claim-10`."""
    head, _, number = iri.rpartition("-")
    return (head, int(number)) if number.isdigit() else (iri, 0)


def _date_text(instant: Instant | None) -> str | None:
    """An instant's date as people write it, at its precision (May 2002)."""
    if instant is None or instant.date is None:
        return None
    return format_date(instant.date.value, instant.precision.value if instant.precision else None)


def is_wikidata(iri: str) -> bool:
    return iri.startswith(str(WD))
