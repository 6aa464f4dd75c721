"""Wikidata: the curated links, the Wikidata-shaped view, `treatygraph link`, `wikidata-diff` and
the federation recipes, against a local mirror (a real `oxigraph serve-read-only` over
tests/data/wikidata)."""

from __future__ import annotations

import re

import pytest
import requests
from click.testing import CliRunner
from conftest import TEST_DATA, OxigraphServer, free_port
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib import namespace as vocabulary
from rdflib.namespace import OWL, PROV, RDF, RDFS
from sparql_support import endpoint_server

from treatygraph.cli.commands import main
from treatygraph.core.errors import DataError
from treatygraph.curation.links import COLUMNS, links_path, read_links
from treatygraph.curation.lint import check_canonical
from treatygraph.publish.assemble import assemble
from treatygraph.rdf.namespaces import (
    GRAPH_LINKS,
    GRAPH_WIKIDATA_VIEW,
    ORG,
    PQ,
    PR,
    PS,
    WDP,
    WDT,
    WIKIBASE,
    ProjectNamespaces,
)
from treatygraph.wikidata.view import wikidata_view

WIKIDATA = "https://query.wikidata.org/sparql"
ID = "https://w3id.org/treatygraph/id/"
CSTO = URIRef(ID + "organization/csto")
WD = Namespace("http://www.wikidata.org/entity/")
QS_TIME = re.compile(r"^\+\d{4}-\d{2}-\d{2}T00:00:00Z/(9|10|11)$")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """The extract plus the hand-made test triples (aliases, qualifiers, linker traps)."""
    wikidata = TEST_DATA / "wikidata"
    server = OxigraphServer(
        tmp_path_factory.mktemp("wikidata-mirror-handmade"),
        wikidata / "extract.ttl",
        wikidata / "handmade.ttl",
    )
    yield server.query_url
    server.stop()


def run(config, *args):
    env = {
        "TREATYGRAPH_DATA_DIR": str(config.data_dir),
        "TREATYGRAPH_ONTOLOGY_DIR": str(config.ontology_dir),
        "TREATYGRAPH_SHAPES_DIR": str(config.shapes_dir),
        "TREATYGRAPH_BUILD_DIR": str(config.build_dir),
    }
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def without_links(config, *record_ids):
    path = links_path(config.data_dir)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(
        "".join(line for line in lines if line.split("\t")[0] not in record_ids), encoding="utf-8"
    )
    return path


# -- links ---------------------------------------------------------------------------------------


def test_links_become_same_as_in_their_own_graph(config, built):
    assembled = assemble(config)
    links = assembled.graphs[GRAPH_LINKS]
    assert (CSTO, OWL.sameAs, WD.Q318693) in links
    assert (URIRef(ID + "state/armenia"), OWL.sameAs, WD.Q399) in links
    assert set(links.predicates()) == {OWL.sameAs}
    assert len(links) == len(read_links(links_path(config.data_dir)))


def test_every_link_says_how_and_when_it_was_established(config):
    links = read_links(links_path(config.data_dir))
    assert links
    ways = (
        "reference list: confirmed",
        "reference list: seen once",
        "not in the reference list",
        "treatygraph link --accept",
    )
    for link in links:
        assert link.established.startswith(ways), link
        if not link.established.startswith(("reference list: confirmed", "treatygraph link")):
            assert "checked:" in link.established, link
        assert re.match(r"^\d{4}-\d{2}-\d{2}$", link.date)


