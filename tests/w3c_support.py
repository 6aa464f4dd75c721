"""The W3C SPARQL 1.1 test suites, read in place from their manifests, and answers compared as the
W3C's runners compare them.

The suites sit beside the project (../shared/w3c-sparql11-tests/sparql11, or where
TREATYGRAPH_W3C_SPARQL_TESTS says). Each data file is a named graph called by the file's W3C URL,
so a test's default graph is chosen with `default-graph-uri` and graph names in answers are the
ones the expected results give.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import RDF, XSD
from rdflib.query import Result

from treatygraph.core.config import PROJECT_ROOT

SUITE = Path(
    os.environ.get(
        "TREATYGRAPH_W3C_SPARQL_TESTS",
        PROJECT_ROOT.parent / "shared" / "w3c-sparql11-tests" / "sparql11",
    )
)
SUITE_MISSING = (
    f"the W3C SPARQL 1.1 test suites are not at {SUITE} (set TREATYGRAPH_W3C_SPARQL_TESTS)"
)
W3C_BASE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
UT = Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
HT = Namespace("http://www.w3.org/2011/http#")
CNT = Namespace("http://www.w3.org/2011/content#")
RS = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/result-set#")
# Stands in for "no named graphs": `GRAPH ?g` then matches nothing, as the test's dataset says.
NO_GRAPH = "urn:treatygraph:w3c:no-graph"
QUERY_FOLDERS = (
    "aggregates",
    "bind",
    "bindings",
    "cast",
    "construct",
    "exists",
    "functions",
    "grouping",
    "negation",
    "project-expression",
    "property-path",
    "subquery",
)
NUMERIC = {
    XSD.integer,
    XSD.decimal,
    XSD.double,
    XSD.float,
    XSD.int,
    XSD.long,
    XSD.short,
    XSD.byte,
    XSD.nonNegativeInteger,
    XSD.positiveInteger,
    XSD.negativeInteger,
    XSD.nonPositiveInteger,
    XSD.unsignedInt,
    XSD.unsignedLong,
}


def require_suite() -> None:
    if not (SUITE / "manifest-all.ttl").is_file():
        pytest.skip(SUITE_MISSING)


def w3c_iri(path: Path) -> str:
    """The URL the W3C publishes a suite file at (its graph name here, and its query's base)."""
    return W3C_BASE + path.relative_to(SUITE).as_posix()


def read_manifest(folder: str) -> tuple[Graph, list[URIRef]]:
    """A folder's manifest graph (IRIs are its files' W3C URLs) and its entries, in order."""
    path = SUITE / folder / "manifest.ttl"
    graph = Graph().parse(path, format="turtle", publicID=w3c_iri(path))
    manifest = URIRef(w3c_iri(path))
    entries = graph.value(manifest, MF.entries)
    return graph, [URIRef(e) for e in Collection(graph, entries)] if entries else []


def local_file(iri) -> Path:
    return SUITE / str(iri).removeprefix(W3C_BASE)


@dataclass(frozen=True)
class EvaluationTest:
    """One mf:QueryEvaluationTest: its query, dataset and expected result."""

    name: str  # folder/entry, as the manifest names the entry
    query: Path
    data: tuple[Path, ...]
    graph_data: tuple[Path, ...]
    result: Path

    @property
    def query_text(self) -> str:
        """The query as the W3C runners read it: with the query file's URL as its base."""
        text = self.query.read_text(encoding="utf-8")
        if re.search(r"\bBASE\s*<", text, re.IGNORECASE):
            return text  # its own (absolute) base: one BASE, which every store reads
        return f"BASE <{w3c_iri(self.query)}>\n{text}"

    @property
    def dataset_params(self) -> dict[str, list[str]]:
        """The protocol's dataset parameters, unless the query names its own (FROM …)."""
        if re.search(r"\bFROM\b", self.query.read_text(encoding="utf-8"), re.IGNORECASE):
            return {}
        return {
            "default-graph-uri": [w3c_iri(p) for p in self.data] or [NO_GRAPH],
            "named-graph-uri": [w3c_iri(p) for p in self.graph_data] or [NO_GRAPH],
        }

    @property
    def ordered(self) -> bool:
        """Whether the query's outermost solutions are ordered (ORDER BY after the last `}`)."""
        text = re.sub(r"#[^\n]*", "", self.query.read_text(encoding="utf-8"))
        return re.search(r"ORDER\s+BY", text[text.rfind("}") :], re.IGNORECASE) is not None


def evaluation_tests() -> list[EvaluationTest]:
    """The 225 query evaluation tests of the folders the issue names, in manifest order."""
    tests = []
    for folder in QUERY_FOLDERS:
        graph, entries = read_manifest(folder)
        for entry in entries:
            if (entry, RDF.type, MF.QueryEvaluationTest) not in graph:
                continue
            action = graph.value(entry, MF.action)
            tests.append(
                EvaluationTest(
                    name=f"{folder}/{str(entry).rpartition('#')[2]}",
                    query=local_file(graph.value(action, QT.query)),
                    data=tuple(local_file(d) for d in sorted(graph.objects(action, QT.data))),
                    graph_data=tuple(
                        local_file(d) for d in sorted(graph.objects(action, QT.graphData))
                    ),
                    result=local_file(graph.value(entry, MF.result)),
                )
            )
    return tests


def data_files(tests: list[EvaluationTest]) -> list[Path]:
    return sorted({p for t in tests for p in (*t.data, *t.graph_data)})


def load_suite_data(store: ox.Store, tests: list[EvaluationTest]) -> list[str]:
    """Every data file the tests read, each into the named graph of its W3C URL; the names."""
    names = []
    for path in data_files(tests):
        name = w3c_iri(path)
        store.load(
            path=str(path),
            format=ox.RdfFormat.from_extension(path.suffix[1:]),
            base_iri=name,
            to_graph=ox.NamedNode(name),
        )
        names.append(name)
    return names


def suite_ntriples(path: Path) -> bytes:
    """A data file as N-Triples (what the project's uploader sends)."""
    graph = Graph().parse(path, publicID=w3c_iri(path))
    return graph.serialize(format="nt", encoding="utf-8")


# --- comparing answers ---------------------------------------------------------------------


def _term(term):
    """A term as the runners compare it: typed literals by value (numbers of any numeric type),
    language tags in any case."""
    if isinstance(term, Literal):
        if term.language:
            return ("lang", str(term), term.language.lower())
        datatype = term.datatype or XSD.string
        if datatype in NUMERIC:
            try:
                value = Decimal(str(term).strip())
            except InvalidOperation:
                return ("literal", str(term), datatype)
            # By value, as SPARQL's `=` compares numbers: 2.5 as a decimal is 2.5 as a double.
            return ("number", value.normalize() if value.is_finite() else value)
        if datatype == XSD.boolean and str(term) in ("true", "false", "1", "0"):
            return ("boolean", str(term) in ("true", "1"))
        return ("literal", str(term), datatype)
    return term


def expected_result(path: Path):
    """The expected answer: a bool, (variables, rows) or a Graph."""
    if path.suffix == ".ttl":
        graph = Graph().parse(path, publicID=w3c_iri(path))
        result_set = next(graph.subjects(RDF.type, RS.ResultSet), None)
        return graph if result_set is None else _result_set(graph, result_set)
    fmt = {".srx": "xml", ".srj": "json", ".tsv": "tsv", ".csv": "csv"}[path.suffix]
    return _result(Result.parse(io.BytesIO(path.read_bytes()), format=fmt))


def _result_set(graph: Graph, result_set) -> bool | tuple[list[str], list[dict]]:
    """A result set written in RDF (the DAWG result-set vocabulary)."""
    boolean = graph.value(result_set, RS.boolean)
    if boolean is not None:
        return bool(boolean.toPython())
    variables = [str(v) for v in graph.objects(result_set, RS.resultVariable)]
    solutions = sorted(
        graph.objects(result_set, RS.solution),
        key=lambda s: int(graph.value(s, RS.index) or 0),
    )
    rows = [
        {
            str(graph.value(b, RS.variable)): graph.value(b, RS.value)
            for b in graph.objects(solution, RS.binding)
        }
        for solution in solutions
    ]
    return variables, rows


def _result(result: Result):
    if result.type == "ASK":
        return bool(result.askAnswer)
    variables = [str(v) for v in result.vars or ()]
    rows = [
        {str(k): v for k, v in binding.items() if v is not None}
        for binding in (result.bindings or ())
    ]
    return variables, rows


def answer_from_json(body: bytes):
    return _result(Result.parse(io.BytesIO(body), format="json"))


def answer_from_ntriples(body: bytes) -> Graph:
    return Graph().parse(data=body.decode("utf-8"), format="nt")


def same_answer(expected, actual, ordered: bool) -> bool:
    """Whether two answers are the same as the W3C's runners judge: booleans equal; graphs
    isomorphic; solutions equal as multisets (as sequences when the query orders them), blank
    nodes up to a consistent renaming, typed literals by value."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, Graph) or isinstance(actual, Graph):
        return (
            isinstance(expected, Graph)
            and isinstance(actual, Graph)
            and _same_graph(expected, actual)
        )
    (_, want), (_, got) = expected, actual
    if len(want) != len(got):
        return False
    want = [{k: _term(v) for k, v in row.items()} for row in want]
    got = [{k: _term(v) for k, v in row.items()} for row in got]
    has_bnodes = any(isinstance(v, BNode) for row in want + got for v in row.values())
    if not has_bnodes:
        if ordered:
            return want == got
        return Counter(_key(r) for r in want) == Counter(_key(r) for r in got)
    return _match(want, got, 0, [False] * len(got), {}, ordered)


def _key(row: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in row.items()))


def _match(want, got, i, used, mapping, ordered) -> bool:
    if i == len(want):
        return True
    candidates = [i] if ordered else range(len(got))
    for j in candidates:
        if used[j]:
            continue
        extended = _unify(want[i], got[j], mapping)
        if extended is None:
            continue
        used[j] = True
        if _match(want, got, i + 1, used, extended, ordered):
            return True
        used[j] = False
    return False


def _unify(row: dict, other: dict, mapping: dict) -> dict | None:
    if row.keys() != other.keys():
        return None
    mapping = dict(mapping)
    for name, value in row.items():
        theirs = other[name]
        if isinstance(value, BNode) and isinstance(theirs, BNode):
            forward, backward = ("f", value), ("b", theirs)
            if mapping.get(forward, theirs) != theirs or mapping.get(backward, value) != value:
                return None
            mapping[forward], mapping[backward] = theirs, value
        elif value != theirs:
            return None
    return mapping


def _same_graph(expected: Graph, actual: Graph) -> bool:
    def normalized(graph: Graph) -> Graph:
        out = Graph()
        for s, p, o in graph:
            if isinstance(o, Literal) and o.datatype in NUMERIC:
                o = Literal(o.toPython(), datatype=o.datatype) if o.value is not None else o
            out.add((s, p, o))
        return out

    return isomorphic(normalized(expected), normalized(actual))


def shown(answer) -> str:
    """An answer, short, for a failure message."""
    if isinstance(answer, Graph):
        return answer.serialize(format="nt")[:2000]
    if isinstance(answer, bool):
        return str(answer)
    variables, rows = answer
    return json.dumps(
        {"vars": variables, "rows": [{k: v.n3() for k, v in r.items()} for r in rows[:30]]},
        indent=1,
    )[:2000]


# --- the protocol suite --------------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolRequest:
    method: str
    path: str  # after the endpoint's own path: "?query=…" or ""
    headers: dict[str, str]
    body: bytes | None
    expected_status: frozenset[int]  # status classes: 2, 3, 4, 5
    expected_format: str | None  # "boolean", "tabular" or "RDF"
    expected_boolean: bool | None


@dataclass(frozen=True)
class ProtocolTest:
    name: str
    title: str
    requests: tuple[ProtocolRequest, ...]
    graph_data: dict[str, Path]  # graph name → file

    @property
    def is_update(self) -> bool:
        return "update" in self.name


def _headers(graph: Graph, request) -> dict[str, str]:
    """An http:Request's headers as the manifests give them (http:headers, a list)."""
    listed = graph.value(request, HT.headers)
    return {
        str(graph.value(header, HT.fieldName)): str(graph.value(header, HT.fieldValue))
        for header in (Collection(graph, listed) if listed else ())
    }


def _body(graph: Graph, body) -> bytes | None:
    """A cnt:ContentAsText body in its cnt:characterEncoding (UTF-8 when none is given)."""
    if body is None:
        return None
    encoding = str(graph.value(body, CNT.characterEncoding) or "UTF-8")
    return str(graph.value(body, CNT.chars)).encode(encoding)


def protocol_tests() -> list[ProtocolTest]:
    graph, entries = read_manifest("protocol")
    tests = []
    for entry in entries:
        action = graph.value(entry, MF.action)
        requests_ = []
        for request in Collection(graph, graph.value(action, HT.requests)):
            response = graph.value(request, HT.resp)
            statuses = {
                int(re.search(r"StatusCode(\d)xx", str(s)).group(1))
                for s in graph.objects(response, MF.expectedStatus)
            }
            boolean = graph.value(response, MF.expectedBoolean)
            fmt = graph.value(response, MF.expectedFormat)
            requests_.append(
                ProtocolRequest(
                    method=str(graph.value(request, HT.methodName)),
                    path=str(graph.value(request, HT.absolutePath)).removeprefix("/sparql/"),
                    headers=_headers(graph, request),
                    body=_body(graph, graph.value(request, HT.body)),
                    expected_status=frozenset(statuses),
                    expected_format=str(fmt) if fmt is not None else None,
                    expected_boolean=bool(boolean.toPython()) if boolean is not None else None,
                )
            )
        data = {
            str(graph.value(d, rdflib.RDFS.label)): local_file(graph.value(d, UT.graph))
            for d in graph.objects(entry, UT.graphData)
        }
        tests.append(
            ProtocolTest(
                name=str(entry).rpartition("#")[2],
                title=str(graph.value(entry, MF.name)),
                requests=tuple(requests_),
                graph_data=data,
            )
        )
    return tests


# --- a release serving the suites' data ----------------------------------------------------


def protocol_graphs() -> dict[str, Path]:
    """The protocol suite's graphs (data1-3), under the names its tests give them."""
    graphs: dict[str, Path] = {}
    for test in protocol_tests():
        graphs.update(test.graph_data)
    return graphs


def fill_store(location: Path) -> list[str]:
    """An Oxigraph store at `location` with the query suites' data files and the protocol
    suite's graphs, each a named graph; the graph names."""
    store = ox.Store(str(location))
    names = load_suite_data(store, evaluation_tests())
    for name, path in protocol_graphs().items():
        store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(name))
        names.append(name)
    store.flush()
    del store
    return names


