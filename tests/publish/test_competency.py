"""The competency questions: every queries/NN-name.rq runs on the built graph and gives the answer the sources give.

Each query's expected answer is tests/data/competency/NN-name.json: the columns compared and the rows, as a
multiset (order is not compared; a column missing from a row means the variable is unbound). IRIs under the
base IRI are written as their path (/id/state/armenia), so the answers hold for any configured base; literals
are compared by their lexical form. The expected rows were written from the source texts in data/sources/.
"""

from __future__ import annotations

import json
from collections import Counter

import pyoxigraph as ox
import pytest
from competency_support import EXPECTED, competency_answer

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.publish.query import open_current_store
from treatygraph.rdf.namespaces import ProjectNamespaces

QUERIES = sorted((PROJECT_ROOT / "queries").glob("[0-9][0-9]-*.rq"))


@pytest.fixture(scope="module")
def store(config, built) -> ox.Store:
    return open_current_store(config)


@pytest.fixture(scope="module")
def ns(config) -> ProjectNamespaces:
    return ProjectNamespaces(config.base_iri)


def test_there_are_at_least_30_questions():
    assert len(QUERIES) >= 30
    numbers = [p.name[:2] for p in QUERIES]
    assert len(numbers) == len(set(numbers)), "two queries share a number"


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_query_states_its_question_and_declares_its_prefixes(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Question: "), f"{path.name} must start with '# Question: ...'"
    # It must parse with no predeclared prefixes, as in any other SPARQL 1.1 tool.
    try:
        ox.Store().query(text)
    except SyntaxError as err:
        pytest.fail(f"{path.name} does not parse on its own (undeclared prefix?): {err}")


@pytest.mark.parametrize("path", QUERIES, ids=[p.stem for p in QUERIES])
def test_competency_question(path, store, ns):
    expected_file = EXPECTED / f"{path.stem}.json"
    assert expected_file.exists(), f"no expected answer {expected_file}"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    columns = expected["columns"]
    assert columns and expected["rows"], f"{expected_file.name} expects no answer at all"
    want = Counter(
        tuple((c, row[c]) for c in columns if row.get(c) is not None) for row in expected["rows"]
    )
    got = competency_answer(path, store, ns, columns)
    assert got == want, (
        f"{path.name}\n  missing: {sorted(want - got)}\n  unexpected: {sorted(got - want)}"
    )