@pytest.mark.parametrize(
    "row, message",
    [
        (
            "state/atlantis\tQ123\tAtlantis\tby hand\t2026-01-01",
            "no record has the id 'state/atlantis'",
        ),
        ("state/armenia\tQ12x\tArmenia\tby hand\t2026-01-01", "is not a Wikidata item id"),
        ("state/armenia\tq399\tArmenia\tby hand\t2026-01-01", "is not a Wikidata item id"),
        ("state/armenia\tQ399\tArmenia\tby hand", "expected 5 tab-separated columns"),
        ("state/armenia\tQ399\tArmenia\tby hand\tyesterday", "is not YYYY-MM-DD"),
        ("membership/armenia-csto\tQ5\tx\tby hand\t2026-01-01", "not linked to Wikidata items"),
        (
            "organization/cis\tQ318693\tCSTO\tby hand\t2026-01-01",
            "Q318693 is already linked to organization/csto",
        ),
    ],
)
def test_a_bad_link_fails_the_build_with_file_and_line(inputs_copy, row, message):
    path = links_path(inputs_copy.data_dir)
    text = path.read_text(encoding="utf-8")
    path.write_text(text + row + "\n", encoding="utf-8")
    line = text.count("\n") + 1
    with pytest.raises(DataError) as raised:
        assemble(inputs_copy)
    assert f"{path}:{line}: " in str(raised.value)
    assert message in str(raised.value)


def test_a_wrong_header_is_named(inputs_copy):
    path = links_path(inputs_copy.data_dir)
    path.write_text("record\tqid\n" + path.read_text(encoding="utf-8").split("\n", 1)[1])
    with pytest.raises(DataError, match=rf"{re.escape(str(path))}:1: the header must be"):
        assemble(inputs_copy)


def test_links_file_is_linted_and_fixed(inputs_copy):
    path = links_path(inputs_copy.data_dir)
    header, *rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text(header + "".join(reversed(rows)), encoding="utf-8")
    assert path in check_canonical(inputs_copy)
    check_canonical(inputs_copy, fix=True)
    assert path not in check_canonical(inputs_copy)
    assert path.read_text(encoding="utf-8") == header + "".join(rows)
    assert header.rstrip("\n").split("\t") == list(COLUMNS)


def test_link_report_lists_the_unlinked_entities_without_asking_anyone(inputs_copy):
    without_links(inputs_copy, "state/georgia")
    result = run(inputs_copy, "link", "--report", "--endpoint", "http://127.0.0.1:9/none")
    assert result.exit_code == 0, result.output
    ids = {line.split("\t")[0] for line in result.output.splitlines()[1:] if "\t" in line}
    assert "state/georgia" in ids
    assert "state/armenia" not in ids
    assert not any(i.startswith(("membership/", "source/")) for i in ids)
    assert re.search(r"\d+ entities without a Wikidata link", result.output)


# -- treatygraph link ----------------------------------------------------------------------------


def test_link_proposes_by_label_alias_and_type_and_writes_only_when_accepted(inputs_copy, mirror):
    path = without_links(inputs_copy, "state/georgia", "person/vladimir-putin")
    before = path.read_text(encoding="utf-8")
    ids = [
        "state/georgia",
        "person/vladimir-putin",
        "person/sergey-lebedev",
        "person/talant-mamytov",
    ]
    result = run(inputs_copy, "link", "--endpoint", mirror, *ids)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "state/georgia  'Georgia': proposed: Q230" in out
    assert "- Q999999001" in out  # labelled Georgia, but not a state: shown, never proposed
    assert "person/vladimir-putin  'Vladimir Putin': proposed: Q7747" in out
    assert "ambiguous: Q999999003, Q999999004" in out
    assert "proposed: Q999999005" in out
    assert '"Talant Mamytov"@en (alias)' in out
    assert path.read_text(encoding="utf-8") == before

    accepted = run(inputs_copy, "link", "--endpoint", mirror, "--accept", *ids)
    assert accepted.exit_code == 0, accepted.output
    assert "Appended 3 link(s)" in accepted.output
    new = {link.record_id: link for link in read_links(path)}
    assert new["state/georgia"].qid == "Q230"
    assert new["person/vladimir-putin"].qid == "Q7747"
    assert new["person/talant-mamytov"].qid == "Q999999005"
    assert "person/sergey-lebedev" not in new
    assert new["state/georgia"].established.startswith(
        "treatygraph link --accept: label+type match"
    )
    assert path not in check_canonical(inputs_copy)
    links = assemble(inputs_copy).graphs[GRAPH_LINKS]
    assert (URIRef(ID + "state/georgia"), OWL.sameAs, WD.Q230) in links


