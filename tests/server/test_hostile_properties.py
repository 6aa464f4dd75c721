"""Property: whatever the parameters, /sparql and /search answer without a 500 or a stack trace.

Hypothesis generates SPARQL queries from a small grammar (forms, triple patterns, FILTERs over the
built-in functions with odd arguments, literals full of escapes and unusual code points, modifiers
with absurd numbers), sometimes mangled, with random formats and Accept headers, sent by GET or
POST; and search strings from all of Unicode, raw bytes included. The server has a 2 s query
timeout, so a 504 can happen and is allowed; a 500 never is. The example counts keep the whole
module near 30 s on 2 cores.
"""

from __future__ import annotations

import urllib.parse

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sparql_support import endpoint_server

TRACE_MARKERS = ("Traceback", 'File "/', "site-packages")
COMMON = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Mostly well-formed pieces (so that most queries reach the engine), some deliberately not.
plain_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
    max_size=40,
)
odd_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20).map(
    lambda t: t.replace('"', '\\"')
) | st.sampled_from(["\u0000", "\u202e", "e\u0301", "\ufeff", "\U0010ffff", "\ufb01", "'''"])
escaped = st.sampled_from(
    ["\\u0000", "\\u00e9", "\\U0001F600", "\\uD800", "\\n", '\\"', "\\\\", "\\t"]
)
literal_text = st.lists(st.one_of(*[plain_text] * 8, odd_text, escaped), max_size=3).map("".join)
language = st.sampled_from(["en", "ru", "en-GB", "x-y"] * 5 + ["zz-zzzzzzzzz", "1", ""])
datatype = st.sampled_from(["xsd:integer", "xsd:date", "xsd:double", "xsd:gYear", "xsd:boolean"])
literal = st.one_of(
    literal_text.map(lambda t: f'"{t}"'),
    st.tuples(literal_text, language).map(lambda p: f'"{p[0]}"@{p[1]}'),
    st.tuples(literal_text, datatype).map(lambda p: f'"{p[0]}"^^{p[1]}'),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-0.0", "true", "false", "0x10"]),
)
known_iri = st.sampled_from(
    [
        "<https://w3id.org/treatygraph/id/organization/csto>",
        "<https://w3id.org/treatygraph/id/state/armenia>",
        "rdfs:label",
        "org:member",
        "tg:quote",
        "owl:sameAs",
        "<file:///etc/passwd>",
    ]
)
odd_iri = st.one_of(
    st.sampled_from(["<>", "nope:thing", "<javascript:alert(1)>"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(
        lambda t: "<" + t.replace(">", "") + ">"
    ),
)
example_iri = st.text(alphabet="abcxyz0189-._~/", max_size=30).map(
    lambda t: f"<https://example.org/{t}>"
)
# A query holds several IRIs; odd ones are rare each, so that a good share of queries still run.
iri = st.one_of(*[known_iri] * 6, *[example_iri] * 3, odd_iri)
variable = st.sampled_from(["?s", "?p", "?o", "?x", "$y"])
term = st.one_of(variable, iri, literal)
ARITY = {
    "REGEX": 2,
    "STRLEN": 1,
    "SUBSTR": 2,
    "CONTAINS": 2,
    "LANG": 1,
    "LANGMATCHES": 2,
    "DATATYPE": 1,
    "xsd:integer": 1,
    "xsd:dateTime": 1,
    "ABS": 1,
    "ROUND": 1,
    "ENCODE_FOR_URI": 1,
    "SHA256": 1,
    "STRDT": 2,
    "STRLANG": 2,
    "IRI": 1,
    "BNODE": 1,
    "CONCAT": 3,
    "REPLACE": 3,
    "UCASE": 1,
    "YEAR": 1,
    "TZ": 1,
    "COALESCE": 2,
    "IF": 3,
    "sameTerm": 2,
    "isIRI": 1,
}


@st.composite
def call(draw):
    """A built-in call, nearly always with the arity the grammar wants."""
    name = draw(st.sampled_from(sorted(ARITY)))
    arity = ARITY[name] if draw(st.integers(0, 9)) else draw(st.integers(0, 4))
    args = draw(st.lists(term, min_size=arity, max_size=arity))
    return f"{name}({', '.join(args)})"


pattern = st.builds(
    lambda s, p, o: f"{s} {p} {o} .", st.one_of(variable, iri), st.one_of(variable, iri), term
)
group = st.builds(
    lambda patterns, filters, optional: " ".join(
        [*patterns, *(f"FILTER({f})" for f in filters)]
        + ([f"OPTIONAL {{ {optional} }}"] if optional else [])
    ),
    st.lists(pattern, min_size=1, max_size=2),
    st.lists(call(), max_size=2),
    st.one_of(st.none(), pattern),
)
modifiers = st.builds(
    lambda order, limit, offset: "".join(
        [
            " ORDER BY ?s" if order else "",
            f" LIMIT {limit}" if limit is not None else " LIMIT 50",
            f" OFFSET {offset}" if offset is not None else "",
        ]
    ),
    st.booleans(),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**25)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**25)),
)
query = st.one_of(
    st.builds(lambda g, m: f"SELECT * WHERE {{ {g} }}{m}", group, modifiers),
    st.builds(lambda c, g: f"SELECT ({c} AS ?v) WHERE {{ {g} }} LIMIT 20", call(), group),
    st.builds(lambda g: f"ASK {{ {g} }}", group),
    st.builds(lambda p, g: f"CONSTRUCT {{ {p} }} WHERE {{ {g} }} LIMIT 20", pattern, group),
    st.builds(lambda t: f"DESCRIBE {t}", iri),
)


