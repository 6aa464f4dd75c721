"""Finding the shapes some stores need reworded (treatygraph/sparql/shapes.py), and the canonical
durations the Virtuoso dialect writes back (treatygraph/store/dialects.py); on text alone: the
rewordings themselves are checked against a real Virtuoso in tests/store/test_virtuoso.py."""

from __future__ import annotations

from decimal import Decimal

import pyoxigraph as ox
import pytest

from treatygraph.sparql.shapes import (
    averages,
    bound_expressions,
    distinct_select,
    exists_clauses,
    filter_constraints,
    group_concats_without_separator,
    inverse_negated_sets,
    transitive_path_statements,
    typed_literals,
)
from treatygraph.sparql.text import with_prologue
from treatygraph.store.dialects import DIALECTS, canonical_months, canonical_seconds

XSD = "http://www.w3.org/2001/XMLSchema#"


def _spans(text: str, spans) -> list[str]:
    return [text[start:end] for start, end, *_ in spans]


def test_bound_expressions_and_which_are_boolean():
    text = (
        "SELECT (COUNT(*) AS ?n) (?a = ?b AS ?c) ((?x < 3) AS ?d) (?x + 1 AS ?e) "
        "((?a = 1) + 1 AS ?f) (!BOUND(?z) AS ?g) (NOT EXISTS { ?a ?b ?c } AS ?h) "
        '(CONTAINS(?a, "x AS ?y") AS ?i) (?a IN (1, 2) AS ?k) (true AS ?l) '
        "(IF(?a, true, false) AS ?m) (?a && ?b AS ?o) WHERE { BIND(EXISTS { ?s ?p ?o } AS ?q) }"
    )
    found = {text[start:end]: boolean for start, end, boolean in bound_expressions(text)}
    assert found == {
        "COUNT(*)": False,
        "?a = ?b": True,
        "(?x < 3)": True,
        "?x + 1": False,
        "(?a = 1) + 1": False,
        "!BOUND(?z)": True,
        "NOT EXISTS { ?a ?b ?c }": True,
        'CONTAINS(?a, "x AS ?y")': True,
        "?a IN (1, 2)": True,
        "true": True,
        "IF(?a, true, false)": True,
        "?a && ?b": True,
        "EXISTS { ?s ?p ?o }": True,
    }


def test_filters_exists_and_typed_literals():
    text = (
        "PREFIX x: <http://www.w3.org/2001/XMLSchema#> SELECT * WHERE { ?s ?p ?o "
        'FILTER(?o > "5"^^x:decimal) FILTER regex(?o, "a") FILTER NOT EXISTS { ?o ?q ?r } '
        'OPTIONAL { ?s ?q ?v FILTER(EXISTS { ?v ?p "2"^^<http://example.org/t> }) } }'
    )
    assert _spans(text, filter_constraints(text)) == [
        '(?o > "5"^^x:decimal)',
        'regex(?o, "a")',
        "NOT EXISTS { ?o ?q ?r }",
        '(EXISTS { ?v ?p "2"^^<http://example.org/t> })',
    ]
    assert _spans(text, exists_clauses(text)) == [
        "NOT EXISTS { ?o ?q ?r }",
        'EXISTS { ?v ?p "2"^^<http://example.org/t> }',
    ]
    assert [(text[a:b], iri) for a, b, iri in typed_literals(text)] == [
        ('"5"', f"{XSD}decimal"),
        ('"2"', "http://example.org/t"),
    ]


@pytest.mark.parametrize(
    "where,statements",
    [
        (
            "?s a ?c ; <p>+ <o>, ?x ; <q> ?y . ?y (<a>|^<b>)* ?z . "
            "OPTIONAL { <k> <p>/<q>* ?w } FILTER(?x * 2 > 1)",
            [("?s a ?c ; <q> ?y", ("?s <p>+ <o>, ?x",)), ("", ("<k> <p>/<q>* ?w",))],
        ),
        ("?s <p>* ?o", []),  # both ends unknown: left alone
        ("_:b <p>* <o>", []),  # a blank node label cannot be in two patterns
        ("?s <p> ?o ;", []),
        (
            "VALUES ?x { 1 } ?s <p>+ <o> . { SELECT ?s WHERE { ?s <q>+ 'x'@en } } "
            "FILTER NOT EXISTS { ?s <r>* <t> }",
            [("", ("?s <p>+ <o>",)), ("", ("?s <q>+ 'x'@en",)), ("", ("?s <r>* <t>",))],
        ),
        ("?s <p> ?o . FILTER(", []),  # unreadable: nothing reworded
    ],
)
def test_transitive_path_statements(where, statements):
    text = f"SELECT * WHERE {{ {where} }}"
    assert [(s.rest, s.paths) for s in transitive_path_statements(text)] == statements


@pytest.mark.parametrize(
    ("where", "closures"),
    [
        ("<s> <p>+ ?o", (True,)),
        ("<s> ^<p>* ?o", (True,)),
        ("<s> (<p>/<q>)+ ?o", (True,)),
        ("<s> <p>/<q>+ ?o", (False,)),
        ("<s> (<p>)/(<q>)* ?o", (False,)),
    ],
)
def test_whole_closures_are_told_apart(where, closures):
    (statement,) = transitive_path_statements(f"SELECT * WHERE {{ {where} }}")
    assert statement.closures == closures


def test_inverse_members_of_negated_sets_are_moved_out():
    text = "SELECT * { ?s !^<p> ?o . ?s !(<q>|^ex:r) ?o . ?s !<t> ?o FILTER(!BOUND(?o)) }"
    for start, end, path in reversed(inverse_negated_sets(text)):
        text = text[:start] + path + text[end:]
    assert text == (
        "SELECT * { ?s (^!(<p>)) ?o . ?s (!(<q>)|^!(ex:r)) ?o . ?s !<t> ?o FILTER(!BOUND(?o)) }"
    )


