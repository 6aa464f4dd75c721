"""Reading queries before running them: escapes, forms, prologue, SERVICE clauses, nesting.

The last test is differential: random token soup is read by our reader and, when it lets a query
through, run by pyoxigraph itself next to a listening socket that must never be called.
"""

from __future__ import annotations

import threading
import time

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sparql_support import WIKIDATA, SilentSocket

from treatygraph.sparql.text import (
    QueryRefused,
    QueryTextError,
    blank_out,
    dataset_clause,
    decode_escapes,
    read_query,
    splice,
)

ALLOW = (WIKIDATA,)


def test_escapes_are_decoded_to_a_fixed_point():
    assert decode_escapes("\\u0053ERVICE") == "SERVICE"
    assert decode_escapes("\\U00000053ERVICE") == "SERVICE"
    assert decode_escapes("\\u005Cu0053ERVICE") == "SERVICE"
    with pytest.raises(QueryTextError):
        decode_escapes("\\uD800")


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("SELECT * WHERE {}", "SELECT"),
        ("# c\nprefix ex: <urn:x:>\nBASE <urn:y:> construct {} WHERE {}", "CONSTRUCT"),
        ("PREFIX : <urn:x:> ASK {}", "ASK"),
        ("DESCRIBE <urn:x>", "DESCRIBE"),
        ("nonsense", None),
    ],
)
def test_query_form(text, form):
    assert read_query(text).form == form


@pytest.mark.parametrize("verb", ["INSERT", "delete", "Load", "CLEAR", "DROP", "WITH"])
def test_updates_are_refused(verb):
    with pytest.raises(QueryRefused, match="read-only"):
        read_query(f"PREFIX ex: <urn:x:>\n{verb} DATA {{}}")


def test_prologue_and_dataset_clause():
    query = read_query("BASE <http://a.example/> PREFIX ex: <b/> SELECT * FROM <g> WHERE {}")
    assert query.base == "http://a.example/"
    assert query.prefixes == {"ex": "http://a.example/b/"}
    assert query.has_dataset_clause
    assert not read_query("SELECT ?from WHERE { ?s ?p 'FROM' }").has_dataset_clause


def test_service_clauses_are_found_and_replaced():
    text = (
        "SELECT * WHERE { ?s ?p ?o .\n"
        f"  SERVICE SILENT <{WIKIDATA}> {{ ?s rdfs:label ?l {{ ?a ?b '}}' }} }}\n"
        "  ?x ?y ?z }"
    )
    query = read_query(text, allowlist=ALLOW)
    (call,) = query.services
    assert call.iri == WIKIDATA and call.silent
    assert call.body.strip() == "?s rdfs:label ?l { ?a ?b '}' }"
    blanked = blank_out(query.text, query.services)
    assert len(blanked) == len(text) and blanked.count("\n") == text.count("\n")
    assert "SERVICE" not in blanked and "?x ?y ?z }" in blanked
    assert "VALUES" in splice(query.text, [(call, "{ VALUES ?l { 1 } }")])


def test_service_iri_by_prefixed_name_and_base():
    assert read_query(
        "PREFIX w: <https://query.wikidata.org/> SELECT * WHERE { SERVICE w:sparql {} }",
        allowlist=ALLOW,
    ).services
    assert read_query(
        "BASE <https://query.wikidata.org/x> SELECT * WHERE { SERVICE <sparql> {} }",
        allowlist=ALLOW,
    ).services


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERVICE ?e {} }",
        "SELECT * WHERE { SERVICE <http://127.0.0.1/> {} }",
        "SELECT * WHERE { SERVICE <relative> {} }",
        "SELECT * WHERE { SERVICE <file:///etc/passwd> {} }",
        f"SELECT * WHERE {{ SERVICE <{WIKIDATA}> {{ SERVICE <{WIKIDATA}> {{}} }} }}",
    ],
)
def test_services_refused(text):
    with pytest.raises(QueryRefused):
        read_query(text, allowlist=ALLOW)


@pytest.mark.parametrize(
    ("where", "pattern_vars"),
    [
        ("?o owl:sameAs ?w . FILTER(?o != <urn:x>) SERVICE <{W}> { ?w ?p ?v }", {"o", "w"}),
        ("SERVICE <{W}> { ?w ?p ?v } ?o owl:sameAs ?w FILTER regex(?o, 'x')", {"o", "w"}),
        ("?o owl:sameAs ?w OPTIONAL { ?o ?a ?b } SERVICE <{W}> { ?w ?p ?v }", None),
        ("{ ?o owl:sameAs ?w } SERVICE <{W}> { ?w ?p ?v }", None),
        ("?o owl:sameAs ?w FILTER NOT EXISTS { ?o ?a ?b } SERVICE <{W}> { ?w ?p ?v }", None),
        ("?o owl:sameAs ?w BIND(1 AS ?x) SERVICE <{W}> { ?w ?p ?v }", None),
        ("?o owl:sameAs ?w OPTIONAL { SERVICE <{W}> { ?w ?p ?v } }", None),
    ],
)
def test_which_service_calls_can_be_bound_by_local_patterns(where, pattern_vars):
    query = read_query("SELECT * WHERE { " + where.replace("{W}", WIKIDATA) + " }", allowlist=ALLOW)
    if pattern_vars is None:
        assert query.local_pattern is None
    else:
        assert query.local_variables == pattern_vars
        assert "SERVICE" not in query.local_pattern and "FILTER" not in query.local_pattern
        assert "owl:sameAs" in query.local_pattern


