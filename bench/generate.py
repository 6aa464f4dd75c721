"""Deterministic synthetic data in treatygraph's ontology and provenance pattern, as N-Quads.

Organizations with bodies, states, memberships (org:Membership with an OWL-Time interval whose
instants carry time:inXSDDate and tg:datePrecision), sessions of bodies with participations, and for every
statement a claim `#claim-n` (tg:claimAbout, prov:wasQuotedFrom a tg:SourceDocument, tg:quote).
The facts go to the build's `facts` graph and the claims and sources to its `provenance` graph, as
in a real build. The quotes are written into source documents, one text file per source, so the
quote check has something real to check.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from pathlib import Path

from treatygraph.core.config import CANONICAL_BASE_IRI
from treatygraph.core.dates import MONTHS
from treatygraph.rdf.namespaces import GRAPH_FACTS, GRAPH_LINKS, GRAPH_PROVENANCE, ProjectNamespaces

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SAME_AS = "<http://www.w3.org/2002/07/owl#sameAs>"
XSD = "http://www.w3.org/2001/XMLSchema#"
ORG = "http://www.w3.org/ns/org#"
TIME = "http://www.w3.org/2006/time#"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
WD = "http://www.wikidata.org/entity/"
PRECISIONS = ("unitDay", "unitMonth", "unitYear")
ROLES = ("MemberRole",) * 8 + ("ObserverRole", "SuspendedMemberRole", "PartnerRole")
BODY_KINDS = (
    ("Council of Heads of State", "HighestBody"),
    ("Council of Foreign Ministers", "CouncilOfMinisters"),
    ("Secretariat", "Secretariat"),
)
SYLLABLES = [
    "ar",
    "be",
    "ca",
    "do",
    "el",
    "fa",
    "gu",
    "ha",
    "in",
    "jo",
    "ka",
    "lu",
    "ma",
    "no",
    "or",
    "pe",
    "qu",
    "ra",
    "sa",
    "ti",
    "u",
    "va",
    "wo",
    "xe",
    "ya",
    "zu",
]


@dataclass(frozen=True)
class Generated:
    nquads: Path
    sources_dir: Path
    quads: int
    counts: dict[str, int]


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def _literal(text: str, lang: str = "en") -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{lang}'


def _typed(text: str, datatype: str) -> str:
    return f'"{text}"^^<{datatype}>'


class _Writer:
    """Writes quads and counts them; remembers each source's text for the quote check."""

    def __init__(self, handle, ns: ProjectNamespaces, rng: random.Random, n_sources: int):
        self.handle = handle
        self.rng = rng
        self.id = ns.id
        self.tg = str(ns.tg)
        self.facts = f"<{ns.graph(GRAPH_FACTS)}>"
        self.provenance = f"<{ns.graph(GRAPH_PROVENANCE)}>"
        self.links = f"<{ns.graph(GRAPH_LINKS)}>"
        self.quads = 0
        self.texts: list[list[str]] = [[] for _ in range(n_sources)]
        self._derived: tuple[str, set[int]] = ("", set())

    def quad(self, s: str, p: str, o: str, graph: str) -> None:
        self.handle.write(f"{s} {p} {o} {graph} .\n")
        self.quads += 1

    def fact(self, s: str, p: str, o: str) -> None:
        self.quad(s, p, o, self.facts)

    def prov(self, s: str, p: str, o: str) -> None:
        self.quad(s, p, o, self.provenance)

    def link(self, s: str, qid: int) -> None:
        self.quad(s, SAME_AS, f"<{WD}Q{qid}>", self.links)

    def iri(self, local: str) -> str:
        return f"<{self.id}{local}>"

    def tgt(self, local: str) -> str:
        return f"<{self.tg}{local}>"

    def instant(self, node: str, graph, year: int, month: int, day: int) -> str:
        """An OWL-Time instant with its precision; returns the date as a person would write it."""
        precision = self.rng.choice(PRECISIONS)
        graph(node, RDF_TYPE, f"<{TIME}Instant>")
        if precision == "unitYear":
            month, day, spoken = 1, 1, f"{year}"
            graph(node, f"<{TIME}inXSDgYear>", _typed(f"{year:04d}", f"{XSD}gYear"))
        elif precision == "unitMonth":
            day, spoken = 1, f"{MONTHS[month - 1]} {year}"
            graph(
                node,
                f"<{TIME}inXSDgYearMonth>",
                _typed(f"{year:04d}-{month:02d}", f"{XSD}gYearMonth"),
            )
        else:
            spoken = f"{day} {MONTHS[month - 1]} {year}"
        graph(node, f"<{TIME}inXSDDate>", _typed(f"{year:04d}-{month:02d}-{day:02d}", f"{XSD}date"))
        graph(node, self.tgt("datePrecision"), f"<{TIME}{precision}>")
        return spoken

    def claim(self, subject_local: str, n: int, quote: str, supports: str | None = None) -> None:
        source = self.rng.randrange(len(self.texts))
        claim = self.iri(f"{subject_local}#claim-{n}")
        self.prov(claim, RDF_TYPE, self.tgt("Claim"))
        self.prov(claim, self.tgt("claimAbout"), self.iri(subject_local))
        self.prov(claim, f"<{PROV}wasQuotedFrom>", self.iri(f"source/src{source}"))
        self.prov(claim, self.tgt("quote"), _literal(quote))
        if supports:
            self.prov(claim, self.tgt("supports"), self.tgt(supports))
        if self._derived[0] != subject_local:
            self._derived = (subject_local, set())
        if source not in self._derived[1]:
            self._derived[1].add(source)
            self.prov(
                self.iri(subject_local), f"<{PROV}wasDerivedFrom>", self.iri(f"source/src{source}")
            )
        self.texts[source].append(quote)


