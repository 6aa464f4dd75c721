"""`python -m bench.remote_store`: the same server over its embedded store and over remote stores.

Generates synthetic data (bench.generate), builds it (bench.bulk_build), and measures, one after
the other in this run on this machine, `treatygraph serve` over: its embedded store; a real
`oxigraph serve` loaded as `treatygraph build --store` loads it (Graph Store Protocol under
staging names, then one MOVE); a private Virtuoso (bench/virtuoso.py) loaded the same way. For
each: SPARQL entity lookups and entity pages, and raw lookups on the store itself. For Virtuoso,
also its bulk loader (ld_dir, rdf_loader_run, checkpoint) into a second store nobody reads, and
then into the first store in place, replacing the release it holds, with a reader counting each
graph during the swap. Results go to bench/results/YYYY-MM-DD-<host>-remote-store.md.

    python -m bench.remote_store               # 1M triples
    python -m bench.remote_store --size 100k
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox

from treatygraph.publish.build import upload_graphs
from treatygraph.store.opening import INFO_FILE, STORE_DIR
from treatygraph.store.remote import RemoteStore, StoreEndpoints

from .__main__ import RESULTS, SIZES, bulk_build, fmt, load_average, log, machine, ratio
from .generate import generate
from .queries import entity_pages, mix
from .servers import (
    BIN,
    LOAD_GENERATOR_SETTINGS,
    WITHOUT_CACHES,
    Server,
    free_port,
    sequential_p50_ms,
    settings_text,
    treatygraph_server,
    wrk,
)
from .virtuoso import PrivateVirtuoso

# Virtuoso's buffers (8 KiB pages): 800 MiB, which holds a 1M store whole. The swap of a release
# in place is one transaction; replacing 1.4M triples needs far more than its 50 MB default.
VIRTUOSO_BUFFERS = 100_000
VIRTUOSO_TRANSACTION_BYTES = 2_000_000_000


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


def remote_release(
    embedded_build: Path,
    remote_build: Path,
    stores: list[StoreEndpoints],
    load_dir: Path | None = None,
    swap_graphs: bool = False,
) -> dict:
    """A release in remote_build whose graphs went to the remote store as `build --store`
    sends them (dumps shared with the embedded build), made current; its build.json store
    entry, with its folder (`release`), its triples and the seconds the upload took.
    `swap_graphs` loads each of the first two graphs under the other's name: a release that
    differs from the one before."""
    release = (embedded_build / "current").resolve()
    store = ox.Store.read_only(str(release / STORE_DIR))
    graphs = sorted(g.value for g in store.named_graphs())
    current = remote_build / "current"
    serving = json.loads((current / INFO_FILE).read_text())["store"] if current.exists() else None
    target = remote_build / "releases" / f"r{time.time_ns()}"
    target.mkdir(parents=True)
    info = json.loads((release / INFO_FILE).read_text())
    if swap_graphs:
        store = _swapped(store, graphs[:2], target / "swapped")
    began = time.perf_counter()
    info["store"] = upload_graphs(
        store, graphs, stores, serving, target / "upload", target.name, load_dir
    )
    seconds = time.perf_counter() - began
    (target / INFO_FILE).write_text(json.dumps(info, indent=2))
    (target / "dumps").symlink_to(release / "dumps")
    (remote_build / "current.new").symlink_to(target.relative_to(remote_build))
    (remote_build / "current.new").replace(current)
    return {**info["store"], "release": target, "triples": info["triples"], "seconds": seconds}


def _swapped(store: ox.Store, pair: list[str], location: Path) -> ox.Store:
    first, second = (ox.NamedNode(graph) for graph in pair)
    other = {first: second, second: first}
    swapped = ox.Store(str(location))
    swapped.bulk_extend(
        ox.Quad(q.subject, q.predicate, q.object, other.get(q.graph_name, q.graph_name))
        for q in store
    )
    swapped.flush()
    return swapped


class SwapWatch:
    """A reader counting each graph of a store over and over while a release is swapped in:
    how many answers it got, and how many were neither the release before nor the one after."""

    def __init__(self, query_url: str, graphs: list[str]):
        self.store = RemoteStore(query_url, graphs, timeout=120, dialect="virtuoso")
        self.answers: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        while not self._stop.is_set():
            counts = self.store.query(query)
            self.answers[tuple(sorted((s["g"].value, int(s["n"].value)) for s in counts))] += 1

    def __enter__(self) -> SwapWatch:
        self.before = self._count()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self._count()

    def _count(self) -> tuple:
        query = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
        return tuple(sorted((s["g"].value, int(s["n"].value)) for s in self.store.query(query)))

    def summary(self) -> dict:
        mixed = sum(
            n for answer, n in self.answers.items() if answer not in (self.before, self.after)
        )
        return {"answers": sum(self.answers.values()), "mixed": mixed}


def measure(server: Server, counts: dict, work: Path, seconds: float) -> dict:
    pages = entity_pages(counts)
    lookups = mix(counts, "/sparql", shapes=("entity lookup",))
    return {
        "lookups": wrk(server.url, lookups, 8, seconds, work),
        "pages": wrk(server.url, pages, 8, seconds, work),
        "page_p50_ms": sequential_p50_ms(server.url, pages),
        "peak_rss_mib": server.peak_rss_mib,
    }


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident memory (VmHWM), while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_oxigraph(work: Path, counts: dict, seconds: float) -> dict:
    with remote_oxigraph(work / "oxigraph-store", work / "oxigraph.log") as store:
        store.wait_ready(60)
        endpoints = StoreEndpoints.from_urls(f"{store.url}/store")
        log(f"uploading to {endpoints.graph_store}")
        upload = remote_release(work / "build", work / "oxigraph-build", [endpoints])
        log("raw oxigraph serve, entity lookups")
        raw = wrk(store.url, mix(counts, "/query", shapes=("entity lookup",)), 8, seconds, work)
        with treatygraph_server(work / "oxigraph-build", work / "oxigraph-served.log") as server:
            server.wait_ready(120)
            log("treatygraph over oxigraph serve")
            served = measure(server, counts, work, seconds)
        return {"upload": upload, "raw": raw, "served": served, "store_rss_mib": store.peak_rss_mib}


def bench_virtuoso(work: Path, counts: dict, seconds: float) -> dict:
    """Two private Virtuosos: `first` takes the release over HTTP in place (staging graphs,
    one MOVE), `second` with the bulk loader as a store no release reads; the first then takes
    a differing release with the bulk loader, in place, watched by a reader."""
    options = {"buffers": VIRTUOSO_BUFFERS, "transaction_bytes": VIRTUOSO_TRANSACTION_BYTES}
    with (
        PrivateVirtuoso(work / "virtuoso-first", **options) as first,
        PrivateVirtuoso(work / "virtuoso-second", **options) as second,
    ):
        first.start()
        second.start()
        first.wait_ready()
        second.wait_ready()
        user = StoreEndpoints.from_urls(first.graph_store, credentials=(first.user, first.password))
        log(f"uploading to {user.graph_store} (Graph Store Protocol, staging graphs, MOVE)")
        http = remote_release(work / "build", work / "virtuoso-build", [user])
        dba = StoreEndpoints.from_urls(second.graph_store, credentials=("dba", second.dba_password))
        log(f"bulk loading into {dba.graph_store} (a store no release reads)")
        # Loaded as the second of two stores: the first is what the current release reads.
        bulk = remote_release(work / "build", work / "virtuoso-build", [user, dba], second.load_dir)
        log("raw Virtuoso, entity lookups")
        raw = wrk(second.url, mix(counts, "/sparql", shapes=("entity lookup",)), 8, seconds, work)
        with treatygraph_server(work / "virtuoso-build", work / "virtuoso-served.log") as server:
            server.wait_ready(120)
            log("treatygraph over Virtuoso")
            served = measure(server, counts, work, seconds)
        first_dba = StoreEndpoints.from_urls(
            first.graph_store, credentials=("dba", first.dba_password)
        )
        log(f"bulk loading a differing release into {first_dba.graph_store}, in place, watched")
        with SwapWatch(f"{first.url}/sparql", http["graphs"]) as watch:
            swap = remote_release(
                work / "build", work / "virtuoso-swap-build", [first_dba], first.load_dir, True
            )
        about = subprocess.run(["virtuoso-t", "-?"], capture_output=True, text=True)
        version = (about.stdout + about.stderr).splitlines()
        return {
            "http": http,
            "bulk": bulk,
            "swap": {**swap, **watch.summary()},
            "raw": raw,
            "served": served,
            "store_rss_mib": max(peak_rss_mib(first.process.pid), peak_rss_mib(second.process.pid)),
            "version": next((v.strip() for v in version if v.startswith("Version")), "unknown"),
        }


def report(results: dict, info: dict, args, started: str, finished: str) -> str:
    embedded = results["embedded"]
    oxigraph, virtuoso = results["oxigraph"], results["virtuoso"]
    lines = [
        f"# treatygraph over a remote store, {started[:10]} on {info['host']}",
        "",
        f"`python -m bench.remote_store --size {args.size}` (seed {args.seed}; {args.seconds} s "
        f"per load run; wrk on 127.0.0.1). Started {started}, finished {finished}; load average "
        f"at the end {results['load']} on {info['cores']} cores. The remote stores run on the "
        "same machine, so they compete with the server for the cores, and every request "
        "crosses loopback HTTP instead of a function call. Other work on the machine shows as "
        "noise: compare ratios measured in the same run. treatygraph runs with "
        f"{settings_text({**LOAD_GENERATOR_SETTINGS, **WITHOUT_CACHES})}"
        ": the limits that let one load generator through, and no kept answers or pages, since "
        "the same few hundred requests come again and again.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in info.items()),
        f"| Virtuoso | {virtuoso['version']} (Debian), {VIRTUOSO_BUFFERS:,} buffers |",
        "",
        "| measure | embedded | oxigraph serve | Virtuoso | oxigraph / embedded "
        "| Virtuoso / embedded |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, pick, digits: int = 1) -> None:
        a, b, c = pick(embedded), pick(oxigraph["served"]), pick(virtuoso["served"])
        lines.append(
            f"| {name} | {fmt(a, digits)} | {fmt(b, digits)} | {fmt(c, digits)} "
            f"| {ratio(b, a)} | {ratio(c, a)} |"
        )

    row("SPARQL entity lookup, 8 clients, req/s", lambda r: r["lookups"]["rps"])
    row("lookup p50, ms", lambda r: r["lookups"]["p50_ms"])
    row("lookup p99, ms", lambda r: r["lookups"]["p99_ms"])
    row("entity pages (HTML), 8 clients, pages/s", lambda r: r["pages"]["rps"])
    row("entity page p50, 8 clients, ms", lambda r: r["pages"]["p50_ms"])
    row("entity page p50, 1 client, ms", lambda r: r["page_p50_ms"])
    row("server peak RSS, MiB", lambda r: r["peak_rss_mib"], 0)
    errors = {
        name: r["lookups"]["errors"] + r["pages"]["errors"]
        for name, r in (("embedded", embedded), ("oxigraph", oxigraph["served"]))
    }
    errors["Virtuoso"] = (
        virtuoso["served"]["lookups"]["errors"] + virtuoso["served"]["pages"]["errors"]
    )
    lines += [
        "",
        "The stores themselves, entity lookups with 8 clients: raw `oxigraph serve` "
        f"{fmt(oxigraph['raw']['rps'])} req/s (p50 {fmt(oxigraph['raw']['p50_ms'])} ms; "
        f"treatygraph over it {ratio(oxigraph['served']['lookups']['rps'], oxigraph['raw']['rps'])}"
        f" of that), raw Virtuoso {fmt(virtuoso['raw']['rps'])} req/s (p50 "
        f"{fmt(virtuoso['raw']['p50_ms'])} ms; treatygraph over it "
        f"{ratio(virtuoso['served']['lookups']['rps'], virtuoso['raw']['rps'])} of that). Peak "
        f"RSS of the stores: oxigraph serve {fmt(oxigraph['store_rss_mib'], 0)} MiB, Virtuoso "
        f"{fmt(virtuoso['store_rss_mib'], 0)} MiB. Failed requests in the load runs: "
        + ", ".join(f"{name} {count}" for name, count in errors.items())
        + ".",
        "",
        "| upload (`build --store`) | triples | seconds | triples/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, upload in (
        ("oxigraph serve: Graph Store Protocol, staging graphs, one MOVE", oxigraph["upload"]),
        ("Virtuoso: Graph Store Protocol, staging graphs, one MOVE", virtuoso["http"]),
        ("Virtuoso: bulk loader into a second store no release reads", virtuoso["bulk"]),
        (
            "Virtuoso: bulk loader, staging graphs, one MOVE replacing the release it holds",
            virtuoso["swap"],
        ),
    ):
        lines.append(
            f"| {name} | {upload['triples']:,} | {upload['seconds']:.1f} | "
            f"{upload['triples'] / upload['seconds']:,.0f} |"
        )
    swap = virtuoso["swap"]
    lines += [
        "",
        f"During the last swap a reader counted each graph of the store {swap['answers']:,} "
        f"times: {swap['mixed']:,} answers were neither the release before nor the one after "
        "(Virtuoso makes a committed MOVE visible row by row). With two stores, the release "
        "switch moves readers at once.",
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
        results["oxigraph"] = bench_oxigraph(work, generated.counts, args.seconds)
        results["virtuoso"] = bench_virtuoso(work, generated.counts, args.seconds)
        results["load"] = load_average()
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
