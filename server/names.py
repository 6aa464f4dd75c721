"""Names for records that carry no label, built from their parts, and durations in words."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from treatygraph.core.dates import format_date
from treatygraph.rdf.namespaces import ORG

RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
OWL = "http://www.w3.org/2002/07/owl#"

# Readable names for the standard terms the data uses; our own terms carry rdfs:label in the ontology.
STANDARD_LABELS = {
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#type": "type",
    RDFS + "label": "name",
    RDFS + "comment": "comment",
    RDFS + "subClassOf": "subclass of",
    RDFS + "subPropertyOf": "subproperty of",
    RDFS + "domain": "domain",
    RDFS + "range": "range",
    SKOS + "altLabel": "also known as",
    SKOS + "note": "note",
    SKOS + "definition": "definition",
    SKOS + "exactMatch": "exact match",
    SKOS + "closeMatch": "close match",
    OWL + "sameAs": "same as",
    "http://purl.org/dc/terms/description": "description",
    "http://purl.org/dc/terms/title": "title",
    "http://purl.org/dc/terms/alternative": "subtitle",
    "http://purl.org/dc/terms/publisher": "publisher",
    "http://purl.org/dc/terms/creator": "author",
    "http://purl.org/dc/terms/contributor": "contributor",
    "http://purl.org/dc/terms/language": "language",
    "http://www.w3.org/ns/prov#wasDerivedFrom": "sources",
    "http://www.w3.org/ns/prov#wasQuotedFrom": "quoted from",
    str(ORG) + "member": "member",
    str(ORG) + "organization": "organization",
    str(ORG) + "role": "role",
    str(ORG) + "memberDuring": "period",
    str(ORG) + "subOrganizationOf": "part of",
    str(ORG) + "postIn": "post in",
    str(ORG) + "Membership": "membership",
    str(ORG) + "Post": "post",
    str(ORG) + "Role": "role",
    str(ORG) + "FormalOrganization": "formal organization",
    str(ORG) + "OrganizationalUnit": "organizational unit",
    "http://www.w3.org/2006/time#hasTime": "time",
    "http://www.w3.org/2006/time#hasBeginning": "beginning",
    "http://www.w3.org/2006/time#hasEnd": "end",
    "http://www.w3.org/2006/time#inXSDDate": "date",
    "http://www.w3.org/2006/time#Instant": "instant",
    "http://www.w3.org/2006/time#Interval": "interval",
}
# Incoming links worded from the linked thing's side, for standard terms the ontology cannot annotate.
STANDARD_INVERSE_LABELS = {
    str(ORG) + "member": "memberships",
    str(ORG) + "organization": "members",
    str(ORG) + "subOrganizationOf": "parts of this",
    str(ORG) + "postIn": "posts",
    "http://www.w3.org/ns/prov#wasDerivedFrom": "records taken from this source",
}

TERM_FACTS = """SELECT ?t ?holder ?post ?acting ?start ?sp ?end ?ep ?seen ?seenp WHERE {
  TERMS
  OPTIONAL { ?t tg:holder ?holder } OPTIONAL { ?t tg:post ?post } OPTIONAL { ?t tg:acting ?acting }
  OPTIONAL { ?t time:hasTime ?i . ?i time:hasBeginning ?b . ?b time:inXSDDate ?start
             OPTIONAL { ?b tg:datePrecision ?sp } }
  OPTIONAL { ?t time:hasTime ?j . ?j time:hasEnd ?e . ?e time:inXSDDate ?end
             OPTIONAL { ?e tg:datePrecision ?ep } }
  OPTIONAL { ?t tg:attestedOn ?a . ?a time:inXSDDate ?seen OPTIONAL { ?a tg:datePrecision ?seenp } }
}"""
ALL_TERMS = "?t a tg:TermOfOffice ."
DATES = (("start", "sp"), ("end", "ep"), ("seen", "seenp"))


@dataclass(frozen=True)
class Tenure:
    """One term of office of a post, as the post's page lists it."""

    term: str
    holder: str | None
    acting: bool
    start: str | None  # dates as people write them, only those the data has
    end: str | None
    seen: str | None
    order: str  # the earliest date the data has, ISO, for sorting


def tenures(rows: Iterable) -> list[Tenure]:
    """The terms of one post from rows of TERM_FACTS, earliest first (undated last)."""
    found: dict[str, dict] = {}
    for row in rows:
        term = found.setdefault(row["t"].value, {"dates": []})
        for name in ("holder", "acting"):
            if row[name] is not None:
                term.setdefault(name, row[name].value)
        for name, precision in DATES:
            if row[name] is not None and name not in term:
                exact = row[precision].value if row[precision] is not None else None
                term[name] = format_date(row[name].value, exact)
                term["dates"].append(row[name].value)
    listed = [
        Tenure(
            term=iri,
            holder=term.get("holder"),
            acting=term.get("acting") == "true",
            start=term.get("start"),
            end=term.get("end"),
            seen=term.get("seen"),
            order=min(term["dates"], default="9999"),
        )
        for iri, term in found.items()
    ]
    return sorted(listed, key=lambda t: (t.order, t.term))


def term_names(rows: Iterable, label: Callable[[str | None], str | None]) -> dict[str, str]:
    """`Stanislav Zas, Secretary General of the CSTO, from 1 January 2020`: holder, post (acting
    or not) and the dates the data has, from the rows of TERM_FACTS."""
    parts: dict[str, dict[str, str]] = {}
    for row in rows:
        found = parts.setdefault(row["t"].value, {})
        for name in ("holder", "post", "acting"):
            if row[name] is not None:
                found.setdefault(name, row[name].value)
        for name, precision in DATES:
            if row[name] is not None:
                exact = row[precision].value if row[precision] is not None else None
                found.setdefault(name, format_date(row[name].value, exact))
    names = {}
    for iri, found in parts.items():
        holder = label(found.get("holder")) or "someone"
        post = label(found.get("post")) or "a post"
        if found.get("acting") == "true":
            post = f"acting {post}"
        names[iri] = f"{holder}, {post}{term_dates(found)}"
    return names


def term_dates(found: dict[str, str]) -> str:
    """`, from 1 January 2020`, `, 2018 to 2019`, `, in office on 2 December 2020`, or nothing."""
    start, end, seen = found.get("start"), found.get("end"), found.get("seen")
    if start and end:
        return f", {start} \N{EN DASH} {end}"
    if start:
        return f", from {start}"
    if end:
        return f", until {end}"
    if not seen:
        return ""
    return f", in office {'on' if seen[:1].isdigit() and ' ' in seen else 'in'} {seen}"


DURATION = re.compile(
    r"^P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def duration_words(lexical: str) -> str:
    """`P5Y` -> `5 years`; `P1Y6M` -> `1 year and 6 months`; anything else as it is."""
    match = DURATION.match(lexical.strip())
    if not match or lexical.strip() in ("P", "PT"):
        return lexical
    parts = []
    for unit, amount in match.groupdict().items():
        if amount is not None:
            count = int(amount)
            parts.append(f"{count} {unit if count != 1 else unit[:-1]}")
    if not parts:
        return lexical
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