@st.composite
def mangled(draw, base):
    """A query, sometimes with a random character put in or a random slice cut out."""
    text = draw(base)
    how = draw(st.sampled_from(["as is"] * 6 + ["insert", "cut"]))
    if how == "insert" and text:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.characters(blacklist_categories=("Cs",))) + text[at:]
    elif how == "cut" and text:
        start = draw(st.integers(0, len(text) - 1))
        text = text[:start] + text[start + draw(st.integers(1, 10)) :]
    return text


accept = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(
        [
            "application/sparql-results+json",
            "application/sparql-results+xml",
            "text/csv",
            "text/tab-separated-values",
            "text/turtle",
            "application/n-triples",
            "application/ld+json",
            "application/rdf+xml",
            "text/html",
            "*/*;q=0",
            "text/turtle;q=abc",
        ]
    ),
    # requests itself refuses a header value with surrounding whitespace
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(
        str.strip
    ),
)
format_param = st.one_of(
    st.none(),
    st.none(),
    st.none(),
    st.sampled_from(["json", "xml", "csv", "tsv", "ttl", "nt", "jsonld", "html", "rdf"]),
    st.text(max_size=20),
)


def _clean(response: requests.Response) -> None:
    event(f"status {response.status_code}")
    assert response.status_code != 500, response.text[:500]
    for marker in TRACE_MARKERS:
        assert marker not in response.text, response.text[:500]


@pytest.fixture(scope="module")
def url(config, built):
    with endpoint_server(config, query_timeout=2.0, query_workers=2) as server:
        yield server.url


@settings(COMMON, max_examples=400)
@given(text=mangled(query), accept=accept, fmt=format_param, post=st.booleans())
def test_sparql_never_answers_500(url, text, accept, fmt, post):
    params = {"query": text}
    if fmt is not None:
        params["format"] = fmt
    headers = {"Accept": accept} if accept is not None else {}
    if post:
        response = requests.post(f"{url}/sparql", data=params, headers=headers, timeout=30)
    else:
        response = requests.get(f"{url}/sparql", params=params, headers=headers, timeout=30)
    _clean(response)


@settings(COMMON, max_examples=400)
@given(
    q=st.text(max_size=80) | st.binary(max_size=40),
    fmt=format_param,
    accept=accept,
)
def test_search_never_answers_500(url, q, fmt, accept):
    encoded = (
        urllib.parse.quote_from_bytes(q) if isinstance(q, bytes) else urllib.parse.quote(q, safe="")
    )
    target = f"{url}/search?q={encoded}"
    if fmt is not None:
        target += "&format=" + urllib.parse.quote(fmt, safe="")
    headers = {"Accept": accept} if accept is not None else {}
    _clean(requests.get(target, headers=headers, timeout=30))