def _date(rng: random.Random, first: int = 1945, last: int = 2024) -> tuple[int, int, int]:
    return rng.randint(first, last), rng.randint(1, 12), rng.randint(1, 28)


def generate(
    target_quads: int, out_dir: Path, seed: int = 1, base_iri: str = CANONICAL_BASE_IRI
) -> Generated:
    """Write about `target_quads` quads to out_dir/synthetic.nq and the sources to out_dir/sources/."""
    rng = random.Random(seed)
    ns = ProjectNamespaces(base_iri)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources_dir = out_dir / "sources"
    sources_dir.mkdir(exist_ok=True)
    n_states = max(200, target_quads // 2_000)
    n_orgs = max(50, target_quads // 5_000)
    # Each membership gets its own (state, organization) pair, visited in a scrambled order, so no
    # two memberships of a member in an organization overlap (the shapes forbid that).
    n_pairs = n_states * n_orgs
    stride = next(p for p in range(n_pairs // 3 + 1, n_pairs) if math.gcd(p, n_pairs) == 1)
    n_sources = max(10, target_quads // 10_000)
    counts = dict.fromkeys(
        ("states", "organizations", "bodies", "memberships", "meetings", "sources"), 0
    )
    path = out_dir / "synthetic.nq"
    with path.open("w", encoding="utf-8", buffering=1 << 20) as handle:
        w = _Writer(handle, ns, rng, n_sources)
        states = []
        for i in range(n_states):
            local, name = f"state/s{i}", f"{_name(rng)} {i}"
            states.append((local, name))
            w.fact(w.iri(local), RDF_TYPE, w.tgt("State"))
            w.fact(w.iri(local), LABEL, _literal(name))
            if rng.random() < 0.8:
                w.link(w.iri(local), 1_000_000 + i)
            w.claim(local, 1, f"{name} is a sovereign state.")
        orgs = []
        for i in range(n_orgs):
            local, name = f"organization/o{i}", f"Organization of {_name(rng)} {i}"
            short = "".join(word[0] for word in name.split()[:3]).upper() + str(i)
            bodies = []
            w.fact(w.iri(local), RDF_TYPE, w.tgt("InternationalOrganization"))
            w.fact(w.iri(local), LABEL, _literal(name))
            w.fact(w.iri(local), w.tgt("shortName"), _literal(short))
            if rng.random() < 0.9:
                w.link(w.iri(local), 2_000_000 + i)
            w.claim(local, 1, f"The {name} ({short}) was founded in {rng.randint(1945, 2015)}.")
            for j, (kind, category) in enumerate(BODY_KINDS):
                body_local, body_name = f"body/o{i}-b{j}", f"{kind} of the {name}"
                w.fact(w.iri(body_local), RDF_TYPE, w.tgt("Body"))
                w.fact(w.iri(body_local), LABEL, _literal(body_name))
                w.fact(w.iri(body_local), f"<{ORG}subOrganizationOf>", w.iri(local))
                w.fact(w.iri(body_local), w.tgt("bodyCategory"), w.tgt(category))
                w.claim(body_local, 1, f"The {body_name} is a body of the {short}.")
                bodies.append((body_local, body_name))
                counts["bodies"] += 1
            orgs.append((local, name, short, bodies))
        counts["states"], counts["organizations"] = n_states, n_orgs
        source_quads = 14 * n_sources
        membership = meeting = 0
        while w.quads < target_quads - source_quads:
            if rng.random() < 0.75:
                if membership >= n_pairs:
                    raise ValueError(f"{target_quads} quads need more (state, organization) pairs")
                pair = (membership * stride) % n_pairs
                _membership(w, rng, membership, states[pair % n_states], orgs[pair // n_states])
                membership += 1
            else:
                _meeting(w, rng, meeting, rng.choice(orgs), rng.sample(states, rng.randint(2, 6)))
                meeting += 1
        counts["memberships"], counts["meetings"] = membership, meeting
        for i, quotes in enumerate(w.texts):
            _source(w, rng, i, quotes, sources_dir)
        counts["sources"] = n_sources
    return Generated(path, sources_dir, w.quads, counts)


def _membership(w: _Writer, rng: random.Random, i: int, state, org) -> None:
    (state_local, state_name), (org_local, org_name, short, _) = state, org
    local = f"membership/m{i}"
    node = w.iri(local)
    role = rng.choice(ROLES)
    w.fact(node, RDF_TYPE, f"<{ORG}Membership>")
    w.fact(node, f"<{ORG}member>", w.iri(state_local))
    w.fact(node, f"<{ORG}organization>", w.iri(org_local))
    w.fact(node, f"<{ORG}role>", w.tgt(role))
    interval = w.iri(f"{local}#interval")
    w.fact(node, f"<{ORG}memberDuring>", interval)
    w.fact(interval, RDF_TYPE, f"<{TIME}Interval>")
    w.fact(interval, f"<{TIME}hasBeginning>", w.iri(f"{local}#start"))
    year, month, day = _date(rng)
    joined = w.instant(w.iri(f"{local}#start"), w.fact, year, month, day)
    kind = {"MemberRole": "a member", "ObserverRole": "an observer", "PartnerRole": "a partner"}
    w.claim(local, 1, f"{state_name} is {kind.get(role, 'a suspended member')} of the {short}.")
    w.claim(local, 2, f"{state_name} joined the {org_name} in {joined}.", supports="startDate")
    if rng.random() < 0.3:
        w.fact(interval, f"<{TIME}hasEnd>", w.iri(f"{local}#end"))
        left = w.instant(w.iri(f"{local}#end"), w.fact, *_date(rng, year + 1, year + 30))
        w.claim(local, 3, f"{state_name} left the {short} in {left}.", supports="endDate")
    if rng.random() < 0.5:
        event = w.iri(f"event/accession-m{i}")
        w.fact(event, RDF_TYPE, w.tgt("Accession"))
        w.fact(event, LABEL, _literal(f"{state_name} joins the {short}"))
        w.fact(event, w.tgt("agent"), w.iri(state_local))
        w.fact(event, w.tgt("concerns"), w.iri(org_local))
        w.fact(event, w.tgt("affectsMembership"), node)
        w.fact(event, f"<{TIME}hasTime>", w.iri(f"{local}#start"))
        w.claim(f"event/accession-m{i}", 1, f"{state_name} acceded to the {short} in {joined}.")


def _meeting(w: _Writer, rng: random.Random, i: int, org, participants) -> None:
    body_local, body_name = rng.choice(org[3])
    local = f"meeting/g{i}"
    node = w.iri(local)
    w.fact(node, RDF_TYPE, w.tgt("Session"))
    w.fact(node, LABEL, _literal(f"Session {i} of the {body_name}"))
    w.fact(node, w.tgt("sessionOf"), w.iri(body_local))
    w.fact(node, w.tgt("ordinal"), _typed(str(i + 1), f"{XSD}integer"))
    for n, (state_local, state_name) in enumerate(participants, start=1):
        participation = w.iri(f"{local}#participants-{n}")
        w.fact(node, w.tgt("participation"), participation)
        w.fact(participation, RDF_TYPE, w.tgt("Participation"))
        w.fact(participation, w.tgt("represents"), w.iri(state_local))
        w.fact(participation, w.tgt("roleLabel"), _literal(f"delegation of {state_name}"))
    w.fact(node, f"<{TIME}hasTime>", w.iri(f"{local}#date"))
    held = w.instant(w.iri(f"{local}#date"), w.fact, *_date(rng, 1990, 2024))
    names = ", ".join(name for _, name in participants)
    w.claim(local, 1, f"The {body_name} met in {held} with {names}.")


def _source(w: _Writer, rng: random.Random, i: int, quotes: list[str], sources_dir: Path) -> None:
    local, file_name = f"source/src{i}", f"src{i:06d}.txt"
    text = f"Synthetic source {i}\n\n" + "\n".join(quotes) + "\n"
    data = text.encode("utf-8")
    (sources_dir / file_name).write_bytes(data)
    node = w.iri(local)
    title = _literal(f"Report {i} on {_name(rng)} affairs")
    w.prov(node, RDF_TYPE, w.tgt("SourceDocument"))
    w.prov(node, LABEL, title)
    w.prov(node, f"<{DCT}title>", title)
    w.prov(node, f"<{DCT}publisher>", _literal(f"{_name(rng)} News"))
    w.prov(node, f"<{DCT}language>", _typed("en", f"{XSD}language"))
    w.prov(node, w.tgt("fileName"), f'"{file_name}"')
    w.prov(node, w.tgt("hasUnrelatedTail"), _typed("false", f"{XSD}boolean"))
    w.prov(node, w.tgt("sha256"), _typed(hashlib.sha256(data).hexdigest(), f"{XSD}hexBinary"))
    w.prov(node, w.tgt("publicationDate"), w.iri(f"{local}#published"))
    w.instant(w.iri(f"{local}#published"), w.prov, *_date(rng, 1995, 2024))
    w.prov(node, f"<{DCT}description>", _literal(f"{len(quotes)} statements."))
