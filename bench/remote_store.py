"""`python -m bench.remote_store`: the same server over its embedded store and over a remote store.

Generates synthetic data (bench.generate), builds it (bench.bulk_build), loads the build's graphs
into a real `oxigraph serve` process the way `treatygraph build --store` does (Graph Store
Protocol PUTs under staging names, then one MOVE update), and measures, one after the other in
this run on this machine: the upload; SPARQL entity lookups and entity pages through
`treatygraph serve` over the embedded store and over the remote one; and raw lookups on the remote
Oxigraph server itself. Results go to bench/results/YYYY-MM-DD-<host>-remote-store.md.

    python -m bench.remote_store               # 1M triples
    python -m bench.remote_store --size 100k
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import tempfile
import time
from pathlib import Path

import pyoxigraph as ox

from treatygraph.build import upload_graphs
from treatygraph.remote_store import StoreEndpoints
from treatygraph.stores import INFO_FILE, STORE_DIR

from .__main__ import RESULTS, SIZES, bulk_build, fmt, log, machine, ratio
from .generate import generate
from .queries import entity_pages, mix
from .servers import BIN, Server, free_port, sequential_p50_ms, treatygraph_server, wrk


def remote_oxigraph(location: Path, log_file: Path) -> Server:
    """A writable `oxigraph serve`: the remote store. The union default graph serves the raw
    reference queries; treatygraph names its graphs in every request anyway. No `--timeout-s`:
    Oxigraph 0.5 starts a sleeping thread per query for it, and at a thousand lookups a second
    those threads exhausted the process's memory maps here and crashed the server."""
    port = free_port()
    argv = [str(BIN / "oxigraph"), "serve", "--location", str(location)]
    argv += ["--bind", f"127.0.0.1:{port}", "--union-default-graph"]
    return Server(
        "oxigraph", argv, f"http://127.0.0.1:{port}", "/query?query=ASK%7B%7D", log=log_file
    )


def remote_release(embedded_build: Path, remote_build: Path, endpoints: StoreEndpoints) -> int:
    """A build folder whose release reads the remote store (dumps shared with the embedded one),
    its graphs uploaded as `build --store` uploads them; the number of triples."""
    release = (embedded_build / "current").resolve()
    store = ox.Store.read_only(str(release / STORE_DIR))
    graphs = sorted(g.value for g in store.named_graphs())
    target = remote_build / "releases" / "remote"
    target.mkdir(parents=True)
    info = json.loads((release / INFO_FILE).read_text())
    info["store"] = upload_graphs(store, graphs, [endpoints], None, target / "upload", "bench")
    (target / INFO_FILE).write_text(json.dumps(info, indent=2))
    (target / "dumps").symlink_to(release / "dumps")
    (remote_build / "current").symlink_to(target.relative_to(remote_build))
    return info["triples"]


def measure(server: Server, counts: dict, work: Path, seconds: float) -> dict:
    pages = entity_pages(counts)
    lookups = mix(counts, "/sparql", shapes=("entity lookup",))
    return {
        "lookups": wrk(server.url, lookups, 8, seconds, work),
        "pages": wrk(server.url, pages, 8, seconds, work),
        "page_p50_ms": sequential_p50_ms(server.url, pages),
        "peak_rss_mib": server.peak_rss_mib,
    }


