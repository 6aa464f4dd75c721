"""The W3C SPARQL 1.1 query evaluation suite through the remote-store mode over Virtuoso (7.2, as
Debian ships it) and its dialect (treatygraph/store/dialects.py): the data loaded by the project's
uploader, each query sent to the served endpoint. Where it fails, Virtuoso's own answer to the
query as written (sent to it directly) fails too: the project's layers add no failure.
"""

from __future__ import annotations

import io

import pytest
import requests
from conftest import VIRTUOSO_MISSING
from rdflib.query import Result
from test_w3c_query import TESTS, ask
from w3c_support import answer_from_ntriples, expected_result, same_answer, shown

from bench.virtuoso import installed
from treatygraph.sparql.text import query_form

pytestmark = [pytest.mark.virtuoso, pytest.mark.skipif(not installed(), reason=VIRTUOSO_MISSING)]

NOT_A_STRING = (
    "raises an error (SL001) on a non-string first argument instead of leaving the value unbound"
)
DIVISION = (
    "raises 'Division by 0' (SR084) for the whole query instead of leaving that value unbound"
)
NO_TRANSITIVE_START = "refuses a transitive path with no end bound ('transitive start not given')"
MINUS = "MINUS removes every row when the subtrahend's OPTIONALs leave variables unbound"
HASH = "hashes the UTF-8 of a non-ASCII string differently (its hash of the wide string)"
CAST = "casts some of the suite's values otherwise than XPath's casting rules (see its answer)"
LANG_KEPT = "keeps the input's language tag on the result"
# Virtuoso's departures from the suite, each seen in its answer to the query sent directly.
VIRTUOSO_DEPARTS = {
    "aggregates/agg06": "refuses HAVING without GROUP BY (SP031)",
    "aggregates/agg-err-01": "raises SR087 on a non-numeric value in SUM instead of an unbound sum",
    "aggregates/agg-empty-group-count-graph": "evaluates an aggregate subquery inside GRAPH ?g "
    "over all graphs at once (?g unbound)",
    "bind/bind10": "lets a FILTER in a nested group see a variable BIND sets outside it",
    "bindings/values7": "VALUES joined with OPTIONAL gives 3 of the 5 rows",
    "bindings/graph": "VALUES inside GRAPH ?g binding ?g keeps only the row that names a graph",
    "cast/cast-bool": CAST,
    "cast/cast-int": CAST,
    "cast/cast-decimal": CAST,
    "cast/cast-string": 'casts a boolean to the string "1" or "0" (it keeps booleans as integers)',
    "exists/exists-graph-variable": "EXISTS inside GRAPH ?g does not see ?g bound",
    "functions/strdt01": "STRDT of a literal that has a datatype gives a value, not an error",
    "functions/strdt03-rdf11": "STRDT accepts non-simple literals (and writes dateTimes its way)",
    "functions/strlang01": "STRLANG of a literal with a language gives a value, not an error",
    "functions/strlang03-rdf11": "STRLANG accepts non-simple literals",
    "functions/concat02": "CONCAT drops a language tag all its arguments share",
    "functions/ends01": f"STRENDS {NOT_A_STRING}",
    "functions/plus-1-corrected": "'+' of a string and a number gives a number, not an error",
    "functions/md5-02": HASH,
    "functions/sha1-02": HASH,
    "functions/sha256-02": HASH,
    "functions/sha384-02": HASH,
    "functions/sha512-02": HASH,
    "functions/timezone": "TIMEZONE() of a dateTime without a time zone raises an error (22007)",
    "functions/bnode01": "BNODE(…) is not implemented (SP031)",
    "functions/bnode02": "BNODE() is not implemented (SP031)",
    "functions/notin02": DIVISION,
    "functions/iri01": "IRI() ignores the query's BASE and answers the relative IRI 'iri', "
    "which no results format can carry (the endpoint answers 502 naming it)",
    "functions/if02": DIVISION,
    "functions/coalesce01": DIVISION,
    "functions/strbefore01a": f"STRBEFORE {NOT_A_STRING}",
    "functions/strbefore02": f"STRBEFORE {LANG_KEPT} where nothing matched",
    "functions/strafter01a": f"STRAFTER {NOT_A_STRING}",
    "functions/strafter02": "STRAFTER with an empty needle gives the empty string",
    "functions/replace01": "REPLACE drops the language tag, and accepts a number",
    "functions/uuid02": "two UUID() calls in one row give the same IRI",
    "negation/full-minuend": MINUS,
    "negation/partial-minuend": MINUS,
    "negation/graph-minus": "MINUS inside GRAPH ?g removes rows matched in other graphs",
    "project-expression/projexp02": "'+' of a string and a number gives a number, not unbound",
    "property-path/pp14": NO_TRANSITIVE_START,
    "property-path/pp16": NO_TRANSITIVE_START,
    "property-path/pp28a": "a `?` path over a sequence repeats nodes reached twice",
    "property-path/pp34": NO_TRANSITIVE_START,
    "property-path/pp35": NO_TRANSITIVE_START,
    "property-path/values_and_path": NO_TRANSITIVE_START,
    "subquery/subquery03": "a subquery inside GRAPH ?g using ?g finds nothing",
}