def test_link_says_when_the_endpoint_cannot_be_reached(inputs_copy):
    without_links(inputs_copy, "state/georgia")
    dead = f"http://127.0.0.1:{free_port()}/query"
    result = run(inputs_copy, "link", "--endpoint", dead, "--timeout", "5", "state/georgia")
    assert result.exit_code == 3
    assert "Could not ask Wikidata" in result.output


# -- the Wikidata-shaped view --------------------------------------------------------------------


def _membership_facts(ns: ProjectNamespaces) -> tuple[Graph, Graph]:
    tg = ns.tg
    facts, provenance = Graph(), Graph()
    source = URIRef(ID + "source/example")

    def instant(node, date, unit="unitDay"):
        facts.add((node, RDF.type, vocabulary.TIME.Instant))
        facts.add((node, vocabulary.TIME.inXSDDate, Literal(date, datatype=vocabulary.XSD.date)))
        facts.add((node, tg.datePrecision, vocabulary.TIME[unit]))
        return node

    for slug, role, start, end in (
        ("current", tg.MemberRole, ("2002-05-14", "unitDay"), None),
        ("ended", tg.MemberRole, ("2006", "unitYear"), ("2012-06-28", "unitDay")),
        ("suspended", tg.SuspendedMemberRole, ("2012-06-28", "unitDay"), None),
    ):
        m = URIRef(ID + f"membership/{slug}")
        interval = URIRef(f"{m}#interval")
        facts.add((m, RDF.type, ORG.Membership))
        facts.add((m, ORG.member, URIRef(ID + f"state/{slug}")))
        facts.add((m, ORG.organization, CSTO))
        facts.add((m, ORG.role, role))
        facts.add((m, ORG.memberDuring, interval))
        date = start[0] if len(start[0]) == 10 else f"{start[0]}-01-01"
        facts.add(
            (interval, vocabulary.TIME.hasBeginning, instant(URIRef(f"{m}#start"), date, start[1]))
        )
        if end:
            facts.add((interval, vocabulary.TIME.hasEnd, instant(URIRef(f"{m}#end"), *end)))
        if slug == "current":
            facts.add((URIRef(f"{m}#start"), tg.inference, Literal("Founding date.", lang="en")))
        claim = URIRef(f"{m}#claim-1")
        provenance.add((claim, RDF.type, tg.Claim))
        provenance.add((claim, tg.claimAbout, m))
        provenance.add((claim, PROV.wasQuotedFrom, source))
        provenance.add((claim, tg.quote, Literal(f"{slug} member.", lang="en")))
    attested = URIRef(ID + "membership/attested")
    facts.add((attested, RDF.type, ORG.Membership))
    facts.add((attested, ORG.member, URIRef(ID + "state/attested")))
    facts.add((attested, ORG.organization, CSTO))
    facts.add((attested, ORG.role, tg.MemberRole))
    on = instant(URIRef(f"{attested}#attestedOn"), "2018-11-21")
    facts.add((on, tg.inference, Literal("The date of a meeting of its members.", lang="en")))
    facts.add((attested, tg.attestedOn, on))
    claim = URIRef(f"{attested}#claim-1")
    provenance.add((claim, RDF.type, tg.Claim))
    provenance.add((claim, tg.claimAbout, attested))
    provenance.add((claim, PROV.wasQuotedFrom, source))
    provenance.add((claim, tg.quote, Literal("The ten member states met.", lang="en")))
    provenance.add((claim, tg.supports, tg.attestedOn))
    return facts, provenance