def report(results: dict, info: dict, args, started: str, finished: str) -> str:
    embedded, remote, raw = results["embedded"], results["remote"], results["raw"]
    upload = results["upload"]
    lines = [
        f"# treatygraph over a remote store, {started[:10]} on {info['host']}",
        "",
        f"`python -m bench.remote_store --size {args.size}` (seed {args.seed}; {args.seconds} s per "
        f"load run; wrk on 127.0.0.1). Started {started}, finished {finished}. The remote store is "
        "`oxigraph serve` on the same 2-core machine, so it competes with the server for the "
        "cores, and every request crosses loopback HTTP instead of a function call.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in info.items()),
        "",
        "| measure | embedded store | remote store | remote / embedded |",
        "| --- | ---: | ---: | ---: |",
    ]

    def row(name: str, a, b, digits: int = 1) -> None:
        lines.append(f"| {name} | {fmt(a, digits)} | {fmt(b, digits)} | {ratio(b, a)} |")

    row(
        "SPARQL entity lookup, 8 clients, req/s",
        embedded["lookups"]["rps"],
        remote["lookups"]["rps"],
    )
    row("lookup p50, ms", embedded["lookups"]["p50_ms"], remote["lookups"]["p50_ms"])
    row("lookup p99, ms", embedded["lookups"]["p99_ms"], remote["lookups"]["p99_ms"])
    row("entity pages (HTML), 8 clients, pages/s", embedded["pages"]["rps"], remote["pages"]["rps"])
    row("entity page p50, 8 clients, ms", embedded["pages"]["p50_ms"], remote["pages"]["p50_ms"])
    row("entity page p50, 1 client, ms", embedded["page_p50_ms"], remote["page_p50_ms"])
    row("server peak RSS, MiB", embedded["peak_rss_mib"], remote["peak_rss_mib"], 0)
    lines += [
        "",
        f"Raw `oxigraph serve` (the remote store itself), entity lookups, 8 clients: "
        f"{fmt(raw['rps'])} req/s, p50 {fmt(raw['p50_ms'])} ms; treatygraph over it: "
        f"{ratio(remote['lookups']['rps'], raw['rps'])} of that.",
        "",
        f"Upload (`build --store`: dump each graph, PUT it, one MOVE): {upload['triples']:,} "
        f"triples in {upload['seconds']:.1f} s, {upload['triples'] / upload['seconds']:,.0f} "
        "triples/s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.remote_store")
    parser.add_argument("--size", default="1M", choices=["100k", "1M"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15, help="length of each load run")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, help="working folder, kept (default: a temporary one)")
    args = parser.parse_args()
    info = machine()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    work = args.work or Path(tempfile.mkdtemp(prefix="treatygraph-bench-remote-"))
    if args.work:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
    results: dict = {}
    try:
        log(f"{args.size}: generating")
        generated = generate(SIZES[args.size], work / "data", seed=args.seed)
        log(f"{args.size}: building {generated.quads:,} quads")
        bulk_build(work, generated.nquads, generated.sources_dir, False, ["SHACL validation"])
        with treatygraph_server(work / "build", work / "embedded.log") as server:
            server.wait_ready(120)
            log(f"{args.size}: treatygraph over the embedded store")
            results["embedded"] = measure(server, generated.counts, work, args.seconds)
        with remote_oxigraph(work / "remote-store", work / "oxigraph.log") as store:
            store.wait_ready(60)
            endpoints = StoreEndpoints.from_urls(f"{store.url}/store")
            log(f"{args.size}: uploading to {endpoints.graph_store}")
            began = time.perf_counter()
            triples = remote_release(work / "build", work / "remote-build", endpoints)
            results["upload"] = {"triples": triples, "seconds": time.perf_counter() - began}
            log(f"{args.size}: raw oxigraph serve, entity lookups")
            raw_lookups = mix(generated.counts, "/query", shapes=("entity lookup",))
            results["raw"] = wrk(store.url, raw_lookups, 8, args.seconds, work)
            with treatygraph_server(work / "remote-build", work / "remote.log") as server:
                server.wait_ready(120)
                log(f"{args.size}: treatygraph over the remote store")
                results["remote"] = measure(server, generated.counts, work, args.seconds)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    finished = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    text = report(results, info, args, started, finished)
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{started[:10]}-{info['host']}-remote-store.md"
    out.write_text(text, encoding="utf-8")
    log(f"written to {out}")


if __name__ == "__main__":
    main()
