"""The competency questions' expected answers and how an answer is compared with them, shared
by the tests that ask them of the embedded store and of Virtuoso."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyoxigraph as ox

from treatygraph.publish.query import execute
from treatygraph.rdf.namespaces import ProjectNamespaces

EXPECTED = Path(__file__).parent / "data" / "competency"


def _cell(term, base: str) -> str:
    if isinstance(term, ox.NamedNode):
        return term.value[len(base) :] if term.value.startswith(base + "/") else term.value
    return term.value


def competency_answer(
    path: Path, store: ox.Store, ns: ProjectNamespaces, columns: list[str]
) -> Counter:
    results = execute(store, ns.rebase(path.read_text(encoding="utf-8")), ns)
    names = {v.value for v in results.variables}
    missing = set(columns) - names
    assert not missing, f"{path.name} does not select {sorted(missing)}"
    return Counter(
        tuple((c, _cell(row[c], ns.base)) for c in columns if row[c] is not None) for row in results
    )