def test_memberships_in_wikidata_shape_with_ranks_roles_and_references():
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    facts, provenance = _membership_facts(ns)
    view = wikidata_view(ns, facts, provenance, Graph())

    def statement(slug):
        (node,) = view.objects(URIRef(ID + f"state/{slug}"), WDP.P463)
        return node

    current, ended, suspended = statement("current"), statement("ended"), statement("suspended")
    assert view.value(current, PS.P463) == CSTO
    assert view.value(current, PQ.P580) == Literal(
        "2002-05-14T00:00:00Z", datatype=vocabulary.XSD.dateTime
    )
    assert view.value(current, PQ.P582) is None
    assert view.value(current, WIKIBASE.rank) == WIKIBASE.PreferredRank
    assert (current, RDF.type, WIKIBASE.BestRank) in view
    assert (URIRef(ID + "state/current"), WDT.P463, CSTO) in view

    assert view.value(ended, PQ.P582) == Literal(
        "2012-06-28T00:00:00Z", datatype=vocabulary.XSD.dateTime
    )
    assert view.value(ended, WIKIBASE.rank) == WIKIBASE.NormalRank
    assert (URIRef(ID + "state/ended"), WDT.P463, None) not in view
    start_value = view.value(ended, URIRef("http://www.wikidata.org/prop/qualifier/value/P580"))
    assert view.value(start_value, WIKIBASE.timePrecision) == Literal(
        9, datatype=vocabulary.XSD.integer
    )
    assert view.value(start_value, WIKIBASE.timeValue) == Literal(
        "2006-01-01T00:00:00Z", datatype=vocabulary.XSD.dateTime
    )

    inferred = view.value(current, URIRef("http://www.wikidata.org/prop/qualifier/value/P580"))
    assert view.value(inferred, ns.tg.inference) == Literal("Founding date.", lang="en")
    assert view.value(start_value, ns.tg.inference) is None

    assert view.value(suspended, PQ.P2868) == ns.tg.SuspendedMemberRole
    assert (URIRef(ID + "state/suspended"), WDT.P463, None) not in view

    for node in (current, ended, suspended):
        quoted = [r for r in view.objects(node, PROV.wasDerivedFrom) if (r, PR.P248, None) in view]
        (reference,) = quoted
        assert (reference, RDF.type, WIKIBASE.Reference) in view
        assert view.value(reference, PR.P248) == URIRef(ID + "source/example")
        assert str(view.value(reference, PR.P1683)).endswith("member.")
        assert view.value(reference, PR.P887) is None


def test_an_inferred_claim_or_date_is_a_reference_based_on_heuristic():
    """Wikidata's way: P887 (based on heuristic) in the reference, here a node labelled with the
    inference in words; an inferred date gets a reference of its own with its inference."""
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    facts, provenance = _membership_facts(ns)
    claim = URIRef(ID + "membership/ended#claim-1")
    provenance.add((claim, ns.tg.inference, Literal("Read from the summit's list.", lang="en")))
    view = wikidata_view(ns, facts, provenance, Graph())

    def heuristics(slug):
        (node,) = view.objects(URIRef(ID + f"state/{slug}"), WDP.P463)
        found = {}
        for reference in view.objects(node, PROV.wasDerivedFrom):
            for heuristic in view.objects(reference, PR.P887):
                assert (heuristic, RDF.type, ns.tg.Inference) in view
                found[str(view.value(heuristic, RDFS.label))] = view.value(reference, PR.P248)
        return found

    assert heuristics("ended") == {"Read from the summit's list.": URIRef(ID + "source/example")}
    assert heuristics("current") == {"Founding date.": None}
    assert heuristics("suspended") == {}


def test_an_attested_membership_has_no_date_qualifiers_only_its_quote():
    """An attestation is not a start: no pq:P580/P582 (nor P585, which Wikidata keeps for
    events), but the statement and its reference with the quote."""
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    facts, provenance = _membership_facts(ns)
    view = wikidata_view(ns, facts, provenance, Graph())
    (node,) = view.objects(URIRef(ID + "state/attested"), WDP.P463)
    assert view.value(node, PS.P463) == CSTO
    assert not [q for q in view.predicates(node, None) if str(q).startswith(str(PQ))]
    (reference,) = view.objects(node, PROV.wasDerivedFrom)
    assert view.value(reference, PR.P1683) == Literal("The ten member states met.", lang="en")
    assert view.value(reference, PR.P248) == URIRef(ID + "source/example")


