"""What a document about one resource holds: its RDF, and the same read for a person (the page model)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyoxigraph as ox

from treatygraph.core.dates import format_date
from treatygraph.rdf.namespaces import ORG

from .catalog import LABEL, OWL, RDF_TYPE, SKOS, Catalog, is_wikidata
from .names import duration_words

TIME = "http://www.w3.org/2006/time#"
PROV = "http://www.w3.org/ns/prov#"
XSD = "http://www.w3.org/2001/XMLSchema#"
DCTERMS = "http://purl.org/dc/terms/"
SAME_AS = ox.NamedNode(OWL + "sameAs")
# Statements a reader looks for first, by local name; the rest follow alphabetically, sources last.
FIRST = [
    "title",
    "alternative",
    "creator",
    "publisher",
    "contributor",
    "publicationDate",
    "hasTime",
    "memberDuring",
    "member",
    "organization",
    "treaty",
    "role",
    "foundingDate",
    "formationDate",
    "signingDate",
    "signingPlace",
    "entryIntoForce",
    "duration",
    "place",
    "meetingFormat",
    "chairedBy",
    "chair",
    "hostedBy",
    "sessionOf",
    "ordinal",
    "participation",
    "adopted",
    "numberOfDocumentsAdopted",
    "adoptedBy",
]
SOURCE_FILE_FACTS = ("fileName", "sha256", "hasUnrelatedTail", "tailDescription")
INCOMING_SHOWN = 100  # a longer list of links into a record is cut, with a query for the rest
COLUMNS_FIRST = ("participant", "represents", "roleLabel")


def _fragment_of(iri: str, subject: str) -> bool:
    return iri.startswith(subject + "#")


VIEW_NODES = ("/id/statement/", "/id/reference/", "/id/value/")  # the Wikidata view's own nodes
INCOMING_LINKS = 1_000  # links into a record kept in its document, per property
RELATIONS = (str(ORG) + "Membership", str(ORG) + "Post", "TermOfOffice", "Chairmanship")


def entity_triples(catalog: Catalog, iri: str) -> list[ox.Triple]:
    """What the entity's page shows, as RDF: every triple about it and its #fragments (the Wikidata
    view's statement nodes included), the claims about it, its owl:sameAs links, the links into it
    from other records, with the whole of the relation records among them (an organization's
    memberships with member and dates, its posts with their terms and holders), and the labels of
    everything named."""
    store = catalog.store
    node = ox.NamedNode(iri)
    triples: dict[ox.Triple, None] = {}
    claim_about = ox.NamedNode(catalog.tg + "claimAbout")
    claims = [q.subject for q in store.quads_for_pattern(None, claim_about, node, None)]
    linked = _record(catalog, iri, triples, claims)
    for quad in store.quads_for_pattern(None, SAME_AS, node, None):
        triples[quad.triple] = None
    linked |= _incoming(catalog, iri, triples)
    for other in sorted(linked):
        for quad in store.quads_for_pattern(ox.NamedNode(other), LABEL, None, None):
            triples[quad.triple] = None
    return list(triples)


def _record(
    catalog: Catalog, iri: str, triples: dict[ox.Triple, None], extra: list[ox.NamedNode]
) -> set[str]:
    """Add the triples of a record, its #fragments, its Wikidata-view nodes and `extra` subjects;
    return the other IRIs they name."""
    seen = {iri} | {n.value for n in extra if isinstance(n, ox.NamedNode)}
    queue = [ox.NamedNode(iri), *(n for n in extra if isinstance(n, ox.NamedNode))]
    own_nodes = tuple(catalog.base + kind for kind in VIEW_NODES)
    linked: set[str] = set()
    while queue:
        subject = queue.pop()
        for quad in catalog.store.quads_for_pattern(subject, None, None, None):
            triples[quad.triple] = None
            obj = quad.object
            if isinstance(obj, ox.NamedNode) and obj.value not in seen:
                if _fragment_of(obj.value, iri) or obj.value.startswith(own_nodes):
                    seen.add(obj.value)
                    queue.append(obj)
                else:
                    linked.add(obj.value)
    return linked


def _incoming(catalog: Catalog, iri: str, triples: dict[ox.Triple, None]) -> set[str]:
    """Add the links into `iri` from other records (their first INCOMING_LINKS per property), and
    the whole of the relation records among them; return the IRIs they name."""
    skip = {catalog.tg + "claimAbout", PROV + "wasQuotedFrom", OWL + "sameAs"}
    relations = {c if "/" in c else catalog.tg + c for c in RELATIONS}
    by_predicate: dict[str, list[ox.Quad]] = {}
    for quad in catalog.store.quads_for_pattern(None, None, ox.NamedNode(iri), None):
        subject = quad.subject
        if quad.predicate.value in skip or not isinstance(subject, ox.NamedNode):
            continue
        if subject.value.split("#", 1)[0] != iri:
            by_predicate.setdefault(quad.predicate.value, []).append(quad)
    linked: set[str] = set()
    for quads in by_predicate.values():
        for quad in sorted(quads, key=lambda q: q.subject.value)[:INCOMING_LINKS]:
            triples[quad.triple] = None
            record = quad.subject.value.split("#", 1)[0]
            linked.add(record)
            if quad.graph_name != catalog.view_graph and relations & set(catalog.types_of(record)):
                linked |= _record(catalog, record, triples, [])
                if str(ORG) + "Post" in catalog.types_of(record):
                    linked |= _holders(catalog, record, triples)
    return linked


def _holders(catalog: Catalog, post: str, triples: dict[ox.Triple, None]) -> set[str]:
    """Add the terms of office of a post, each whole (holder, dates)."""
    linked: set[str] = set()
    has_post = ox.NamedNode(catalog.tg + "post")
    terms = catalog.store.quads_for_pattern(None, has_post, ox.NamedNode(post), None)
    for quad in sorted(terms, key=lambda q: q.subject.value)[:INCOMING_LINKS]:
        linked |= _record(catalog, quad.subject.value, triples, [])
    return linked


def term_triples(catalog: Catalog, iri: str) -> list[ox.Triple]:
    """What the ontology says about one term, with the labels of the terms it names."""
    triples: dict[ox.Triple, None] = {}
    linked = set()
    for quad in catalog.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
        triples[quad.triple] = None
        if isinstance(quad.object, ox.NamedNode):
            linked.add(quad.object.value)
    for other in sorted(linked):
        for quad in catalog.store.quads_for_pattern(ox.NamedNode(other), LABEL, None, None):
            triples[quad.triple] = None
    return list(triples)


# -- the page model -----------------------------------------------------------------------------


@dataclass
class Value:
    """One value of a statement, ready for the template."""

    kind: str  # link | external | text | date | interval | node
    text: str = ""
    href: str | None = None
    iri: str | None = None
    lang: str | None = None
    inferred: list[str] = field(default_factory=list)
    rows: list[tuple[str, list[Value]]] = field(default_factory=list)  # a node's own statements
    note: str = ""


@dataclass
class ClaimView:
    iri: str
    quote: str
    source: str
    source_label: str
    source_href: str | None
    supports: list[str]
    supports_labels: list[str]
    inference: str = ""
    note: str = ""
    from_tail: bool = False
    number: int = 0


@dataclass
class Statement:
    predicate: str
    is_sources: bool
    label: str
    href: str | None
    values: list[Value]
    claims: list[ClaimView] = field(default_factory=list)  # quoted here in full
    refs: list[ClaimView] = field(default_factory=list)  # quoted in full under an earlier statement
    table: list[list[list[Value]]] | None = None
    columns: list[str] = field(default_factory=list)


@dataclass
class Incoming:
    predicate: str
    label: str
    items: list[Value]
    total: int = 0

    def query(self, iri: str) -> str:
        """A SPARQL query listing every one, for groups too long to show whole."""
        return (
            f"SELECT DISTINCT ?record ?label WHERE {{\n  ?node <{self.predicate}> <{iri}> .\n"
            '  BIND(IRI(STRBEFORE(CONCAT(STR(?node), "#"), "#")) AS ?record)\n'
            "  OPTIONAL { ?record rdfs:label ?label }\n} ORDER BY ?label"
        )


@dataclass
class EntityPage:
    iri: str
    label: str
    types: list[Value]
    description: str
    also_known_as: list[str]
    wikidata: list[Value]
    statements: list[Statement]
    record_claims: list[ClaimView]
    header_claims: list[ClaimView]
    incoming: list[Incoming]
    conflicts: list[Value]
    notes: list[str]
    quoted_by: list[ClaimView]


class Describer:
    """Reads one resource out of the store into an EntityPage.

    The page leaves out the Wikidata-shaped view graph: it restates the same facts in Wikibase's
    vocabulary for machines, and the RDF documents keep it."""

    def __init__(self, catalog: Catalog, iri: str):
        self.catalog = catalog
        self.tg = catalog.tg
        self.iri = iri
        self.store = catalog.store
        self.view_graph = catalog.view_graph
        self._props: dict[str, dict[str, list[ox.Term]]] = {}

    def props(self, iri: str) -> dict[str, list[ox.Term]]:
        """The statements of a subject across graphs, predicate -> distinct objects in order."""
        if iri not in self._props:
            found: dict[str, list[ox.Term]] = {}
            for quad in self.store.quads_for_pattern(ox.NamedNode(iri), None, None, None):
                if quad.graph_name == self.view_graph:
                    continue
                values = found.setdefault(quad.predicate.value, [])
                if quad.object not in values:
                    values.append(quad.object)
            self._props[iri] = found
        return self._props[iri]

    def first(self, iri: str, predicate: str) -> ox.Term | None:
        values = self.props(iri).get(predicate)
        return values[0] if values else None

    def is_a(self, iri: str, cls: str) -> bool:
        return any(t.value == cls for t in self.props(iri).get(RDF_TYPE.value, []))

    # -- values ---------------------------------------------------------------------------------
    def instant(self, iri: str) -> Value:
        date = self.first(iri, TIME + "inXSDDate")
        precision = self.first(iri, self.tg + "datePrecision")
        inference = self.first(iri, self.tg + "inference")
        text = format_date(date.value, precision.value if precision else None) if date else "?"
        return Value(
            "date",
            text=text,
            iri=iri,
            inferred=[inference.value] if inference else [],
        )

    def interval(self, iri: str) -> Value:
        begin = self.first(iri, TIME + "hasBeginning")
        end = self.first(iri, TIME + "hasEnd")
        start = self.instant(begin.value) if begin else None
        finish = self.instant(end.value) if end else None
        if start and finish:
            text = f"{start.text} \N{EN DASH} {finish.text}"
        elif start:
            text = f"since {start.text}"
        elif finish:
            text = f"until {finish.text}"
        else:
            text = "dates unknown"
        inferred = (start.inferred if start else []) + (finish.inferred if finish else [])
        return Value("interval", text=text, iri=iri, inferred=inferred)

    def value(self, term: ox.Term) -> Value:
        if isinstance(term, ox.Literal):
            datatype = term.datatype.value if term.datatype else ""
            if datatype == XSD + "boolean":
                return Value("text", text="yes" if term.value == "true" else "no")
            if datatype == XSD + "date":
                return Value("date", text=format_date(term.value, None))
            if datatype == XSD + "duration":
                return Value("text", text=duration_words(term.value))
            if datatype == XSD + "anyURI":
                return Value("external", text=term.value, href=term.value, iri=term.value)
            return Value("text", text=term.value, lang=term.language)
        if not isinstance(term, ox.NamedNode):
            return Value("text", text=str(term))
        iri = term.value
        if _fragment_of(iri, self.iri) or ("#" in iri and self.catalog.href(iri)):
            if self.is_a(iri, TIME + "Instant") or self.first(iri, TIME + "inXSDDate"):
                return self.instant(iri)
            if self.is_a(iri, TIME + "Interval"):
                return self.interval(iri)
            if _fragment_of(iri, self.iri):
                return self.node(iri)
        href = self.catalog.href(iri)
        if href is not None:
            return Value("link", text=self.catalog.label(iri), href=href, iri=iri)
        if is_wikidata(iri):
            qid = iri.rsplit("/", 1)[-1]
            return Value("external", text=f"Wikidata {qid}", href=iri, iri=iri)
        label = self.catalog.rdfs_label(iri)
        return Value("external", text=label or iri, href=iri, iri=iri)

    def node(self, iri: str) -> Value:
        rows = []
        props = self.props(iri)
        for predicate in sorted(props, key=_column_order):
            if predicate == RDF_TYPE.value:
                continue
            rows.append((self.catalog.label(predicate), [self.value(o) for o in props[predicate]]))
        return Value("node", text=iri.rsplit("#", 1)[-1], iri=iri, rows=rows)

    # -- claims ---------------------------------------------------------------------------------
    def claim(self, iri: str) -> ClaimView:
        props = self.props(iri)
        source = props.get(PROV + "wasQuotedFrom", [None])[0]
        quote = props.get(self.tg + "quote", [None])[0]
        supports = [s.value for s in props.get(self.tg + "supports", [])]
        inference = props.get(self.tg + "inference", [None])[0]
        note = props.get(self.tg + "note", [None])[0]
        tail = props.get(self.tg + "fromUnrelatedTail", [None])[0]
        source_iri = source.value if source else ""
        return ClaimView(
            iri=iri,
            quote=quote.value if quote else "",
            source=source_iri,
            source_label=self.catalog.label(source_iri) if source_iri else "unknown source",
            source_href=self.catalog.href(source_iri) if source_iri else None,
            supports=supports,
            supports_labels=[self.catalog.label(s) for s in supports],
            inference=inference.value if inference else "",
            note=note.value if note else "",
            from_tail=bool(tail and tail.value == "true"),
        )

    def claims_about(self, iri: str) -> list[ClaimView]:
        about = ox.NamedNode(self.tg + "claimAbout")
        subjects = sorted(
            {
                q.subject.value
                for q in self.store.quads_for_pattern(None, about, ox.NamedNode(iri), None)
            },
            key=_natural,
        )
        return [self.claim(s) for s in subjects]

    # -- the page -------------------------------------------------------------------------------
    def page(self) -> EntityPage:
        catalog = self.catalog
        props = self.props(self.iri)
        hidden = {
            RDF_TYPE.value,
            LABEL.value,
            SKOS + "altLabel",
            self.tg + "shortName",
            OWL + "sameAs",
            DCTERMS + "description",
            self.tg + "conflictsWith",
            SKOS + "note",
        }
        if self.is_a(self.iri, self.tg + "SourceDocument"):  # shown in the page's document box
            hidden |= {self.tg + p for p in SOURCE_FILE_FACTS}
        types = [self.value(t) for t in props.get(RDF_TYPE.value, [])]
        label_term = self.first(self.iri, LABEL.value)
        label = label_term.value if label_term else catalog.label(self.iri)
        description = self.first(self.iri, DCTERMS + "description")
        also = [t.value for t in props.get(self.tg + "shortName", [])] + [
            t.value for t in props.get(SKOS + "altLabel", [])
        ]
        same_as = list(props.get(OWL + "sameAs", []))
        for quad in self.store.quads_for_pattern(None, SAME_AS, ox.NamedNode(self.iri), None):
            if quad.subject not in same_as:
                same_as.append(quad.subject)
        claims = self.claims_about(self.iri)
        interval_predicates = set()
        statements = []
        for predicate, objects in props.items():
            if predicate in hidden:
                continue
            values = [self.value(o) for o in objects]
            if all(v.kind == "link" for v in values):
                values.sort(key=lambda v: v.text.casefold())
            if any(v.kind == "interval" for v in values):
                interval_predicates.add(predicate)
            statement = Statement(
                predicate=predicate,
                is_sources=predicate == PROV + "wasDerivedFrom",
                label=catalog.label(predicate),
                href=catalog.href(predicate),
                values=values,
            )
            if predicate == TIME + "hasTime" and values:
                statement.label = "date" if values[0].kind == "date" else "period"
            if values and all(v.kind == "node" for v in values):
                statement.columns = _columns(v.rows for v in values)
                statement.table = [
                    [dict(v.rows).get(column, []) for column in statement.columns] for v in values
                ]
            statements.append(statement)
        statements.sort(key=_statement_order)
        record_claims: list[ClaimView] = []
        header_claims: list[ClaimView] = []  # they support the name, description or aliases
        by_predicate = {s.predicate: s for s in statements}
        for claim in claims:
            targets = set()
            for supported in claim.supports:
                if supported in by_predicate:
                    targets.add(supported)
                elif supported in (TIME + "hasBeginning", TIME + "hasEnd") and interval_predicates:
                    targets.update(interval_predicates)
            if not claim.supports:
                record_claims.append(claim)
            elif not targets:
                header_claims.append(claim)
            for target in sorted(targets):
                by_predicate[target].claims.append(claim)
        _mark_inferred(statements, record_claims)
        number = 0
        for claim in header_claims + record_claims:
            number += 1
            claim.number = number
        for statement in statements:
            fresh = []
            for claim in statement.claims:
                if claim.number:
                    statement.refs.append(claim)
                else:
                    number += 1
                    claim.number = number
                    fresh.append(claim)
            statement.claims = fresh
        notes = [t.value for t in props.get(SKOS + "note", [])]
        quoted_by = []
        if self.is_a(self.iri, self.tg + "SourceDocument"):
            quoted = ox.NamedNode(PROV + "wasQuotedFrom")
            subjects = {
                q.subject.value
                for q in self.store.quads_for_pattern(None, quoted, ox.NamedNode(self.iri), None)
            }
            quoted_by = [self.claim(s) for s in sorted(subjects, key=_natural)]
        return EntityPage(
            iri=self.iri,
            label=label,
            types=types,
            description=description.value if description else "",
            also_known_as=list(dict.fromkeys(also)),
            wikidata=[self.value(t) for t in same_as],
            statements=statements,
            record_claims=record_claims,
            header_claims=header_claims,
            incoming=self.incoming(),
            conflicts=[self.value(t) for t in props.get(self.tg + "conflictsWith", [])],
            notes=notes,
            quoted_by=quoted_by,
        )

    def incoming(self) -> list[Incoming]:
        """Links from other records to this one, grouped by property, worded from this side."""
        skip = {
            self.tg + "claimAbout",
            PROV + "wasQuotedFrom",
            OWL + "sameAs",
            self.tg + "conflictsWith",
        }
        groups: dict[str, set[str]] = {}
        for quad in self.store.quads_for_pattern(None, None, ox.NamedNode(self.iri), None):
            predicate = quad.predicate.value
            if predicate in skip or quad.graph_name == self.view_graph:
                continue
            if not isinstance(quad.subject, ox.NamedNode):
                continue
            subject = quad.subject.value.split("#", 1)[0]
            if subject != self.iri:
                groups.setdefault(predicate, set()).add(subject)
        if str(ORG) + "member" in groups:
            self.catalog.memberships_of(self.iri)  # their names, in one query
        if str(ORG) + "organization" in groups or self.tg + "treaty" in groups:
            self.catalog.memberships_in(self.iri)
        result = []
        for predicate, subjects in groups.items():
            shown = (
                sorted(subjects)[:INCOMING_SHOWN] if len(subjects) > INCOMING_SHOWN else subjects
            )
            items = [
                Value("link", text=self.catalog.label(s), href=self.catalog.href(s), iri=s)
                for s in shown
            ]
            items.sort(key=lambda v: v.text.casefold())
            label = self.catalog.inverse_label(predicate)
            result.append(Incoming(predicate, label, items, total=len(subjects)))
        return sorted(result, key=lambda i: i.label)


def _mark_inferred(statements: list[Statement], record_claims: list[ClaimView]) -> None:
    """A value no quote states, only inferences (its own claims, and those about the whole record),
    is marked inferred with their rules, as an inferred date is."""
    for statement in statements:
        if statement.is_sources:
            continue
        backing = statement.claims + record_claims
        if backing and all(c.inference for c in backing):
            rules = list(dict.fromkeys(c.inference for c in backing))
            for value in statement.values:
                if value.kind in ("link", "text") and not value.inferred:
                    value.inferred = rules


def _local(iri: str) -> str:
    return iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _statement_order(statement: Statement) -> tuple:
    local = _local(statement.predicate)
    if statement.predicate == PROV + "wasDerivedFrom":
        return (2, 0, "")
    if local in FIRST:
        return (0, FIRST.index(local), "")
    return (1, 0, statement.label)


def _column_order(predicate: str) -> tuple:
    local = _local(predicate)
    return (0, COLUMNS_FIRST.index(local)) if local in COLUMNS_FIRST else (1, local)


def _columns(rows_of_nodes) -> list[str]:
    return list(dict.fromkeys(name for rows in rows_of_nodes for name, _ in rows))


def _natural(iri: str) -> tuple:
    """Sort `#claim-2` before `#claim-10`."""
    head, _, number = iri.rpartition("-")
    return (head, int(number)) if number.isdigit() else (iri, 0)