def test_group_concat_without_separator_and_averages_are_found():
    text = (
        "SELECT (GROUP_CONCAT(?a) AS ?x) (GROUP_CONCAT(DISTINCT ?b ; SEPARATOR=',') AS ?y) "
        "(AVG(?c + 1) AS ?z) WHERE { ?s <p> 'GROUP_CONCAT(AVG(' }"
    )
    assert [text[i] for i in group_concats_without_separator(text)] == [")"]
    assert [text[a:b] for a, b in averages(text)] == ["AVG(?c + 1)"]


def test_an_if_of_booleans_is_a_boolean():
    text = "SELECT (IF(?x = 1, true, false) AS ?b) (IF(?x, 1, 0) AS ?n) WHERE {}"
    assert [boolean for *_, boolean in bound_expressions(text)] == [True, False]


@pytest.mark.parametrize(
    "text,parts",
    [
        (
            "SELECT DISTINCT ?a (STR(?b) AS ?c) FROM <g> WHERE { ?a ?p ?b } ORDER BY ?c LIMIT 2",
            ("?a (STR(?b) AS ?c)", "FROM <g>", "WHERE { ?a ?p ?b }", " ORDER BY ?c LIMIT 2"),
        ),
        (
            "SELECT DISTINCT ?a (COUNT(*) AS ?n) { ?a ?p ?b } GROUP BY ?a ORDER BY DESC(?n)",
            ("?a (COUNT(*) AS ?n)", "", "{ ?a ?p ?b } GROUP BY ?a", " ORDER BY DESC(?n)"),
        ),
        ("SELECT DISTINCT ?a WHERE { ?a ?p ?b } ORDER BY ?b", None),  # orders by what it drops
        ("SELECT ?a WHERE { ?a ?p ?b }", None),
        ("SELECT DISTINCT ?a WHERE { ?a ?p ?b } VALUES ?a { <x> }", None),
    ],
)
def test_distinct_select(text, parts):
    found = distinct_select(text)
    if parts is None:
        assert found is None
    else:
        spans = (found.projection, found.dataset, found.where, found.modifiers)
        assert tuple(text[a:b] for a, b in spans) == parts


def test_one_prologue_base_first_and_the_querys_own_prefixes_win():
    text = (
        "# c\nPREFIX a: <http://a/>\nBASE <http://b/>\nPREFIX r: <rel/>\nSELECT * { <x> a:p r:q }"
    )
    assert with_prologue(text, {"a": "http://other/", "z": "http://z/"}) == (
        "BASE <http://b/>\nPREFIX a: <http://a/>\nPREFIX z: <http://z/>\n"
        "PREFIX r: <http://b/rel/>\nSELECT * { <x> a:p r:q }"
    )


@pytest.mark.parametrize(
    "lexical,datatype",
    [
        ("P5Y", "duration"),
        ("-P13M", "yearMonthDuration"),
        ("P0M", "yearMonthDuration"),
        ("P0M", "duration"),
    ],
)
def test_months_are_written_as_oxigraph_writes_them(lexical, datatype):
    months = {"P5Y": 60, "-P13M": -13, "P0M": 0}[lexical]
    canonical = ox.Literal(lexical, datatype=ox.NamedNode(f"{XSD}{datatype}"))
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), canonical))
    assert canonical_months(months, datatype) == next(iter(store)).object.value


@pytest.mark.parametrize(
    "lexical,seconds",
    [
        ("P1D", "86400.0"),
        ("PT1H30M", "5400.0"),
        ("-PT1.5S", "-1.5"),
        ("P0D", "0.0"),
        ("PT90000.25S", "90000.25"),
        ("PT36H", "129600.0"),
    ],
)
def test_seconds_are_written_as_oxigraph_writes_them(lexical, seconds):
    store = ox.Store()
    literal = ox.Literal(lexical, datatype=ox.NamedNode(f"{XSD}duration"))
    store.add(ox.Quad(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), literal))
    assert canonical_seconds(Decimal(seconds)) == next(iter(store)).object.value


def test_virtuoso_answers_are_corrected_before_parsing():
    virtuoso = DIALECTS["virtuoso"]
    assert virtuoso.triples(
        f'<a> <b> "60"^^<{XSD}duration> .\n'
        f'<a> <b> "2010-01-01T10:00:00.500+03:00"^^<{XSD}dateTime> .\n'
        f'<a> <b> "x \\"60\\"^^<{XSD}duration>" .\n'.encode()
    ) == (
        f'<a> <b> "P5Y"^^<{XSD}duration> .\n'
        f'<a> <b> "2010-01-01T10:00:00.5+03:00"^^<{XSD}dateTime> .\n'
        f'<a> <b> "x \\"60\\"^^<{XSD}duration>" .\n'.encode()
    )
    assert (
        virtuoso.solutions(
            f'<literal datatype="{XSD}dayTimeDuration">129600.0</literal>'
            "<bnode>nodeID://b10000</bnode>".encode()
        )
        == f'<literal datatype="{XSD}dayTimeDuration">P1DT12H</literal><bnode>b10000</bnode>'.encode()
    )


def test_virtuoso_star_fake_variable_is_dropped():
    answer = (
        b'<sparql><head><variable name="_star_fake"/></head><results><result>'
        b'<binding name="_star_fake"><literal datatype="http://www.w3.org/2001/XMLSchema#integer">'
        b"1</literal></binding></result></results></sparql>"
    )
    solutions = ox.parse_query_results(
        DIALECTS["virtuoso"].solutions(answer), format=ox.QueryResultsFormat.XML
    )
    assert solutions.variables == [] and [len(list(s)) for s in solutions] == [0]