def test_view_nodes_are_hashes_of_their_content(config, built):
    first = assemble(config).graphs[GRAPH_WIKIDATA_VIEW]
    second = assemble(config).graphs[GRAPH_WIKIDATA_VIEW]
    assert sorted(first.serialize(format="nt").splitlines()) == sorted(
        second.serialize(format="nt").splitlines()
    )
    statements = set(first.subjects(RDF.type, WIKIBASE.Statement))
    assert statements
    for node in statements:
        assert re.match(rf"^{ID}statement/[0-9a-f]{{40}}$", str(node))
        references = list(first.objects(node, PROV.wasDerivedFrom))
        assert references, node
        assert any(first.value(r, PR.P248) is not None for r in references), node
        for reference in references:
            # a reference cites a source with its quote, or an inferred date's rule (P887), or both
            quoted = first.value(reference, PR.P248) is not None
            assert quoted == (first.value(reference, PR.P1683) is not None)
            assert quoted or first.value(reference, PR.P887) is not None


def test_an_attested_term_of_office_has_no_date_qualifiers(config, built):
    """Like an attested membership: a term the sources show on one day only has no P580/P582/P585."""
    assembled = assemble(config)
    facts = assembled.graphs["facts"]
    view = assembled.graphs[GRAPH_WIKIDATA_VIEW]
    tg = assembled.ns.tg
    attested_holders = {
        facts.value(term, tg.holder)
        for term in facts.subjects(tg.attestedOn, None)
        if (term, tg.holder, None) in facts
    }
    assert attested_holders, "the curated data has attested terms of office"
    nodes = [
        node
        for node in view.subjects(PS.P1308, None)
        if view.value(node, PS.P1308) in attested_holders
        and not any(view.objects(node, PQ.P580))
        and not any(view.objects(node, PQ.P582))
    ]
    assert nodes
    for node in nodes:
        assert view.value(node, PQ.P585) is None


def test_every_membership_and_every_treaty_party_is_in_the_view_with_its_period_and_quotes(
    config, built
):
    """Each org:Membership with a period, in an organization or a treaty (accessions included),
    is a P463 statement from its member to its organization or treaty, with its start and end as
    pq:P580/pq:P582, a suspended or other role as pq:P2868, and a reference per quote."""
    assembled = assemble(config)
    facts, provenance = assembled.graphs["facts"], assembled.graphs["provenance"]
    view = assembled.graphs[GRAPH_WIKIDATA_VIEW]
    tg = assembled.ns.tg
    time = vocabulary.TIME

    def day(instant) -> Literal | None:
        date = facts.value(instant, time.inXSDDate)
        return (
            None if date is None else Literal(f"{date}T00:00:00Z", datatype=vocabulary.XSD.dateTime)
        )

    treaty_parties = 0
    for membership in facts.subjects(RDF.type, ORG.Membership):
        period = facts.value(membership, ORG.memberDuring)
        if period is None:
            continue
        member = facts.value(membership, ORG.member)
        group = facts.value(membership, ORG.organization) or facts.value(membership, tg.treaty)
        treaty_parties += (membership, tg.treaty, None) in facts
        role = facts.value(membership, ORG.role)
        start = day(facts.value(period, time.hasBeginning))
        end = day(facts.value(period, time.hasEnd))
        quotes = {
            (provenance.value(claim, PROV.wasQuotedFrom), provenance.value(claim, tg.quote))
            for claim in provenance.subjects(tg.claimAbout, membership)
        }
        matching = [
            node
            for node in view.objects(member, WDP.P463)
            if view.value(node, PS.P463) == group
            and view.value(node, PQ.P580) == start
            and view.value(node, PQ.P582) == end
            and view.value(node, PQ.P2868) == (None if role == tg.MemberRole else role)
        ]
        assert len(matching) == 1, f"{membership}: {len(matching)} P463 statements"
        references = {
            (view.value(ref, PR.P248), view.value(ref, PR.P1683))
            for ref in view.objects(matching[0], PROV.wasDerivedFrom)
            if (ref, PR.P248, None) in view  # not the reference of an inferred date alone
        }
        assert references and references <= quotes, membership
    assert treaty_parties >= 10, "the Collective Security Treaty's parties are checked"