def test_at_most_a_few_service_calls():
    clause = f"SERVICE <{WIKIDATA}> {{ ?s ?p ?o }} "
    read_query("SELECT * WHERE { " + clause * 8 + "}", allowlist=ALLOW)
    with pytest.raises(QueryRefused, match="at most 8"):
        read_query("SELECT * WHERE { " + clause * 9 + "}", allowlist=ALLOW)


def test_keywords_in_strings_and_comments_are_not_keywords():
    query = read_query(
        'SELECT * WHERE { ?s ?p "SERVICE <http://x/> {}" # SERVICE <http://y/> {}\n'
        " ?s ?p '''INSERT''' }"
    )
    assert query.services == [] and query.form == "SELECT"


@pytest.mark.parametrize(
    ("text", "volatile"),
    [
        ("SELECT (NOW() AS ?t) WHERE {}", True),
        ("SELECT ?s WHERE { ?s ?p ?o } ORDER BY rand() LIMIT 3", True),
        ("SELECT (UUID() AS ?u) (STRUUID() AS ?v) WHERE {}", True),
        ("SELECT (\\u004EOW() AS ?t) WHERE {}", True),
        ("SELECT ?now ?rand WHERE { ?now ex:uuid ?rand }", False),
        ('SELECT * WHERE { ?s ?p "NOW() RAND()" } # UUID()', False),
        ("SELECT (BNODE() AS ?b) WHERE {}", False),
    ],
)
def test_functions_whose_value_changes_between_runs_are_noticed(text, volatile):
    assert read_query(text, {"ex": "http://example.org/"}).volatile is volatile


def test_nesting_limit():
    read_query("ASK " + "{" * 200 + "}" * 200)
    with pytest.raises(QueryTextError, match="levels deep"):
        read_query("ASK " + "{" * 400 + "}" * 400)


def test_unterminated_strings_cost_linear_time():
    # A nested quantifier here once made 24 characters take 14 seconds.
    started = time.monotonic()
    for quote in ('"""', "'''", '"', "'"):
        with pytest.raises(QueryTextError, match="unterminated"):
            read_query("SELECT * WHERE { ?s ?p " + quote + "x" * 200_000 + " }")
    assert time.monotonic() - started < 5


SERVICE_WORDS = ["SERVICE", "sErViCe", "\\u0053ERVICE", "\\u005Cu0053ERVICE", "\\U00000053ervice"]
TARGETS = [
    "<{URL}>",
    "<http://127.0.0.1\\u003A{PORT}/sparql>",
    "<\\u0068ttp://127.0.0.1:{PORT}/sparql>",
    "x:sparql",
    "x:\\u0073parql",
    "<sparql>",
]
CLAUSES = st.one_of(
    st.sampled_from(
        [
            "?s ?p ?o .",
            "OPTIONAL { ?s ?p ?o }",
            "# SERVICE <{URL}> { }\n",
            '?s ?p "SERVICE <{URL}> { }" .',
            "?s ?p '''\n SERVICE <{URL}> { } ''' .",
            "FILTER(?o != 1e5)",
            "{ ?s ?p ?o } UNION { ?s ?p ?o }",
            "BIND(1 AS ?one)",
        ]
    ),
    st.builds(
        lambda word, silent, target: f"{word}{silent} {target} {{ ?s ?p ?o }}",
        st.sampled_from(SERVICE_WORDS),
        st.sampled_from(["", " SILENT", " \\u0053ILENT"]),
        st.sampled_from(TARGETS),
    ),
)
PROLOGUES = st.sampled_from(
    [
        "",
        "PREFIX x: <http://127.0.0.1:{PORT}/>\n",
        "BASE <http://127.0.0.1:{PORT}/>\nPREFIX x: <http://127.0.0.1:{PORT}/>\n",
        "PREFIX x: <http://127.0.0.1\\u003A{PORT}/>\n",
    ]
)
QUERIES = st.builds(
    lambda prologue, form, clauses: prologue + form + " { " + " ".join(clauses) + " }",
    PROLOGUES,
    st.sampled_from(["SELECT * WHERE", "ASK", "CONSTRUCT WHERE"]),
    st.lists(CLAUSES, min_size=1, max_size=5),
)


@pytest.fixture(scope="module")
def silent():
    sock = SilentSocket()
    yield sock
    sock.close()


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(QUERIES)
def test_whatever_the_reader_lets_through_never_calls_out(silent, template):
    text = template.replace("{URL}", silent.url).replace("{PORT}", str(silent.port))
    try:
        query = read_query(text, allowlist=ALLOW)
    except QueryTextError:
        return
    assert query.services == []  # nothing is allowlisted here but Wikidata
    before = len(silent.connections)
    outcome: list = []

    def run():
        try:
            result = ox.Store().query(query.text)
            if not isinstance(result, ox.QueryBoolean):
                list(result)
        except Exception as err:
            outcome.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(5)
    time.sleep(0.01)
    assert len(silent.connections) == before, f"pyoxigraph called out for: {text!r}"


def test_dataset_clause_names_the_graphs_resolved():
    query = (
        "BASE <http://example.org/q/> PREFIX ex: <http://example.org/g/>\n"
        "SELECT * FROM <data.ttl> FROM ex:one FROM NAMED ex:two # FROM <not-this>\n"
        "WHERE { ?s ?p 'FROM <nor-this>' }"
    )
    assert dataset_clause(query, {}) == (
        ["http://example.org/q/data.ttl", "http://example.org/g/one"],
        ["http://example.org/g/two"],
    )
    assert dataset_clause("SELECT * FROM <d> {}", {}, "http://base/id/") == (
        ["http://base/id/d"],
        [],
    )
    assert dataset_clause("SELECT * WHERE { ?s ?p ?o }", {}) is None
