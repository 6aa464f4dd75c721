"""Curated facts: YAML records in data/facts/ turned into RDF, each with its sources and quotes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import PROV, RDF, TIME, XSD
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from treatygraph.core.dates import PRECISION_UNITS, ParsedDate, is_before, parse_date
from treatygraph.core.errors import Collector, DataError, Problem
from treatygraph.rdf.namespaces import ProjectNamespaces

from .sources import Source
from .yamlio import item_line, key_line, load_records, load_yaml, record_line

RECORD_ID = re.compile(r"^[a-z][a-z-]*/[a-z0-9][a-z0-9-]*$")
RESERVED = {"id", "type", "sources", "start", "end"}
# Fields that need no claim: the record's own keys, and the note, which is the publisher's sentence
# to the reader (published as skos:note), not a statement about the world.
UNCLAIMED = {"id", "type", "sources", "note"}
CLAIM_KEYS = {"source", "quote", "supports", "inference", "note", "inForceOn"}
DATE_KEYS = {"value", "inference"}
VALUE_KINDS = {
    "ref",
    "text",
    "string",
    "date",
    "duration",
    "integer",
    "decimal",
    "boolean",
    "uri",
    "concept",
    "node",
}
DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+D)?$")
LANGUAGE_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$")
SCALAR = (str, int, float, bool)
LOCAL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class FieldSpec:
    key: str
    predicate: URIRef
    value: str
    many: bool = False
    values: dict[str, URIRef] = field(default_factory=dict)
    node_class: URIRef | None = None


@dataclass(frozen=True)
class TypeSpec:
    name: str
    kind: str
    classes: tuple[URIRef, ...]
    interval: URIRef


@dataclass
class Mapping:
    """The table from YAML keys to ontology terms (ontology/mapping.yaml)."""

    types: dict[str, TypeSpec]
    fields: dict[str, FieldSpec]

    @classmethod
    def load(cls, path: Path, ns: ProjectNamespaces) -> Mapping:
        problems = Collector()
        prefixes = ns.prefixes()

        def expand(curie: str, line: int) -> URIRef:
            prefix, _, local = str(curie).partition(":")
            if prefix not in prefixes or not LOCAL_NAME.match(local):
                problems.add(
                    path, line, f"{curie!r} is not a term with a known prefix, like tg:Name"
                )
                return URIRef(str(curie))
            return URIRef(prefixes[prefix] + local)

        document = load_mapping_document(path)
        for section in ("types", "fields"):
            if not isinstance(document.get(section), CommentedMap):
                raise DataError(
                    Problem(path, key_line(document, section), f"{section}: expected a mapping")
                )
            for name, spec in document[section].items():
                required = ("kind", "classes") if section == "types" else ("predicate", "value")
                if not isinstance(spec, CommentedMap) or any(k not in spec for k in required):
                    problems.add(
                        path,
                        key_line(document[section], name),
                        f"{name}: expected a mapping with {' and '.join(required)}",
                    )
                elif section == "types" and not isinstance(spec["classes"], list):
                    problems.add(path, key_line(spec, "classes"), f"{name}: classes must be a list")
                elif section == "fields" and not isinstance(spec.get("values", {}), dict):
                    problems.add(
                        path, key_line(spec, "values"), f"{name}: values must be a mapping"
                    )
        problems.raise_if_any()
        types: dict[str, TypeSpec] = {}
        for name, spec in document["types"].items():
            line = key_line(document["types"], name)
            types[name] = TypeSpec(
                name=name,
                kind=str(spec["kind"]),
                classes=tuple(expand(c, line) for c in spec["classes"]),
                interval=expand(spec.get("interval", "time:hasTime"), line),
            )
        fields: dict[str, FieldSpec] = {}
        for key, spec in document["fields"].items():
            line = key_line(document["fields"], key)
            if not isinstance(spec["value"], str) or spec["value"] not in VALUE_KINDS:
                problems.add(
                    path, line, f"field {key!r} has unknown value kind {spec.get('value')!r}"
                )
                continue
            fields[key] = FieldSpec(
                key=key,
                predicate=expand(spec["predicate"], line),
                value=spec["value"],
                many=bool(spec.get("many", False)),
                values={k: expand(v, line) for k, v in spec.get("values", {}).items()},
                node_class=expand(spec["class"], line) if "class" in spec else None,
            )
        problems.raise_if_any()
        return cls(types, fields)


def load_mapping_document(path: Path) -> CommentedMap:
    document = load_yaml(path)
    if not isinstance(document, CommentedMap):
        raise DataError(Problem(path, 1, "expected a mapping with `types` and `fields`"))
    return document


@dataclass
class Located:
    """Where a record came from, for error messages and the data lint."""

    path: Path
    line: int


@dataclass
class FactsResult:
    facts: Graph
    provenance: Graph
    records: dict[str, Located]


class _Converter:
    def __init__(self, mapping: Mapping, ns: ProjectNamespaces, sources: dict[str, Source]):
        self.mapping = mapping
        self.ns = ns
        self.tg = ns.tg
        self.sources = sources
        self.facts = Graph()
        self.provenance = Graph()
        self.problems = Collector()
        self.records: dict[str, Located] = {}

    # -- record level -------------------------------------------------------------------------
    def register(self, path: Path, records: CommentedSeq) -> None:
        for index, record in enumerate(records):
            line = item_line(records, index)
            record_id = record.get("id")
            if not isinstance(record_id, str) or not RECORD_ID.match(record_id):
                self.problems.add(
                    path, line, f"record id {record_id!r} is not of the form kind/slug"
                )
                continue
            if record_id in self.records:
                first = self.records[record_id]
                self.problems.add(
                    path,
                    line,
                    f"duplicate id {record_id!r} (first defined at {first.path}:{first.line})",
                )
                continue
            self.records[record_id] = Located(path, line)

    def convert(self, path: Path, record: CommentedMap) -> None:
        record_id = record.get("id")
        found = self.records.get(record_id) if isinstance(record_id, str) else None
        if found is None or found.path != path:
            return
        subject = URIRef(self.ns.entity(record_id))
        type_name = record.get("type")
        spec = self.mapping.types.get(type_name) if isinstance(type_name, str) else None
        if spec is None:
            self.problems.add(path, key_line(record, "type"), f"unknown type {type_name!r}")
            return
        kind = record_id.split("/", 1)[0]
        if kind != spec.kind:
            self.problems.add(
                path,
                key_line(record, "id"),
                f"a {type_name} id must start with {spec.kind}/, not {kind}/",
            )
        for cls in spec.classes:
            self.facts.add((subject, RDF.type, cls))
        self.fields(path, record, subject, skip=RESERVED)
        self.interval(path, record, subject, spec.interval)
        self.claims(path, record, subject)

    def fields(self, path: Path, mapping: CommentedMap, subject: URIRef, skip: set[str]) -> None:
        for key, value in mapping.items():
            if key in skip:
                continue
            line = key_line(mapping, key)
            spec = self.mapping.fields.get(key)
            if spec is None:
                self.problems.add(path, line, f"unknown field {key!r} (see ontology/mapping.yaml)")
                continue
            values = value if isinstance(value, list) else [value]
            if isinstance(value, list) and not spec.many:
                self.problems.add(path, line, f"field {key!r} takes one value, not a list")
                continue
            for index, item in enumerate(values, start=1):
                if spec.value == "text" and isinstance(item, dict):
                    for lang, text in item.items():
                        if not LANGUAGE_TAG.match(str(lang)):
                            self.problems.add(
                                path, line, f"{key}: {lang!r} is not a language tag such as en"
                            )
                        elif not isinstance(text, str):
                            self.problems.add(path, line, f"{key}: the {lang} text is not a string")
                        else:
                            self.facts.add((subject, spec.predicate, Literal(text, lang=str(lang))))
                    continue
                if spec.value not in ("node", "date") and not isinstance(item, SCALAR):
                    self.problems.add(path, line, f"{key}: expected a single value, not {item!r}")
                    continue
                obj = self.value(path, line, spec, item, subject, index)
                if obj is not None:
                    self.facts.add((subject, spec.predicate, obj))

    def value(self, path, line, spec: FieldSpec, item, subject: URIRef, index: int):
        kind = spec.value
        if kind == "ref":
            if item not in self.records:
                self.problems.add(path, line, f"{spec.key}: no record has the id {item!r}")
                return None
            return URIRef(self.ns.entity(str(item)))
        if kind == "text":
            return Literal(str(item), lang="en")
        if kind == "string":
            return Literal(str(item))
        if kind == "date":
            return self.instant(path, line, subject, f"{spec.key}", item)
        if kind == "duration":
            if not DURATION.match(str(item)):
                self.problems.add(path, line, f"{spec.key}: {item!r} is not a duration such as P5Y")
                return None
            return Literal(str(item), datatype=XSD.duration)
        if kind == "integer":
            if isinstance(item, bool) or not isinstance(item, int):
                self.problems.add(path, line, f"{spec.key}: {item!r} is not a whole number")
                return None
            return Literal(item, datatype=XSD.integer)
        if kind == "decimal":
            return Literal(str(item), datatype=XSD.decimal)
        if kind == "boolean":
            if not isinstance(item, bool):
                self.problems.add(path, line, f"{spec.key}: {item!r} is not true or false")
                return None
            return Literal(item)
        if kind == "uri":
            if not re.match(r"^https?://\S+$", str(item)):
                self.problems.add(path, line, f"{spec.key}: {item!r} is not an http(s) IRI")
                return None
            return URIRef(str(item))
        if kind == "concept":
            if item not in spec.values:
                allowed = ", ".join(sorted(spec.values))
                self.problems.add(path, line, f"{spec.key}: {item!r} is not one of {allowed}")
                return None
            return spec.values[item]
        if kind == "node":
            if not isinstance(item, CommentedMap):
                self.problems.add(path, line, f"{spec.key}: expected a mapping")
                return None
            node = URIRef(f"{subject}#{spec.key}-{index}")
            if spec.node_class is not None:
                self.facts.add((node, RDF.type, spec.node_class))
            self.fields(path, item, node, skip={"start", "end"})
            self.interval(path, item, node, TIME.hasTime)
            return node
        raise AssertionError(kind)

    # -- time -----------------------------------------------------------------------------------
    def parse(self, path: Path, line: int, name: str, value) -> tuple[ParsedDate, object] | None:
        """A date written as YYYY[-MM[-DD]] or {value: ..., inference: ...}, and its inference."""
        inference = None
        if isinstance(value, dict):
            unknown = sorted(str(k) for k in set(value) - DATE_KEYS)
            if unknown:
                self.problems.add(
                    path,
                    line,
                    f"{name}: unknown keys {', '.join(map(repr, unknown))} in a date (a date is YYYY[-MM[-DD]] "
                    "or {value: ..., inference: ...}; quote an inference that contains a comma "
                    "or a colon)",
                )
                return None
            inference = value.get("inference")
            value = value.get("value")
        try:
            return parse_date(value), inference
        except ValueError as err:
            self.problems.add(path, line, f"{name}: {err}")
            return None

    def instant(
        self, path: Path, line: int, subject: URIRef, name: str, value, graph: Graph | None = None
    ) -> URIRef | None:
        parsed = self.parse(path, line, name, value)
        if parsed is None:
            return None
        date, inference = parsed
        node = URIRef(f"{subject}#{name}")
        g = self.facts if graph is None else graph
        g.add((node, RDF.type, TIME.Instant))
        g.add((node, TIME.inXSDDate, Literal(date.start.isoformat(), datatype=XSD.date)))
        g.add((node, self.tg.datePrecision, PRECISION_UNITS[date.precision]))
        g.add((node, self.tg.latestDate, Literal(date.last_day.isoformat(), datatype=XSD.date)))
        if date.precision == "year":
            g.add((node, TIME.inXSDgYear, Literal(date.text, datatype=XSD.gYear)))
        elif date.precision == "month":
            g.add((node, TIME.inXSDgYearMonth, Literal(date.text, datatype=XSD.gYearMonth)))
        if inference:
            g.add((node, self.tg.inference, Literal(str(inference), lang="en")))
        return node

    def interval(
        self, path: Path, mapping: CommentedMap, subject: URIRef, predicate: URIRef
    ) -> None:
        if "start" not in mapping and "end" not in mapping:
            return
        interval = URIRef(f"{subject}#interval")
        self.facts.add((subject, predicate, interval))
        self.facts.add((interval, RDF.type, TIME.Interval))
        bounds: dict[str, ParsedDate] = {}
        for key, link in (("start", TIME.hasBeginning), ("end", TIME.hasEnd)):
            if key in mapping:
                line = key_line(mapping, key)
                node = self.instant(path, line, subject, key, mapping[key])
                if node is not None:
                    self.facts.add((interval, link, node))
                    bounds[key] = self.parse(path, line, key, mapping[key])[0]
        # At the coarser precision, as the shapes compare: a start of 1999-04-02 may end in 1999.
        if len(bounds) == 2 and is_before(bounds["end"], bounds["start"]):
            self.problems.add(path, key_line(mapping, "end"), "end is before start")

    # -- provenance -----------------------------------------------------------------------------
    def claims(self, path: Path, record: CommentedMap, subject: URIRef) -> None:
        claims = record.get("sources")
        if not isinstance(claims, list) or not claims:
            self.problems.add(
                path, record_line(record), "every record needs `sources` with a quote"
            )
            return
        prov = self.provenance
        for index, claim in enumerate(claims, start=1):
            line = item_line(claims, index - 1)
            if not isinstance(claim, CommentedMap):
                self.problems.add(path, line, "each source entry must be a mapping {source, quote}")
                continue
            unknown = set(claim) - CLAIM_KEYS
            if unknown:
                self.problems.add(
                    path, line, f"unknown keys in source entry: {', '.join(sorted(unknown))}"
                )
            source = self.sources.get(str(claim.get("source")))
            if source is None:
                self.problems.add(
                    path, key_line(claim, "source"), f"unknown source id {claim.get('source')!r}"
                )
                continue
            quote = claim.get("quote")
            if not isinstance(quote, str) or not quote.strip():
                self.problems.add(path, line, "source entry has no quote")
                continue
            where = source.locate(quote)
            if where is None:
                self.problems.add(
                    path,
                    key_line(claim, "quote"),
                    f"quote not found in source {source.id} ({source.path.name}): {quote[:80]!r}",
                )
                continue
            node = URIRef(f"{subject}#claim-{index}")
            source_iri = URIRef(self.ns.entity(f"source/{source.id}"))
            prov.add((node, RDF.type, self.tg.Claim))
            prov.add((node, self.tg.claimAbout, subject))
            prov.add((node, PROV.wasQuotedFrom, source_iri))
            prov.add((node, self.tg.quote, Literal(" ".join(quote.split()), lang=source.language)))
            prov.add((subject, PROV.wasDerivedFrom, source_iri))
            if where == "tail":
                prov.add((node, self.tg.fromUnrelatedTail, Literal(True)))
            supports = claim.get("supports") or []
            if not isinstance(supports, list) or not all(isinstance(k, str) for k in supports):
                self.problems.add(
                    path, key_line(claim, "supports"), "supports must be a list of field names"
                )
                supports = []
            for key in supports:
                spec = self.mapping.fields.get(key)
                if key in ("start", "end"):
                    bound = TIME.hasBeginning if key == "start" else TIME.hasEnd
                    prov.add((node, self.tg.supports, bound))
                elif spec is None:
                    self.problems.add(
                        path, key_line(claim, "supports"), f"supports unknown field {key!r}"
                    )
                else:
                    prov.add((node, self.tg.supports, spec.predicate))
            if claim.get("inference"):
                prov.add((node, self.tg.inference, Literal(str(claim["inference"]), lang="en")))
            if claim.get("note"):
                prov.add((node, self.tg.note, Literal(str(claim["note"]), lang="en")))
            if "inForceOn" in claim:
                self.in_force_on(path, record, claim, subject, node)
        self.unsupported_fields(path, record, claims)

    def unsupported_fields(self, path: Path, record: CommentedMap, claims: list) -> None:
        """Refuse a field that no claim supports: a claim without `supports` stands for the whole
        record; otherwise each field needs a claim listing it, or (a date) an inference of its own."""
        entries = [c for c in claims if isinstance(c, CommentedMap)]
        if any(not c.get("supports") for c in entries):
            return
        supported = {
            key for c in entries for key in c.get("supports") or [] if isinstance(key, str)
        }
        for key, value in record.items():
            explained = isinstance(value, dict) and value.get("inference")
            if key in UNCLAIMED or key in supported or explained:
                continue
            self.problems.add(
                path,
                key_line(record, key),
                f"{record.get('id')}: field {key!r} is supported by no claim (add it to a claim's "
                "`supports`, give it an inference, or remove it)",
            )

    def in_force_on(
        self, path: Path, record: CommentedMap, claim: CommentedMap, subject: URIRef, node: URIRef
    ) -> None:
        """The date on which a quote shows its record in force (the source's publication date when
        it speaks in the present tense, or the date of what it reports), within the record's period."""
        line = key_line(claim, "inForceOn")
        local = node.rsplit("#", 1)[1]
        instant = self.instant(
            path, line, subject, f"{local}-in-force", claim["inForceOn"], self.provenance
        )
        if instant is None:
            return
        self.provenance.add((node, self.tg.inForceOn, instant))
        shown = self.parse(path, line, "inForceOn", claim["inForceOn"])[0]
        for key, wrong, why in (
            ("start", lambda bound: is_before(shown, bound), "before the record's start"),
            ("end", lambda bound: not is_before(shown, bound), "on or after the record's end"),
        ):
            parsed = self.parse(path, line, key, record[key]) if key in record else None
            if parsed is not None and wrong(parsed[0]):
                self.problems.add(
                    path,
                    line,
                    f"inForceOn {shown.text} is {why} ({parsed[0].text}): a quote cannot show "
                    "the record in force outside its period",
                )


def fact_files(facts_dir: Path) -> list[Path]:
    return sorted(facts_dir.glob("*.yaml"))


def load_facts(
    facts_dir: Path, mapping: Mapping, ns: ProjectNamespaces, sources: dict[str, Source]
) -> FactsResult:
    """Convert every curated file; raise DataError listing every problem with file and line."""
    converter = _Converter(mapping, ns, sources)
    loaded: list[tuple[Path, CommentedSeq]] = []
    for path in fact_files(facts_dir):
        try:
            records = load_records(path)
        except DataError as err:
            converter.problems.extend(err.problems)
            continue
        converter.register(path, records)
        loaded.append((path, records))
    for path, records in loaded:
        for record in records:
            converter.convert(path, record)
    converter.problems.raise_if_any()
    return FactsResult(converter.facts, converter.provenance, converter.records)
