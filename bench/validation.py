"""`python -m bench.validation`: SHACL validation time and peak memory, the compiler against pyshacl.

For each size (the project's real data, and synthetic data from bench/generate.py at 100k and 1M
triples; 10M with --allow-10m), a child process loads the data and the ontology into an in-memory
Oxigraph store and validates it with the project's shapes: once cold (the first run, with the
subclass look-ups) and then --repeat times (median). pyshacl, the reference, runs at the real
size (about 3 minutes at 100k, so only there by default; --pyshacl-sizes widens it). Each child's
peak RSS is its own. Ratios are taken within this run. Results go to
bench/results/YYYY-MM-DD-<host>-validation.md.

pyshacl-turbo, pyshifty and pyrudof are not installed with the project; when one is importable
it is reported as missing from the table rather than guessed.

    python -m bench.validation                      # real, 100k, 1M
    python -m bench.validation --sizes 100k --repeat 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"real": 0, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
RESULTS = Path(__file__).parent / "results"


def _load(size: str, work: Path):
    """The store and the assembled inputs for one size (generated data joins the real data)."""
    import pyoxigraph as ox

    from bench.generate import generate
    from treatygraph.core.config import Config
    from treatygraph.publish.assemble import assemble
    from treatygraph.rdf.namespaces import GRAPH_WIKIDATA_VIEW

    assembled = assemble(Config.from_env(build_dir=work / "build"))
    store = ox.Store()
    if SIZES[size]:
        generated = generate(SIZES[size], work / size, seed=1, base_iri=assembled.ns.base)
        store.bulk_load(path=str(generated.nquads), format=ox.RdfFormat.N_QUADS)
    for name, graph in assembled.graphs.items():
        if name != GRAPH_WIKIDATA_VIEW:
            store.bulk_load(
                graph.serialize(format="nt", encoding="utf-8"),
                format=ox.RdfFormat.N_TRIPLES,
                to_graph=ox.NamedNode(assembled.ns.graph(name)),
            )
    return store, assembled


def _child(size: str, engine: str, repeat: int, work: Path) -> dict:
    store, assembled = _load(size, work)
    triples = len(store)
    if engine == "compiler":
        from treatygraph.validation.shacl_sparql import validate_store

        def run():
            return validate_store(store, assembled.shapes)
    else:
        from rdflib import Graph

        from treatygraph.rdf.namespaces import GRAPH_ONTOLOGY
        from treatygraph.validation.report import validate_graph

        data = Graph()
        for quad in store:
            data.add(tuple(_rdflib(t) for t in (quad.subject, quad.predicate, quad.object)))
        del store

        def run():
            return validate_graph(data, assembled.shapes, assembled.graphs[GRAPH_ONTOLOGY])

    seconds = []
    for _ in range(1 + repeat):
        began = time.perf_counter()
        report = run()
        seconds.append(time.perf_counter() - began)
    return {
        "size": size,
        "engine": engine,
        "triples": triples,
        "cold_s": seconds[0],
        "median_s": statistics.median(seconds[1:]) if repeat else seconds[0],
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "conforms": report.conforms,
        "results": len(report.violations),
    }


def _rdflib(term):
    from treatygraph.validation.shacl_sparql import rdflib_term

    return rdflib_term(term)


def _measure(size: str, engine: str, repeat: int, work: Path) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench.validation",
        "--child",
        size,
        engine,
        "--repeat",
        str(repeat),
    ]
    done = subprocess.run([*command, "--work", str(work)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{engine} at {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    by_size = {(r["size"], r["engine"]): r for r in rows}
    lines = [
        "| size | triples | engine | cold s | median s | peak RSS MiB | conforms | results | pyshacl / compiler |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        reference = by_size.get((r["size"], "pyshacl"))
        ratio = (
            f"{reference['median_s'] / r['median_s']:.0f}x"
            if reference and r["engine"] == "compiler"
            else ""
        )
        lines.append(
            f"| {r['size']} | {r['triples']:,} | {r['engine']} | {r['cold_s']:.2f} | "
            f"{r['median_s']:.2f} | {r['peak_mib']:.0f} | {r['conforms']} | {r['results']} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="real,100k,1M")
    parser.add_argument("--pyshacl-sizes", default="real")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--allow-10m", action="store_true")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, metavar=("SIZE", "ENGINE"))
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.repeat, args.work)))
        return
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or ("10M" in sizes and not args.allow_10m):
        parser.error(
            f"--sizes: {unknown or '10M'} (known: {', '.join(SIZES)}; 10M needs --allow-10m)"
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as work:
        for size in sizes:
            rows.append(_measure(size, "compiler", args.repeat, Path(work)))
            if size in args.pyshacl_sizes.split(","):
                rows.append(_measure(size, "pyshacl", min(args.repeat, 1), Path(work)))
            print(table(rows), file=sys.stderr)
    started = dt.datetime.now(dt.UTC)
    text = "\n".join(
        [
            f"# SHACL validation, {started:%Y-%m-%d %H:%M} UTC on {socket.gethostname()}",
            "",
            f"{platform.platform()}, Python {platform.python_version()}, {resource.getpagesize()}-byte pages.",
            "Data and ontology in an in-memory Oxigraph store (the compiler) or an rdflib graph (pyshacl);",
            "the project's shapes. Cold: first run; median of the next runs. Peak RSS of the child process,",
            "loading included. pyshacl-turbo, pyshifty and pyrudof are not installed here: not measured.",
            "",
            table(rows),
            "",
        ]
    )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{started:%Y-%m-%d}-{socket.gethostname()}-validation.md"
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