def suite_release(build_dir: Path, store: Path | None = None, remote: dict | None = None):
    """A build folder whose current release serves the suites' data: the embedded store
    copied from `store`, or the remote store `remote` describes (build.json's "store").
    Its Config."""
    import shutil

    from treatygraph.core.config import Config
    from treatygraph.publish.build import INFO_FILE, STORE_DIR, _swap_current

    config = Config(build_dir=build_dir, query_workers=2)
    release = build_dir / "releases" / "w3c"
    release.mkdir(parents=True)
    if store is not None:
        shutil.copytree(store, release / STORE_DIR)
    info = {
        "version": "w3c-sparql11",
        "built_at": "2026-01-01T00:00:00Z",
        "triples": 0,
        "input_digest": "",
        "base_iri": config.base_iri,
        "store": remote,
    }
    (release / INFO_FILE).write_text(json.dumps(info), encoding="utf-8")
    _swap_current(config, release)
    return config


def direct_answer(store: ox.Store, test: EvaluationTest):
    """pyoxigraph's own answer to a test, on a store `fill_store` filled: the reference the
    endpoint's layers are held to where pyoxigraph departs from the suite."""
    params = test.dataset_params
    dataset = (
        {
            "default_graph": [ox.NamedNode(g) for g in params["default-graph-uri"]],
            "named_graphs": [ox.NamedNode(g) for g in params["named-graph-uri"]],
        }
        if params
        else {}
    )
    result = store.query(test.query_text, **dataset)
    if isinstance(result, ox.QueryBoolean):
        return bool(result)
    if isinstance(result, ox.QuerySolutions):
        return answer_from_json(result.serialize(format=ox.QueryResultsFormat.JSON))
    return answer_from_ntriples(ox.serialize(result, format=ox.RdfFormat.N_TRIPLES))


