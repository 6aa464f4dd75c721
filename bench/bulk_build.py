"""A build of the curated data plus bulk N-Quads, by the build's own stages, timed one by one.

The curated build (`treatygraph build`) reads YAML records one by one and validates with pyshacl,
which is right for a few thousand triples and too slow for millions. This path loads the extra
N-Quads straight into Oxigraph, checks their quotes against their source files, validates with the
shapes compiled to SPARQL (treatygraph/validation/shacl_sparql.py), derives the Wikidata view with one SPARQL
update, and writes the dumps with the build's own streaming writer. It produces a release that
`treatygraph serve` serves like any other.

Run: python -m bench.bulk_build BUILD_DIR NQUADS SOURCES_DIR [--reference] [--skip=STAGE ...]  (prints JSON; with
--reference also the time pyshacl and the rdflib view builder take on the same data)
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyoxigraph as ox
from rdflib.namespace import RDF

from treatygraph import __version__
from treatygraph.core.config import Config
from treatygraph.curation.sources import normalise_space
from treatygraph.publish.assemble import assemble
from treatygraph.publish.build import (
    DUMPS_DIR,
    STORE_DIR,
    BuildInfo,
    build_lock,
    build_time,
    publish_release,
    write_release_dumps,
)
from treatygraph.rdf.namespaces import (
    GRAPH_FACTS,
    GRAPH_ONTOLOGY,
    GRAPH_PROVENANCE,
    GRAPH_WIKIDATA_VIEW,
    ORG,
)
from treatygraph.validation.shacl_sparql import validate_store

QUOTES = """
PREFIX tg: <{tg}>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?claim ?quote ?file WHERE {{
  ?claim tg:quote ?quote ; prov:wasQuotedFrom ?source . ?source tg:fileName ?file .
}}
"""

# The membership pattern of treatygraph/wikidata/view.py (P463 "member of" with P580/P582
# start/end, P2868 role for non-full members, preferred rank and a truthy triple when current, a
# reference per claim with P248 "stated in" and P1683 "quote"), as one SPARQL CONSTRUCT that runs
# inside Oxigraph. Statement and reference IRIs are content hashes, as in the Python builder.
WIKIDATA_VIEW = """
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX tg: <{tg}>
PREFIX p: <http://www.wikidata.org/prop/>
PREFIX ps: <http://www.wikidata.org/prop/statement/>
PREFIX pq: <http://www.wikidata.org/prop/qualifier/>
PREFIX pr: <http://www.wikidata.org/prop/reference/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX wikibase: <http://wikiba.se/ontology#>
CONSTRUCT {{
  ?member p:P463 ?statement .
  ?statement a wikibase:Statement ; ps:P463 ?org ; wikibase:rank ?rank ;
    pq:P580 ?start ; pq:P582 ?end ; pq:P2868 ?qualifierRole ; prov:wasDerivedFrom ?reference .
  ?statement a ?best . ?truthyMember wdt:P463 ?org .
  ?reference a wikibase:Reference ; pr:P248 ?source ; pr:P1683 ?quote .
}}
WHERE {{
  MINUS {{ VALUES ?m {{ {curated} }} }}
  ?m a org:Membership ; org:member ?member ; org:organization ?org ; org:role ?role ;
     org:memberDuring ?interval .
  ?interval time:hasBeginning/time:inXSDDate ?startDate .
  OPTIONAL {{ ?interval time:hasEnd/time:inXSDDate ?endDate }}
  ?claim tg:claimAbout ?m ; prov:wasQuotedFrom ?source ; tg:quote ?quote .
  BIND(xsd:dateTime(CONCAT(STR(?startDate), "T00:00:00Z")) AS ?start)
  BIND(xsd:dateTime(CONCAT(STR(?endDate), "T00:00:00Z")) AS ?end)
  BIND(?role = tg:MemberRole && !BOUND(?endDate) AS ?current)
  BIND(IF(?role = tg:MemberRole, ?unbound, ?role) AS ?qualifierRole)
  BIND(IF(?current, wikibase:PreferredRank, wikibase:NormalRank) AS ?rank)
  BIND(IF(?current, wikibase:BestRank, ?unbound) AS ?best)
  BIND(IF(?current, ?member, ?unbound) AS ?truthyMember)
  BIND(IRI(CONCAT("{base}/id/statement/", SHA1(CONCAT(STR(?member), "|P463|", STR(?m))))) AS ?statement)
  BIND(IRI(CONCAT("{base}/id/reference/", SHA1(CONCAT(STR(?source), "|", STR(?quote))))) AS ?reference)
}}
"""


class PeakMemory:
    """Peak resident memory (VmHWM) of this process, reset between stages (Linux clear_refs)."""

    @staticmethod
    def reset() -> None:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    @staticmethod
    def peak_mib() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


def check_quotes(store: ox.Store, tg: str, sources_dir: Path) -> int:
    """Every quote of a claim whose source is a bulk source file is found in that file."""
    texts: dict[str, str] = {}
    missing: list[str] = []
    by_file: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in store.query(QUOTES.format(tg=tg), use_default_graph_as_union=True):
        by_file[row["file"].value].append((row["claim"].value, row["quote"].value))
    checked = 0
    for name, claims in by_file.items():
        path = sources_dir / name
        if not path.is_file():
            continue  # a curated source: its quotes were checked when the records were read
        texts[name] = normalise_space(path.read_text(encoding="utf-8"))
        for claim, quote in claims:
            checked += 1
            if normalise_space(quote) not in texts[name]:
                missing.append(f"{claim}: quote not found in {path}: {quote[:80]!r}")
    if missing:
        raise SystemExit("\n".join(missing[:20]) + f"\n{len(missing)} quote(s) not found")
    return checked


def derive_view(store: ox.Store, assembled, target: Path) -> None:
    """The membership statements of the bulk data, as N-Triples in `target`."""
    construct = WIKIDATA_VIEW.format(
        tg=assembled.ns.tg,
        base=assembled.ns.base,
        # curated memberships already have their statements from the Python builder
        curated=" ".join(
            f"<{m}>" for m in assembled.graphs[GRAPH_FACTS].subjects(RDF.type, ORG.Membership)
        ),
    )
    # Streamed to a file: an INSERT holds every new quad of its transaction in memory, which at
    # 10M triples of input ran past 10 GiB.
    store.query(
        construct,
        default_graph=[
            ox.NamedNode(assembled.ns.graph(g)) for g in (GRAPH_FACTS, GRAPH_PROVENANCE)
        ],
    ).serialize(output=str(target), format=ox.RdfFormat.N_TRIPLES)


def _timed(function, *args):
    began = time.perf_counter()
    return function(*args), time.perf_counter() - began


def bulk_build(
    config: Config, nquads: Path, sources_dir: Path, skip: frozenset[str] = frozenset()
) -> dict:
    """Build the curated data plus `nquads` into config.build_dir; return stage times and peaks.

    `skip` may name "SHACL validation" and "dumps", to serve a size without waiting for them
    (the release then has no dumps, and says so in build.json's version).
    """
    stages: dict[str, dict] = {}
    started = time.perf_counter()

    def stage(name: str, began: float) -> None:
        stages[name] = {"seconds": time.perf_counter() - began, "peak_mib": PeakMemory.peak_mib()}
        PeakMemory.reset()

    with build_lock(config.build_dir):
        releases = config.build_dir / "releases"
        releases.mkdir(parents=True, exist_ok=True)
        staging = releases / f".staging-{os.getpid()}-{time.time_ns()}"
        staging.mkdir()
        PeakMemory.reset()

        began = time.perf_counter()
        store = ox.Store(str(staging / STORE_DIR))
        # The bulk loader releases the GIL: the N-Quads load while the curated data is assembled.
        with ThreadPoolExecutor(max_workers=1) as pool:
            bulk = pool.submit(store.bulk_load, path=str(nquads), format=ox.RdfFormat.N_QUADS)
            assembled = assemble(config)
            curated = {
                name: graph.serialize(format="nt", encoding="utf-8")
                for name, graph in assembled.graphs.items()
                if name != GRAPH_WIKIDATA_VIEW  # derived from the validated graphs, below
            }
            bulk.result()
        for name, ntriples in curated.items():
            store.bulk_load(
                ntriples,
                format=ox.RdfFormat.N_TRIPLES,
                to_graph=ox.NamedNode(assembled.ns.graph(name)),
            )
        store.flush()
        store.optimize()
        stage("load", began)

        # Quote check, SHACL validation and the Wikidata view's query only read the store: they
        # run side by side (Oxigraph queries release the GIL), and the view's statements go to a
        # file, loaded once the data is known to conform. Each stage's time is its own; they
        # overlap, so the total is less than their sum, and they share one memory peak.
        began = time.perf_counter()
        view = assembled.ns.graph(GRAPH_WIKIDATA_VIEW)
        view_file = staging / "wikidata-view.nt"
        with ThreadPoolExecutor(max_workers=2) as pool:
            quotes = pool.submit(_timed, check_quotes, store, str(assembled.ns.tg), sources_dir)
            derived = pool.submit(_timed, derive_view, store, assembled, view_file)
            if "SHACL validation" not in skip:
                # The derived view is not in the store yet, so the union of every graph is exactly
                # what the build validates (and Oxigraph's union is its fastest dataset).
                report, shacl_seconds = _timed(validate_store, store, assembled.shapes)
            quotes, quote_seconds = quotes.result()
            _, view_seconds = derived.result()
        peak = PeakMemory.peak_mib()
        stages["quote check"] = {"seconds": quote_seconds, "peak_mib": peak}
        if "SHACL validation" not in skip:
            stages["SHACL validation"] = {"seconds": shacl_seconds, "peak_mib": peak}
            if not report.conforms:
                raise SystemExit(report.text()[:5000])

        loading = time.perf_counter()
        store.bulk_load(
            assembled.graphs[GRAPH_WIKIDATA_VIEW].serialize(format="nt", encoding="utf-8"),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(view),
        )
        store.bulk_load(
            path=str(view_file), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(view)
        )
        view_file.unlink()
        store.flush()
        count = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{view}> {{ ?s ?p ?o }} }}"
        view_triples = int(next(iter(store.query(count)))["n"].value)
        stages["Wikidata view"] = {
            "seconds": view_seconds + time.perf_counter() - loading,
            "peak_mib": peak,
        }
        side_by_side = time.perf_counter() - began
        PeakMemory.reset()

        began = time.perf_counter()
        built_at = build_time()
        version = f"{__version__}+bench" + ("-nodumps" if "dumps" in skip else "")
        if "dumps" in skip:
            (staging / DUMPS_DIR).mkdir()
            triples = len(store)
        else:
            triples = write_release_dumps(store, staging, assembled, version, built_at)
        del store
        info = BuildInfo(version, built_at, triples, "bench", config.base_iri)
        release = publish_release(config, staging, info, f"bench-{time.time_ns()}")
        if "dumps" not in skip:
            stage("dumps", began)

    return {
        "stages": stages,
        "total_seconds": time.perf_counter() - started,
        # quote check, SHACL validation and the Wikidata view, from the first start to the last end
        "side_by_side_seconds": side_by_side,
        "triples": triples,
        "quotes_checked": quotes,
        "wikidata_view_triples": view_triples,
        "release": str(release),
    }


def reference(config: Config, nquads: Path) -> dict:
    """The curated build's own tools on the same data: rdflib graphs, pyshacl, the view builder."""
    from rdflib import Graph

    from treatygraph.validation.report import validate_graph
    from treatygraph.wikidata.view import wikidata_view

    assembled = assemble(config)
    began = time.perf_counter()
    by_graph: dict[str, list] = defaultdict(list)
    for quad in ox.parse(path=str(nquads), format=ox.RdfFormat.N_QUADS):
        by_graph[quad.graph_name.value].append(quad.triple)
    graphs = {}
    for name, triples in by_graph.items():
        graphs[name] = Graph().parse(
            data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES), format="nt"
        )
    del by_graph
    facts = graphs[assembled.ns.graph(GRAPH_FACTS)] + assembled.graphs[GRAPH_FACTS]
    provenance = graphs[assembled.ns.graph(GRAPH_PROVENANCE)] + assembled.graphs[GRAPH_PROVENANCE]
    data = facts + provenance
    for name, graph in assembled.graphs.items():
        if name not in (GRAPH_FACTS, GRAPH_PROVENANCE, GRAPH_ONTOLOGY, GRAPH_WIKIDATA_VIEW):
            data += graph
    for name, graph in graphs.items():
        if name not in (assembled.ns.graph(GRAPH_FACTS), assembled.ns.graph(GRAPH_PROVENANCE)):
            data += graph
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    report = validate_graph(data, assembled.shapes, assembled.graphs[GRAPH_ONTOLOGY])
    shacl = time.perf_counter() - began
    began = time.perf_counter()
    wikidata_view(assembled.ns, facts, provenance, assembled.graphs[GRAPH_ONTOLOGY])
    view = time.perf_counter() - began
    return {
        "rdflib_load_s": loaded,
        "pyshacl_s": shacl,
        "pyshacl_conforms": report.conforms,
        "view_s": view,
    }


def main(argv: list[str]) -> None:
    with_reference = "--reference" in argv
    skip = frozenset(a.split("=", 1)[1] for a in argv if a.startswith("--skip="))
    paths = [a for a in argv if not a.startswith("--")]
    build_dir, nquads, sources_dir = (Path(a).resolve() for a in paths)
    config = Config.from_env(build_dir=build_dir)
    result = bulk_build(config, nquads, sources_dir, skip)
    if with_reference:
        result["reference"] = reference(config, nquads)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