def test_the_view_follows_the_ontology_alignments(config, built):
    assembled = assemble(config)
    view = assembled.graphs[GRAPH_WIKIDATA_VIEW]
    used = {str(p) for p in view.predicates() if str(p).startswith(str(WDP))}
    assert {f"{WDP}P463", f"{WDP}P1891", f"{WDP}P749"} <= used
    treaty = URIRef(ID + "treaty/collective-security-treaty")
    for node in view.objects(treaty, WDP.P1891):
        assert view.value(node, PQ.P585) is not None


# -- the endpoint answers Wikidata-style queries ---------------------------------------------------

WIKIDATA_STYLE = """
SELECT ?state ?item ?start ?end WHERE {
  ?state p:P463 ?statement .
  ?statement ps:P463 <https://w3id.org/treatygraph/id/organization/csto> ;
             pq:P580 ?start ;
             wikibase:rank ?rank .
  OPTIONAL { ?statement pq:P582 ?end }
  FILTER NOT EXISTS { ?statement pq:P2868 ?role }
  OPTIONAL { ?state owl:sameAs ?item }
} ORDER BY ?state ?start
"""


def test_a_wikidata_style_query_gets_the_csto_membership_periods(client):
    response = client.post(
        "/sparql",
        data={"query": WIKIDATA_STYLE},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = response.get_json()["results"]["bindings"]
    periods = {(r["state"]["value"], r["start"]["value"]) for r in rows}
    assert (ID + "state/armenia", "2002-05-14T00:00:00Z") in periods
    armenia = next(r for r in rows if r["state"]["value"] == ID + "state/armenia")
    assert armenia["start"]["datatype"] == str(vocabulary.XSD.dateTime)
    assert armenia["item"]["value"] == str(WD.Q399)


# -- wikidata-diff ---------------------------------------------------------------------------------


def test_wikidata_diff_against_the_mirror(config, mirror, tmp_path):
    output = tmp_path / "additions.qs"
    result = run(config, "wikidata-diff", "--endpoint", mirror, "--quickstatements", str(output))
    assert result.exit_code == 0, result.output
    sections = dict(
        re.findall(
            r"^(Wikidata lacks|Wikidata lacks qualifiers|Dates disagree|We lack): \d+\n((?:  .*\n)*)",
            result.output,
            re.M,
        )
    )
    assert re.search(
        r"Q399 \(Armenia\) P463 Q318693 .*P580: ours 2002-05-14, Wikidata 1992-05-15",
        sections["Dates disagree"],
    )
    assert "Q813 (Kyrgyzstan) P463 Q318693" not in result.output  # the hand-made start agrees
    assert "Q423 P463 Q318693" in sections["We lack"]  # North Korea, from the CSTO's has part(s)
    lines = output.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        cells = line.split("\t")
        assert re.match(r"^Q\d+$", cells[0]) and re.match(r"^P\d+$", cells[1]), line
        assert "S854" in cells and cells[cells.index("S854") + 1].startswith(f'"{ID}source/')
        for name, value in zip(cells[3::2], cells[4::2], strict=False):
            if name in ("P580", "P582", "P585"):
                assert QS_TIME.match(value), line
        if "S1683" in cells:
            assert re.match(r'^[a-z]{2,3}:".*"$', cells[cells.index("S1683") + 1])
    assert "Q399\tP463\tQ318693\t" not in output.read_text()  # a disagreement is for an editor


def test_quickstatements_never_write_an_inferred_date():
    from treatygraph.wikidata.diff import Finding, Statement, When, quickstatements

    source = (ID + "source/example", Literal("Quoted.", lang="en"))
    stated = When("2002-05-14", 11)
    inferred = When("2018-11-21", 11, inferred=True)
    findings = [
        Finding(
            "wikidata-lacks", Statement("Q1", "P463", "Q2", {"P580": inferred}, [source]), None, ""
        ),
        Finding("wikidata-lacks", Statement("Q1", "P571", inferred, {}, [source]), None, ""),
        Finding(
            "wikidata-lacks-qualifier",
            Statement("Q3", "P463", "Q2", {"P580": inferred}, [source]),
            None,
            "",
            qualifiers={"P580": inferred},
        ),
        Finding(
            "wikidata-lacks", Statement("Q4", "P463", "Q2", {"P580": stated}, [source]), None, ""
        ),
    ]
    lines, skipped = quickstatements(findings)
    assert lines == [
        f'Q1\tP463\tQ2\tS854\t"{ID}source/example"\tS1683\ten:"Quoted."',
        f'Q4\tP463\tQ2\tP580\t+2002-05-14T00:00:00Z/11\tS854\t"{ID}source/example"\tS1683\ten:"Quoted."',
    ]
    assert len(skipped) == 3 and all("inferred" in reason for reason in skipped)


def test_quickstatements_never_cite_a_quote_that_does_not_state_the_value():
    from treatygraph.wikidata.diff import Finding, Statement, quickstatements

    stated = (ID + "source/stated", Literal("Stated.", lang="en"))
    inferred = (ID + "source/inferred", Literal("Inferred from.", lang="en"))
    findings = [
        Finding("wikidata-lacks", Statement("Q1", "P463", "Q2", {}, [], [inferred]), None, ""),
        Finding(
            "wikidata-lacks", Statement("Q3", "P463", "Q2", {}, [stated], [inferred]), None, ""
        ),
    ]
    lines, skipped = quickstatements(findings)
    assert lines == [f'Q3\tP463\tQ2\tS854\t"{ID}source/stated"\tS1683\ten:"Stated."']
    assert skipped == ["Q1 P463 Q2: inferred, no quote states it"]


# -- federation recipes ----------------------------------------------------------------------------


def recipe(config, name):
    return (config.queries_dir / name).read_text(encoding="utf-8")


def ask_endpoint(server, query):
    response = requests.post(
        server.url + "/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return [
        {k: v["value"] for k, v in row.items()} for row in response.json()["results"]["bindings"]
    ]


def test_federation_recipes_are_documented(config):
    recipes = sorted(config.queries_dir.glob("federation-*.rq"))
    assert len(recipes) >= 2
    for path in recipes:
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# Question: "), path
        assert f"SERVICE <{WIKIDATA}>" in text


def test_federation_capitals_and_population_through_our_endpoint(config, built, wikidata_mirror):
    with endpoint_server(config, service_mirrors={WIKIDATA: wikidata_mirror}) as server:
        rows = ask_endpoint(server, recipe(config, "federation-member-capitals-population.rq"))
    armenia = [r for r in rows if r["stateLabel"] == "Armenia"]
    assert armenia, rows
    assert armenia[0]["capital"] == str(WD.Q1953)
    assert armenia[0]["population"] == "2930450"
    assert armenia[0]["start"] == "2002-05-14T00:00:00Z"


def test_federation_memberships_next_to_wikidatas_statements(config, built, mirror):
    with endpoint_server(config, service_mirrors={WIKIDATA: mirror}) as server:
        rows = ask_endpoint(server, recipe(config, "federation-memberships-vs-wikidata.rq"))
    armenia = [r for r in rows if r["stateLabel"] == "Armenia"]
    assert armenia and {r["wikidataStart"] for r in armenia} == {"1992-05-15T00:00:00Z"}
    assert {r["start"] for r in armenia} == {"2002-05-14T00:00:00Z"}
    assert all(r["source"].startswith(ID + "source/") for r in rows)