# --- the Graph Store Protocol suite --------------------------------------------------------


@dataclass(frozen=True)
class GraphStoreRequest:
    method: str
    path: str  # what follows the service's URL: "?graph=…", "?default" or ""
    headers: dict[str, str]
    body: bytes | None
    expected_status: frozenset[int]  # exact codes, or classes 2, 3, 4 …
    expected_body: str | None  # Turtle the answer must be isomorphic to
    location_variable: str | None  # the Location header names this template variable


@dataclass(frozen=True)
class GraphStoreTest:
    name: str
    title: str
    requires: frozenset[str]
    requests: tuple[GraphStoreRequest, ...]


def _status_codes(graph: Graph, response) -> frozenset[int]:
    from http import HTTPStatus

    codes = set()
    for status in graph.objects(response, MF.expectedStatus):
        name = str(status).rpartition("#")[2]
        found = re.fullmatch(r"StatusCode(\d)xx", name)
        if found:
            codes.add(int(found.group(1)))
        else:
            codes.add(HTTPStatus[re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper()].value)
    return frozenset(codes)


def graph_store_tests() -> list[GraphStoreTest]:
    """The Graph Store Protocol suite's tests, direct and indirect identification."""
    tests = []
    for part in ("manifest-indirect.ttl", "manifest-direct.ttl"):
        path = SUITE / "graph-store-protocol" / part
        graph = Graph().parse(path, format="turtle", publicID=w3c_iri(path))
        entries = graph.value(URIRef(w3c_iri(path)), MF.entries)
        for entry in Collection(graph, entries):
            action = graph.value(entry, MF.action)
            sent = []
            for request in Collection(graph, graph.value(action, HT.requests)):
                response = graph.value(request, HT.resp)
                expected = graph.value(response, HT.body)
                location = graph.value(response, MF.expectedLocation)
                sent.append(
                    GraphStoreRequest(
                        method=str(graph.value(request, HT.methodName)),
                        path=str(graph.value(request, HT.absolutePath)).removeprefix("/gsp"),
                        headers=_headers(graph, request),
                        body=_body(graph, graph.value(request, HT.body)),
                        expected_status=_status_codes(graph, response),
                        expected_body=str(graph.value(expected, CNT.chars)) if expected else None,
                        location_variable=str(location) if location is not None else None,
                    )
                )
            tests.append(
                GraphStoreTest(
                    name=str(entry).rpartition("#")[2],
                    title=str(graph.value(entry, MF.name)),
                    requires=frozenset(
                        str(r).rpartition("#")[2] for r in graph.objects(entry, MF.requires)
                    ),
                    requests=tuple(sent),
                )
            )
    return tests


def status_matches(status: int, expected: frozenset[int]) -> bool:
    return status in expected or status // 100 in expected
