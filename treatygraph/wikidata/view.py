"""The Wikidata-shaped view: every sourced statement again, in Wikibase's RDF vocabulary.

Derived at build time from the native facts and provenance graphs (one source of truth), so a
query written for the Wikidata Query Service runs on our endpoint unchanged apart from the
entities. Subjects and objects are our own IRIs; they carry `owl:sameAs` to Wikidata items.

    ?state p:P463 ?s . ?s ps:P463 ?org ; pq:P580 ?start ; pq:P582 ?end .   # end only if ended
    ?s wikibase:rank wikibase:PreferredRank ; prov:wasDerivedFrom ?ref .
    ?ref pr:P248 ?sourceDocument ; pr:P1683 ?quote .
    ?ref pr:P887 ?heuristic . ?heuristic rdfs:label ?how .   # only where the quote does not state it

A claim whose quote does not state what it supports (it carries `tg:inference`) becomes a
reference with P887 (based on heuristic), Wikidata's own mark for an inferred value; the heuristic
is a node of ours labelled with the inference in words. An inferred date in a statement gets a
reference of its own with P887 and the date's inference.

Which property a native term becomes is read from the ontology's `skos:exactMatch` /
`skos:closeMatch` alignments to `wd:P…`; the n-ary patterns Wikidata writes as qualified
statements (memberships, terms of office, participations, sub-organizations, meeting dates)
are spelled out below. Statement, reference and value node IRIs are hashes of their content,
so the same data always gives the same nodes and the dumps stay byte-identical.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, RDFS, SKOS, TIME, XSD

from treatygraph.rdf.namespaces import (
    ORG,
    PQ,
    PQV,
    PR,
    PS,
    PSV,
    WD,
    WDP,
    WDT,
    WIKIBASE,
    ProjectNamespaces,
)

GREGORIAN = WD.Q1985727  # proleptic Gregorian calendar, the calendar model of every time value
PRECISION = {"unitDay": 11, "unitMonth": 10, "unitYear": 9}
PROPERTY_ID = re.compile(r"^http://www\.wikidata\.org/entity/(P[1-9][0-9]*)$")

# Wikidata properties whose values are strings, where our values are numbers.
STRING_PROPERTIES = frozenset({"P1545"})
# Aligned properties that are not statements on an entity: the quote is a reference property,
# the publication date belongs to a source document, not to the things it describes; holder and
# participant are parts of the n-ary patterns below.
NOT_FROM_ALIGNMENTS = frozenset({"P1683", "P577", "P1308", "P710"})

MEMBER_OF = "P463"
START, END, POINT_IN_TIME = "P580", "P582", "P585"
SUBJECT_HAS_ROLE = "P2868"
STATED_IN, QUOTE, BASED_ON_HEURISTIC = "P248", "P1683", "P887"
SECRETARY_GENERAL = re.compile(r"secretary[\s-]+general", re.IGNORECASE)


@dataclass(frozen=True)
class TimeValue:
    """A Wikibase time value: the first day of the period and its precision (11 day, 10 month, 9 year)."""

    date: str
    precision: int
    inference: Literal | None = None  # how the date was inferred, when the sources do not state it

    @property
    def literal(self) -> Literal:
        return Literal(f"{self.date}T00:00:00Z", datatype=XSD.dateTime)

    def __str__(self) -> str:
        inferred = f"/inferred:{self.inference}" if self.inference is not None else ""
        return f"{self.date}/{self.precision}{inferred}"


@dataclass(frozen=True)
class Claim:
    source: URIRef | None
    quote: Literal | None
    supports: frozenset[URIRef]
    inference: Literal | None = None  # how the claim is inferred, when its quote does not state it


def _digest(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def aligned_properties(ontology: Graph) -> dict[URIRef, str]:
    """Our properties and the Wikidata property each is aligned to (exact matches win)."""
    found: dict[URIRef, str] = {}
    for relation in (SKOS.closeMatch, SKOS.exactMatch):
        for term, target in ontology.subject_objects(relation):
            match = PROPERTY_ID.match(str(target))
            if match and isinstance(term, URIRef) and match.group(1) not in NOT_FROM_ALIGNMENTS:
                found[term] = match.group(1)
    return found


class ViewBuilder:
    """Collects statements in Wikibase's shape into one graph."""

    def __init__(self, ns: ProjectNamespaces, facts: Graph, provenance: Graph):
        self.ns = ns
        self.tg = ns.tg
        self.facts = facts
        self.graph = Graph()
        self.claims: dict[URIRef, list[Claim]] = defaultdict(list)
        for claim in provenance.subjects(RDF.type, self.tg.Claim):
            about = provenance.value(claim, self.tg.claimAbout)
            source = provenance.value(claim, PROV.wasQuotedFrom)
            quote = provenance.value(claim, self.tg.quote)
            if about is None or source is None or quote is None:
                continue
            supports = frozenset(provenance.objects(claim, self.tg.supports))
            inference = provenance.value(claim, self.tg.inference)
            self.claims[about].append(Claim(source, quote, supports, inference))
        for claims in self.claims.values():
            claims.sort(key=lambda c: (str(c.source), str(c.quote), str(c.inference)))

    # -- helpers ---------------------------------------------------------------------------------
    def is_entity(self, iri) -> bool:
        """A curated record that can be the subject of statements (not a part, not a statement)."""
        from treatygraph.curation.links import UNLINKABLE_KINDS

        if not isinstance(iri, URIRef) or "#" in iri or not iri.startswith(self.ns.id):
            return False
        return iri[len(self.ns.id) :].split("/", 1)[0] not in UNLINKABLE_KINDS

    def time_value(self, instant) -> TimeValue | None:
        date = self.facts.value(instant, TIME.inXSDDate)
        unit = self.facts.value(instant, self.tg.datePrecision)
        if date is None:
            return None
        precision = PRECISION.get(str(unit).rsplit("#", 1)[-1], 11)
        return TimeValue(str(date), precision, self.facts.value(instant, self.tg.inference))

    def interval_bounds(self, interval) -> tuple[TimeValue | None, TimeValue | None]:
        begin = self.facts.value(interval, TIME.hasBeginning)
        end = self.facts.value(interval, TIME.hasEnd)
        return (
            self.time_value(begin) if begin is not None else None,
            self.time_value(end) if end is not None else None,
        )

    def references(self, record: URIRef, *predicates: URIRef) -> list[Claim]:
        """The claims that support these properties of a record (or the whole record)."""
        claims = self.claims.get(record, [])
        wanted = set(predicates)
        chosen = [c for c in claims if not c.supports or c.supports & wanted]
        return chosen or claims

    def value_node(self, value: TimeValue) -> URIRef:
        node = URIRef(f"{self.ns.base}/id/value/{_digest('time', value)}")
        g = self.graph
        g.add((node, RDF.type, WIKIBASE.TimeValue))
        g.add((node, WIKIBASE.timeValue, value.literal))
        g.add((node, WIKIBASE.timePrecision, Literal(value.precision, datatype=XSD.integer)))
        g.add((node, WIKIBASE.timeTimezone, Literal(0, datatype=XSD.integer)))
        g.add((node, WIKIBASE.timeCalendarModel, GREGORIAN))
        if value.inference is not None:
            g.add((node, self.tg.inference, value.inference))
        return node

    def reference(self, claim: Claim) -> URIRef:
        parts = [claim.source, claim.quote.n3() if claim.quote is not None else None]
        if claim.inference is not None:
            parts.append(claim.inference.n3())
        node = URIRef(f"{self.ns.base}/id/reference/{_digest(*parts)}")
        g = self.graph
        g.add((node, RDF.type, WIKIBASE.Reference))
        if claim.source is not None:
            g.add((node, PR[STATED_IN], claim.source))
        if claim.quote is not None:
            g.add((node, PR[QUOTE], claim.quote))
        if claim.inference is not None:
            g.add((node, PR[BASED_ON_HEURISTIC], self.heuristic(claim.inference)))
        return node

    def heuristic(self, inference: Literal) -> URIRef:
        """The inference as a node of its own: the value of P887 is an item, not a text."""
        node = URIRef(f"{self.ns.base}/id/heuristic/{_digest(inference.n3())}")
        self.graph.add((node, RDF.type, self.tg.Inference))
        self.graph.add((node, RDFS.label, inference))
        return node

    def _simple(self, value) -> URIRef | Literal:
        return value.literal if isinstance(value, TimeValue) else value

    def statement(
        self,
        subject: URIRef,
        pid: str,
        value,
        claims: list[Claim],
        qualifiers: list[tuple[str, object]] = (),
        rank: URIRef = WIKIBASE.NormalRank,
        truthy: bool = True,
    ) -> URIRef:
        """Add one statement with its qualifiers, rank and references; return its node."""
        qualifiers = sorted(
            (q for q in qualifiers if q[1] is not None), key=lambda q: (q[0], str(q[1]))
        )
        dated = [value, *(q[1] for q in qualifiers)]
        inferred_dates = [
            Claim(None, None, frozenset(), v.inference)
            for v in dated
            if isinstance(v, TimeValue) and v.inference is not None
        ]
        refs = sorted({self.reference(c) for c in [*claims, *inferred_dates]})
        key = _digest(subject, pid, value, *(f"{p}={v}" for p, v in qualifiers), rank, *refs)
        node = URIRef(f"{self.ns.base}/id/statement/{key}")
        g = self.graph
        g.add((subject, WDP[pid], node))
        g.add((node, RDF.type, WIKIBASE.Statement))
        g.add((node, PS[pid], self._simple(value)))
        if isinstance(value, TimeValue):
            g.add((node, PSV[pid], self.value_node(value)))
        for qid, qvalue in qualifiers:
            g.add((node, PQ[qid], self._simple(qvalue)))
            if isinstance(qvalue, TimeValue):
                g.add((node, PQV[qid], self.value_node(qvalue)))
        g.add((node, WIKIBASE.rank, rank))
        if truthy:
            g.add((node, RDF.type, WIKIBASE.BestRank))
            g.add((subject, WDT[pid], self._simple(value)))
        for ref in refs:
            g.add((node, PROV.wasDerivedFrom, ref))
        return node

    # -- patterns --------------------------------------------------------------------------------
    def convert(self, pid: str, value):
        """A native value as a Wikibase value, or None when Wikidata has no matching datatype."""
        if isinstance(value, URIRef):
            if (value, RDF.type, TIME.Instant) in self.facts:
                return self.time_value(value)
            return value if value.startswith(self.ns.id) else None
        if isinstance(value, Literal):
            if value.language:
                return value
            if pid in STRING_PROPERTIES:
                return Literal(str(value))
            if value.datatype in (XSD.integer, XSD.decimal):
                return value
        return None

    def from_alignments(self, aligned: dict[URIRef, str]) -> None:
        """Entity properties aligned to a Wikidata property in the ontology."""
        signing_date = self.tg.signingDate
        for predicate, pid in sorted(aligned.items()):
            for subject, raw in sorted(self.facts.subject_objects(predicate)):
                if not self.is_entity(subject):
                    continue
                value = self.convert(pid, raw)
                if value is None:
                    continue
                qualifiers = []
                supported = [predicate]
                if predicate == self.tg.signatory:
                    signed = self.facts.value(subject, signing_date)
                    qualifiers.append((POINT_IN_TIME, self.time_value(signed) if signed else None))
                    supported.append(signing_date)
                self.statement(
                    subject, pid, value, self.references(subject, *supported), qualifiers
                )

    def memberships(self) -> None:
        """Member of (P463): current memberships preferred and truthy, ended ones normal rank.

        Memberships in an organization (`org:organization`) and parties to a treaty (`tg:treaty`,
        accessions included) alike: the value is the organization or the treaty, as the sources
        speak of "members of the Collective Security Treaty". A suspended, observer or partner period is a P463 statement too, with the role as
        `pq:P2868` (subject has role), normal rank and no truthy triple: `wdt:P463` means
        "a full member now, as far as our sources say". A membership known only by a date it is
        attested on (`tg:attestedOn`) gets no date qualifier: P580/P582 would state a start or end
        the sources do not give; the quote in its reference shows the date.
        """
        for membership in sorted(self.facts.subjects(RDF.type, ORG.Membership)):
            member = self.facts.value(membership, ORG.member)
            organization = self.facts.value(membership, ORG.organization) or self.facts.value(
                membership, self.tg.treaty
            )
            if member is None or organization is None:
                continue
            role = self.facts.value(membership, ORG.role)
            interval = self.facts.value(membership, ORG.memberDuring)
            start, end = self.interval_bounds(interval) if interval is not None else (None, None)
            full = role in (None, self.tg.MemberRole)
            qualifiers = [(START, start), (END, end)]
            if not full:
                qualifiers.append((SUBJECT_HAS_ROLE, role))
            current = full and end is None
            self.statement(
                member,
                MEMBER_OF,
                organization,
                self.references(membership),
                qualifiers,
                rank=WIKIBASE.PreferredRank if current else WIKIBASE.NormalRank,
                truthy=current,
            )

    def terms_of_office(self) -> None:
        """Officeholder (P1308) on the post, and director/manager (P1037) on the organization
        for Secretaries General, each with the term as start and end time. A term known only by a
        date it is attested on gets no date qualifier, as for memberships: the quote in its
        reference shows the date."""
        tg = self.tg
        for term in sorted(self.facts.subjects(tg.holder, None)):
            holder = self.facts.value(term, tg.holder)
            post = self.facts.value(term, tg.post)
            interval = self.facts.value(term, TIME.hasTime)
            start, end = self.interval_bounds(interval) if interval is not None else (None, None)
            qualifiers = [(START, start), (END, end)]
            claims = self.references(term)
            if post is not None and self.is_entity(post):
                self.statement(post, "P1308", holder, claims, qualifiers)
                organization = self.facts.value(post, ORG.postIn)
                labels = " ".join(str(label) for label in self.facts.objects(post, RDFS.label))
                if organization is not None and SECRETARY_GENERAL.search(labels):
                    self.statement(organization, "P1037", holder, claims, qualifiers)

    def parent_organizations(self) -> None:
        """Parent organization (P749) for bodies and forces (org:subOrganizationOf)."""
        for unit, parent in sorted(self.facts.subject_objects(ORG.subOrganizationOf)):
            if self.is_entity(unit) and self.is_entity(parent):
                claims = self.references(unit, ORG.subOrganizationOf)
                self.statement(unit, "P749", parent, claims)

    def meetings_and_events(self) -> None:
        """Point in time (P585), or start and end time, for meetings and events; participant
        (P710) for meetings."""
        tg = self.tg
        for subject, when in sorted(self.facts.subject_objects(TIME.hasTime)):
            if not self.is_entity(subject) or not self._is_meeting_or_event(subject):
                continue
            claims = self.references(subject, TIME.hasTime)
            if (when, RDF.type, TIME.Instant) in self.facts:
                self.statement(subject, POINT_IN_TIME, self.time_value(when), claims)
            else:
                start, end = self.interval_bounds(when)
                if start:
                    self.statement(subject, START, start, claims)
                if end:
                    self.statement(subject, END, end, claims)
        for meeting, participation in sorted(self.facts.subject_objects(tg.participation)):
            person = self.facts.value(participation, tg.participant)
            if person is not None and self.is_entity(meeting):
                claims = self.references(meeting, tg.participation)
                self.statement(meeting, "P710", person, claims)

    def _is_meeting_or_event(self, subject: URIRef) -> bool:
        kind = subject[len(self.ns.id) :].split("/", 1)[0]
        return kind in ("meeting", "event")


def wikidata_view(ns: ProjectNamespaces, facts: Graph, provenance: Graph, ontology: Graph) -> Graph:
    """The wikidata-view graph of the dataset."""
    builder = ViewBuilder(ns, facts, provenance)
    builder.from_alignments(aligned_properties(ontology))
    builder.memberships()
    builder.terms_of_office()
    builder.parent_organizations()
    builder.meetings_and_events()
    return builder.graph