def _cases():
    for test in TESTS:
        reason = VIRTUOSO_DEPARTS.get(test.name)
        marks = [pytest.mark.xfail(reason=f"Virtuoso {reason}", strict=True)] if reason else []
        yield pytest.param(test, id=test.name, marks=marks)


@pytest.mark.parametrize("test", list(_cases()))
def test_query_suite_on_virtuoso(virtuoso_endpoint, test):
    expected = expected_result(test.result)
    actual = ask(virtuoso_endpoint, test)
    assert same_answer(expected, actual, test.ordered), (
        f"{test.name}\nexpected:\n{shown(expected)}\ngot:\n{shown(actual)}"
    )


def direct(virtuoso, test):
    """Virtuoso's own answer to a test's query as written (no dialect), or its error."""
    form, _ = query_form(test.query_text)
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    response = requests.post(
        f"{virtuoso.url}/sparql",
        data={"query": test.query_text, **test.dataset_params},
        headers={
            "Accept": "application/n-triples" if graph_form else "application/sparql-results+xml"
        },
        timeout=60,
    )
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {' '.join(response.text.split())[:200]}"
    if graph_form:
        return answer_from_ntriples(response.content)
    body = response.content.replace(b"<bnode>nodeID://", b"<bnode>")
    result = Result.parse(io.BytesIO(body), format="xml")
    return (
        bool(result.askAnswer)
        if result.type == "ASK"
        else (
            [str(v) for v in result.vars],
            [{str(k): v for k, v in b.items() if v is not None} for b in result.bindings],
        )
    )


def test_every_departure_is_virtuoso_own(virtuoso_suite, virtuoso_endpoint):
    """Each query the endpoint fails on Virtuoso fails sent to Virtuoso directly; and no query
    Virtuoso answers right directly is answered wrong through the dialect."""
    virtuoso, _ = virtuoso_suite
    passed_directly = []
    for test in TESTS:
        answer = direct(virtuoso, test)
        right = not isinstance(answer, str) and same_answer(
            expected_result(test.result), answer, test.ordered
        )
        if right:
            passed_directly.append(test.name)
            assert test.name not in VIRTUOSO_DEPARTS, f"{test.name} passes on Virtuoso directly"
        elif test.name in VIRTUOSO_DEPARTS:
            print(f"\n{test.name}: {_brief(answer)}")
    print(
        f"\nVirtuoso directly: {len(passed_directly)} of {len(TESTS)}; "
        f"through the dialect: {len(TESTS) - len(VIRTUOSO_DEPARTS)}"
    )


def _brief(answer) -> str:
    """Virtuoso's answer in a line, for the report (docs/conformance.md quotes it)."""
    if isinstance(answer, str | bool):
        return str(answer)
    if not isinstance(answer, tuple):
        return f"{len(answer)} triples"
    _, rows = answer
    shown = "; ".join(
        " ".join(f"{k}={v.n3()}" for k, v in sorted(row.items())) or "{}" for row in rows[:4]
    )
    return f"{len(rows)} rows: {shown}{' …' if len(rows) > 4 else ''}"
