"""`python -m bench.serving`: what `treatygraph serve` serves per second, against raw Oxigraph.

For the real build (`treatygraph build`) and the 1M synthetic build (bench/bulk_build.py, as
`python -m bench` builds it), one after the other on this machine: raw `oxigraph serve-read-only`
on the same store, then `treatygraph serve` as users run it (the CLI) under each HTTP server
(`--http-server gevent|gthread|granian`), each loaded by wrk at 4 and 16 connections with:

  cold lookup          SELECT ?p ?o about a different entity each request, over every entity
  repeated lookup      one lookup asked over and over (the path an answer cache serves)
  aggregation          members per organization (GROUP BY, COUNT DISTINCT), over three roles
  DESCRIBE             a different entity each request
  entity page, first visits   the HTML page of each entity once, on a server started afresh
  entity page, revisits       the pages of the first visits again

Every query of the cold shapes is a text no other request of the run sends (`bench.rotation`),
so no answer cache serves them. One load generator is one client address to the endpoint: the
load runs use settings that let it through (LOAD_GENERATOR_SETTINGS, printed with the results),
and one more run, with the public defaults, shows what a single address gets (429s).

Before any load, each server's answers to the first queries of each shape are compared with raw
Oxigraph's; a server that disagrees is not loaded. Then, per server, where the time of a cold
lookup goes: CPU per request of each process over sequential requests, and inside a web process
(bench/cold_lookup_profile.py). Results: bench/results/YYYY-MM-DD-<host>-serving.md.

    python -m bench.serving                          # the real build and 1M
    python -m bench.serving --builds real --seconds 3    # a quick look
    python -m bench.serving --builds 1M --work DIR --reuse   # serve DIR's 1M build again
    python -m bench.serving --builds 10M --allow-10m --work DIR --reuse --connections 8
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import importlib.metadata
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pyoxigraph as ox

from treatygraph.cli.commands import DEFAULT_HTTP_SERVER, HTTP_SERVERS
from treatygraph.core.config import CANONICAL_BASE_IRI, Config

from .__main__ import RESULTS, SIZES, answer_size, bulk_build, load_average, log, machine, ratio
from .generate import generate
from .processes import PeakMemory, cpu_by_role
from .queries import PREFIXES
from .rotation import UNIQUE, LoadRun, lines, run_wrk
from .servers import (
    BIN,
    LOAD_GENERATOR_SETTINGS,
    Server,
    oxigraph_server,
    settings_text,
    treatygraph_server,
)

SPARQL_SHAPES = ("cold lookup", "repeated lookup", "aggregation", "DESCRIBE")
PAGE_SHAPES = ("entity page, first visits", "entity page, revisits")
# The cheapest answer the app gives (a static file, no store, no worker): the ceiling of any path
# through the HTTP server and Flask, kept answers and pages included.
FLOOR_SHAPE = "static file (the app's floor)"
FLOOR_PATH = "/static/site.css"
OUR_SHAPES = (*PAGE_SHAPES, FLOOR_SHAPE)
ROLES = ("MemberRole", "ObserverRole", "PartnerRole")
PUBLIC_CONNECTIONS = 8  # the public-defaults run: 8 connections from one address
WARM_UP_ENTITIES = 20  # visited before the load runs, and never in them
ANSWERS_CHECKED = 3  # first requests of each shape whose answers are compared
# Where the unique numbers of the answer checks and of the CPU profile start: far from the load
# runs' (which start at 1) on the same server.
CHECK_NUMBER = 10**12
PROFILE_NUMBER = 10**9
TARGETS_BUILD = "real"


@dataclasses.dataclass
class Built:
    """A build to serve, and how long it took (an earlier run's when reused)."""

    name: str
    build_dir: Path
    triples: int
    seconds: float | None
    reused: bool


def real_build(work: Path) -> Built:
    """`treatygraph build` of the real data, as users run it, into work/real/build."""
    build_dir = work / "real" / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TREATYGRAPH_")}
    env["TREATYGRAPH_BUILD_DIR"] = str(build_dir)
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "treatygraph"), "build"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"treatygraph build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    info = json.loads(((build_dir / "current").resolve() / "build.json").read_text())
    return Built("real", build_dir, info["triples"], seconds, reused=False)


def synthetic_build(size: str, work: Path, seed: int, reuse: bool) -> Built:
    """The synthetic build of `python -m bench`, in the same folder layout (work/SIZE/build), so
    that either bench can serve the other's build again with --reuse."""
    folder = work / size
    record = folder / "bulk-build.json"
    if reuse and record.is_file() and (folder / "build" / "current").exists():
        build = json.loads(record.read_text())
        return Built(size, folder / "build", build["triples"], build["total_seconds"], True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log(f"{size}: generating")
    generated = generate(SIZES[size], folder / "data", seed=seed)
    log(f"{size}: building {generated.quads:,} quads")
    build = bulk_build(folder, generated.nquads, generated.sources_dir, False, [])
    record.write_text(json.dumps(build))
    shutil.rmtree(folder / "data", ignore_errors=True)
    return Built(size, folder / "build", build["triples"], build["total_seconds"], False)


def entities(build_dir: Path, seed: int) -> tuple[str, list[str]]:
    """The base IRI and every entity of the build (subjects /id/KIND/NAME), in a shuffled order
    fixed by the seed, so that consecutive requests ask about different kinds of things."""
    release = (build_dir / "current").resolve()
    base = json.loads((release / "build.json").read_text()).get("base_iri") or CANONICAL_BASE_IRI
    prefix = f"{base}/id/"
    store = ox.Store.read_only(str(release / "store"))
    rows = store.query(
        f'SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?s), "{prefix}")) }}'
    )
    found = sorted(
        iri
        for iri in (row[0].value for row in rows)
        # Hash IRIs (…#claim-2) are parts of their document's page, not pages of their own.
        if iri[len(prefix) :].count("/") == 1 and not iri.endswith("/") and "#" not in iri
    )
    del store
    random.Random(seed).shuffle(found)
    return base, found


def sparql_requests(shape: str, rotation: list[str], path: str) -> list[tuple[str, str]]:
    """(GET path, Accept) pairs of a shape; the cold ones carry the unique number `__N__`."""
    json_results = "application/sparql-results+json"
    if shape == "cold lookup":
        texts = [f"SELECT ?p ?o WHERE {{ <{e}> ?p ?o FILTER({UNIQUE} > 0) }}" for e in rotation]
        accept = json_results
    elif shape == "repeated lookup":
        texts = [f"SELECT ?p ?o WHERE {{ <{rotation[0]}> ?p ?o }}"]
        accept = json_results
    elif shape == "aggregation":
        texts = [
            PREFIXES
            + "SELECT ?organization (COUNT(DISTINCT ?state) AS ?members) WHERE {\n"
            + f"  ?m org:organization ?organization ; org:member ?state ; org:role tg:{role} .\n"
            + f"  FILTER({UNIQUE} > 0)\n"
            + "} GROUP BY ?organization ORDER BY DESC(?members) ?organization LIMIT 10"
            for role in ROLES
        ]
        accept = json_results
    elif shape == "DESCRIBE":
        texts = [
            f"DESCRIBE ?entity WHERE {{ VALUES ?entity {{ <{e}> }} FILTER({UNIQUE} > 0) }}"
            for e in rotation
        ]
        accept = "text/turtle"
    else:
        raise ValueError(shape)
    return [(f"{path}?{urllib.parse.urlencode({'query': text})}", accept) for text in texts]


def page_requests(base: str, rotation: list[str]) -> list[tuple[str, str]]:
    """The HTML page of each entity: /doc/KIND/NAME for the IRI BASE/id/KIND/NAME."""
    return [("/doc/" + iri[len(base) + len("/id/") :], "text/html") for iri in rotation]


def check_answers(url: str, path: str, rotation: list[str]) -> dict[str, list]:
    """Rows (DESCRIBE: triples) of the first requests of each SPARQL shape."""
    answers = {}
    for shape in SPARQL_SHAPES:
        answers[shape] = [
            answer_size(url + request_path.replace(UNIQUE, str(CHECK_NUMBER + i)), accept)
            for i, (request_path, accept) in enumerate(
                sparql_requests(shape, rotation, path)[:ANSWERS_CHECKED]
            )
        ]
    return answers


def settle(server: Server, timeout: float = 30.0) -> None:
    """Wait until the server's processes have done starting (together under a tenth of a core for
    half a second): /healthz answers as soon as one web process is up, while the others and the
    query workers may still be importing."""
    deadline = time.monotonic() + timeout
    used = sum(cpu_by_role(server.process.pid).values())
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = sum(cpu_by_role(server.process.pid).values())
        if now - used < 0.05:
            return
        used = now


def warm_up(url: str, pages: list[tuple[str, str]]) -> None:
    """Visit the pages kept out of the rotation, so that a first visit in the load runs is not
    also the web process's first request."""
    for path, accept in pages:
        request = urllib.request.Request(url + path, headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()


def cpu_per_request(server: Server, requests: list[tuple[str, str]], n: int, cap: float) -> dict:
    """CPU microseconds per request of each kind of process of the server, and of wrk, over `n`
    requests sent one after the other on one connection (from /proc, in clock ticks)."""
    walk = (requests * math.ceil(n / len(requests)))[:n]
    before = cpu_by_role(server.process.pid)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has ended
    run = run_wrk(
        server.url,
        walk,
        1,
        cap,
        once=True,
        first_number=PROFILE_NUMBER,
        idle_path=server.ready_path,
    )
    after = cpu_by_role(server.process.pid)
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    answered = max(1, run.answered)
    cpu_us = {
        role: (after.get(role, 0.0) - before.get(role, 0.0)) / answered * 1e6
        for role in after.keys() | before.keys()
    }
    wrk_seconds = (ended.ru_utime + ended.ru_stime) - (children.ru_utime + children.ru_stime)
    cpu_us["load generator (wrk)"] = wrk_seconds / answered * 1e6
    return {
        "requests": run.answered,
        "errors": run.errors,
        "wall_us": run.seconds / answered * 1e6,
        "p50_ms": run.p50_ms,
        "cpu_us": cpu_us,
    }


def breakdown(build_dir: Path, requests: list[tuple[str, str]], n: int, work: Path) -> dict:
    """Where a cold lookup's time goes inside a web process: bench.cold_lookup_profile, run in
    a process of its own (its query broker and workers end with it)."""
    listing = work / "profile-requests.txt"
    listing.write_text(lines(requests))
    env = {key: value for key, value in os.environ.items() if not key.startswith("TREATYGRAPH_")}
    env["TREATYGRAPH_BUILD_DIR"] = str(build_dir)
    done = subprocess.run(
        [sys.executable, "-m", "bench.cold_lookup_profile", str(listing), str(n)],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        timeout=600,
    )
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


class Workload:
    """The requests of one build, for a server whose endpoint is at `path`."""

    def __init__(self, base: str, rotation: list[str], warm: list[str]):
        self.base = base
        self.rotation = rotation
        self.pages = page_requests(base, rotation)
        self.warm_pages = page_requests(base, warm)

    def sparql(self, shape: str, path: str) -> list[tuple[str, str]]:
        return sparql_requests(shape, self.rotation, path)


def serve_build(built: Built, args, work: Path) -> dict:
    """Every load run, answer check, memory peak and profile of one build."""
    base, found = entities(built.build_dir, args.seed)
    warm = found[-WARM_UP_ENTITIES:] if len(found) > 2 * WARM_UP_ENTITIES else []
    load = Workload(base, found[: len(found) - len(warm)], warm)
    result: dict = {
        "built": built,
        "entities": len(found),
        "rotation": len(load.rotation),
        "runs": {},
        "memory": {},
        "answers": {},
        "disagree": [],
        "profile": {},
        "ready_s": {},
    }
    name = built.name
    release = (built.build_dir / "current").resolve()
    log(f"{name}: {len(found):,} entities; raw oxigraph")
    with oxigraph_server(release / "store", work / "oxigraph.log") as server:
        if not server.wait_ready(args.start_timeout):
            raise SystemExit(f"{name}: oxigraph serve-read-only did not start; see {work}")
        settle(server)
        result["ready_s"]["oxigraph"] = server.ready_seconds
        result["answers"]["oxigraph"] = check_answers(server.url, "/query", load.rotation)
        log(f"{name}: oxigraph, CPU per cold lookup")
        result["profile"]["oxigraph"] = cpu_per_request(
            server, load.sparql("cold lookup", "/query"), args.profile_requests, args.seconds
        )
        for connections in args.connections:
            for shape in SPARQL_SHAPES:
                log(f"{name}: oxigraph, {shape}, {connections} connections")
                result["runs"][(shape, connections, "oxigraph")] = run_wrk(
                    server.url, load.sparql(shape, "/query"), connections, args.seconds
                )
        result["memory"]["oxigraph"] = server.peak_memory
    for http_server in args.http_servers:
        label = f"treatygraph {http_server}"
        memory = PeakMemory()
        result["memory"][label] = memory
        for connections in args.connections:
            log(f"{name}: {label}, started afresh for {connections} connections")
            with treatygraph_server(
                built.build_dir, work / f"{http_server}.log", http_server, LOAD_GENERATOR_SETTINGS
            ) as server:
                if not server.wait_ready(args.start_timeout):
                    raise SystemExit(f"{name}: {label} did not start; see {work}")
                settle(server)
                result["ready_s"][label] = server.ready_seconds
                warm_up(server.url, load.warm_pages)
                answers = check_answers(server.url, "/sparql", load.rotation)
                result["answers"][label] = answers
                if answers != result["answers"]["oxigraph"]:
                    log(f"{name}: {label} answers differ from raw Oxigraph's: not loaded")
                    result["disagree"].append(label)
                    break
                if connections == args.connections[0]:
                    log(f"{name}: {label}, CPU per cold lookup")
                    result["profile"][label] = cpu_per_request(
                        server,
                        load.sparql("cold lookup", "/sparql"),
                        args.profile_requests,
                        args.seconds,
                    )
                result["runs"].update(load_ours(server, label, connections, load, args, name))
            memory.merge(server.peak_memory)
    log(
        f"{name}: treatygraph {DEFAULT_HTTP_SERVER} with the public defaults, {PUBLIC_CONNECTIONS} connections"
    )
    with treatygraph_server(
        built.build_dir, work / "defaults.log", DEFAULT_HTTP_SERVER, {}
    ) as server:
        if not server.wait_ready(args.start_timeout):
            raise SystemExit(f"{name}: treatygraph with the public defaults did not start")
        settle(server)
        warm_up(server.url, load.warm_pages)
        result["public"] = run_wrk(
            server.url,
            load.sparql("cold lookup", "/sparql"),
            PUBLIC_CONNECTIONS,
            args.seconds,
            count_statuses=True,
        )
    log(f"{name}: where a cold lookup's time goes in the web process")
    result["breakdown"] = breakdown(
        built.build_dir, load.sparql("cold lookup", "/sparql"), args.profile_requests, work
    )
    return result


def load_ours(server: Server, label: str, connections: int, load: Workload, args, name) -> dict:
    """The load runs of one of our servers, started afresh: the first visits come first."""
    runs = {}
    log(f"{name}: {label}, entity pages, first visits, {connections} connections")
    first = run_wrk(
        server.url, load.pages, connections, args.seconds, once=True, idle_path=server.ready_path
    )
    runs[(PAGE_SHAPES[0], connections, label)] = first
    log(f"{name}: {label}, entity pages, revisits, {connections} connections")
    visited = load.pages[: max(1, first.answered)]
    runs[(PAGE_SHAPES[1], connections, label)] = run_wrk(
        server.url, visited, connections, args.seconds
    )
    log(f"{name}: {label}, {FLOOR_SHAPE}, {connections} connections")
    runs[(FLOOR_SHAPE, connections, label)] = run_wrk(
        server.url, [(FLOOR_PATH, "text/css")], connections, args.seconds
    )
    for shape in SPARQL_SHAPES:
        log(f"{name}: {label}, {shape}, {connections} connections")
        runs[(shape, connections, label)] = run_wrk(
            server.url, load.sparql(shape, "/sparql"), connections, args.seconds
        )
    return runs


# -- the report ------------------------------------------------------------------------------------


def public_defaults() -> str:
    config = Config()
    return (
        f"{config.query_workers} query workers, {config.client_workers} per client, "
        f"{config.max_concurrent_queries_per_client} queries in flight per client, "
        f"{config.client_query_seconds:g} s of query time per {config.client_query_window:g} s"
    )


def cell(run: LoadRun | None) -> str:
    if run is None:
        return "n/a"
    return f"{run.rps:,.0f} ({run.p99_ms:,.0f} ms)"


def report(results: dict, info: dict, args, started: str, finished: str) -> str:
    servers = ["oxigraph", *(f"treatygraph {h}" for h in args.http_servers)]
    lines_out = [
        f"# treatygraph serving benchmark, {started[:10]} on {info['host']}",
        "",
        f"`python -m bench.serving --builds {','.join(args.builds)} --http-servers "
        f"{','.join(args.http_servers)} --connections "
        f"{','.join(map(str, args.connections))} --seconds {args.seconds:g}` (wrk on 127.0.0.1, "
        f"at most 2 threads, {args.seconds:g} s per run). Started {started}, finished {finished}.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {key} | {value} |" for key, value in info.items()),
        f"| load average at start / end | {results['load_start']} / {results['load_end']} |",
        "",
        "The machine is shared and has 2 cores: wrk, the server under test and anything else",
        "running compete for them, so absolute numbers move from run to run; the ratios compare",
        "servers measured one after the other in this run. The `load` column is the one-minute",
        "load average as each run started.",
        "",
        "**Per-client limits.** One wrk process is one client address to our endpoint. The load",
        f"runs ran `treatygraph serve` with {settings_text(LOAD_GENERATOR_SETTINGS)}: the load",
        "generator gets 3 query workers, as a crowd of clients gets the default pool of 3 (the",
        "fourth stays idle: no client may hold every worker), 64 queries in flight and a budget it",
        f"cannot reach. The public defaults ({public_defaults()}) give one address what the",
        f"`public defaults` table shows. Other settings are the defaults; web processes: "
        f"{os.cpu_count()} (the core count).",
        "",
        "**Cold and cached.** Cold lookups, aggregation and DESCRIBE send a query text no other",
        "request of the run sends (an entity after another, over every entity of the build, and a",
        "`FILTER(n > 0)` with a number of its own), so no answer cache serves them. The repeated",
        "lookup asks one text over and over. Entity pages: first visits walk every entity once on",
        "a server started afresh (at most one run's length); revisits walk the pages just visited.",
        "",
        "## Builds",
        "",
        "| build | triples | entities | build time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, result in results["builds"].items():
        built = result["built"]
        took = f"{built.seconds:.1f} s" if built.seconds is not None else "n/a"
        if built.reused:
            took += " (earlier run, `--reuse`)"
        lines_out.append(f"| {name} | {built.triples:,} | {result['entities']:,} | {took} |")
    lines_out += answers_section(results, servers)
    lines_out += serving_section(results, args, servers)
    lines_out += http_servers_section(results, args)
    lines_out += memory_section(results, servers)
    lines_out += public_section(results)
    lines_out += targets_section(results, args)
    lines_out += profile_section(results, servers, args)
    return "\n".join(lines_out) + "\n"


def answers_section(results: dict, servers: list[str]) -> list[str]:
    out = [
        "",
        f"## Answers: rows (DESCRIBE: triples) of the first {ANSWERS_CHECKED} requests of each "
        "shape",
        "",
        "| build | shape | " + " | ".join(servers) + " | same |",
        "| --- | --- | " + " | ".join("---" for _ in servers) + " | --- |",
    ]
    for name, result in results["builds"].items():
        answers = result["answers"]
        for shape in SPARQL_SHAPES:
            given = [answers.get(server, {}).get(shape) for server in servers]
            known = [g for g in given if g is not None]
            same = "yes" if known and all(g == known[0] for g in known) else "**no**"
            text = [", ".join(map(str, g)) if g is not None else "n/a" for g in given]
            out.append(f"| {name} | {shape} | {' | '.join(text)} | {same} |")
    disagree = [(n, s) for n, r in results["builds"].items() for s in r["disagree"]]
    if disagree:
        out += ["", "**Not loaded, answers differ from raw Oxigraph's:** " + str(disagree)]
    return out


def serving_section(results: dict, args, servers: list[str]) -> list[str]:
    out = [
        "",
        "## Serving: req/s, latency and errors, against raw Oxigraph in this run",
        "",
        "| build | shape | connections | server | req/s | p50 | p99 | errors | vs oxigraph | load |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    notes = []
    for name, result in results["builds"].items():
        runs = result["runs"]
        for shape in (*SPARQL_SHAPES, *OUR_SHAPES):
            for connections in args.connections:
                reference = runs.get((shape, connections, "oxigraph"))
                for server in servers:
                    run = runs.get((shape, connections, server))
                    if run is None:
                        continue
                    versus = ratio(run.rps, reference.rps) if reference else "n/a"
                    out.append(
                        f"| {name} | {shape} | {connections} | {server} | {run.rps:,.0f} "
                        f"| {run.p50_ms:,.1f} ms | {run.p99_ms:,.1f} ms | {run.errors:,} "
                        f"| {versus} | {run.load_average:.1f} |"
                    )
        for (shape, connections, server), run in runs.items():
            rotation = result["rotation"]
            if shape == PAGE_SHAPES[0] and run.answered + run.errors + connections < rotation:
                notes.append(
                    f"{name}, {server}, {connections} connections: the first visits reached "
                    f"{run.answered + run.errors:,} of {rotation:,} pages in {run.seconds:.1f} s."
                )
    if notes:
        out += ["", *notes]
    return out


def http_servers_section(results: dict, args) -> list[str]:
    out = [
        "",
        "## HTTP servers side by side: req/s (p99), `treatygraph serve --http-server ...`",
        "",
        "| build | shape | connections | " + " | ".join(args.http_servers) + " | oxigraph |",
        "| --- | --- | ---: | " + " | ".join("---:" for _ in args.http_servers) + " | ---: |",
    ]
    for name, result in results["builds"].items():
        runs = result["runs"]
        for shape in (*SPARQL_SHAPES, *OUR_SHAPES):
            for connections in args.connections:
                cells = [
                    cell(runs.get((shape, connections, f"treatygraph {h}")))
                    for h in args.http_servers
                ]
                raw = cell(runs.get((shape, connections, "oxigraph")))
                out.append(f"| {name} | {shape} | {connections} | {' | '.join(cells)} | {raw} |")
        peaks = [result["memory"].get(f"treatygraph {h}") for h in args.http_servers]
        raw_peak = result["memory"].get("oxigraph")
        out.append(
            f"| {name} | peak RSS, all processes | | "
            + " | ".join(f"{p.total_mib:,.0f} MiB" if p else "n/a" for p in peaks)
            + f" | {raw_peak.total_mib:,.0f} MiB |"
        )
    return out


def memory_section(results: dict, servers: list[str]) -> list[str]:
    out = [
        "",
        "## Peak RSS of all processes of each server (summed by ancestry, sampled every 0.25 s)",
        "",
        "| build | server | peak RSS, and its split at that moment | ready after |",
        "| --- | --- | --- | ---: |",
    ]
    for name, result in results["builds"].items():
        for server in servers:
            peak = result["memory"].get(server)
            ready = result["ready_s"].get(server)
            if peak is not None:
                out.append(
                    f"| {name} | {server} | {peak.describe()} "
                    f"| {f'{ready:.1f} s' if ready else 'n/a'} |"
                )
    return out


def public_section(results: dict) -> list[str]:
    out = [
        "",
        f"## One address with the public defaults ({public_defaults()})",
        "",
        f"`treatygraph serve` ({DEFAULT_HTTP_SERVER}) with no setting changed, cold lookups from wrk's "
        f"{PUBLIC_CONNECTIONS} connections, all from 127.0.0.1:",
        "",
        "| build | answers | 200 | 429 | other | share refused | answered req/s | p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in results["builds"].items():
        run = result.get("public")
        if run is None:
            continue
        statuses = run.statuses or {}
        total = sum(statuses.values())
        ok = statuses.get(200, 0)
        other = total - ok - run.refused
        share = f"{run.refused / total:.0%}" if total else "n/a"
        out.append(
            f"| {name} | {total:,} | {ok:,} | {run.refused:,} | {other:,} | {share} "
            f"| {run.rps:,.0f} | {run.p50_ms:,.1f} ms | {run.p99_ms:,.1f} ms |"
        )
    out += ["", "p50 and p99 count the 429s, which are answered at once."]
    return out


def _ratios(result: dict, shape: str, server: str, connections: list[int]) -> list[tuple]:
    runs = result["runs"]
    found = []
    for n in connections:
        ours, raw = runs.get((shape, n, server)), runs.get((shape, n, "oxigraph"))
        if ours and raw and raw.rps:
            found.append((n, ours.rps / raw.rps))
    return found


def targets_section(results: dict, args) -> list[str]:
    server = f"treatygraph {DEFAULT_HTTP_SERVER}"
    out = [
        "",
        f"## Targets of issue 12 (`treatygraph serve` as it runs by default: {DEFAULT_HTTP_SERVER})",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
    ]
    real = results["builds"].get(TARGETS_BUILD)
    for shape, floor in (("cold lookup", 0.4), ("repeated lookup", 0.8), ("aggregation", 0.8)):
        target = f"{shape}s on the real build, at least {floor}x raw Oxigraph"
        found = _ratios(real, shape, server, args.connections) if real else []
        if not found:
            out.append(f"| {target} | not measured in this run | |")
            continue
        text = ", ".join(f"{r:.2f}x ({n} connections)" for n, r in found)
        out.append(f"| {target} | {text} | {met(all(r >= floor for _, r in found))} |")
    ceiling = [
        (n, floor_run.rps, raw.rps)
        for n in args.connections
        if real
        and (floor_run := real["runs"].get((FLOOR_SHAPE, n, server)))
        and (raw := real["runs"].get(("repeated lookup", n, "oxigraph")))
    ]
    if ceiling:
        text = ", ".join(
            f"{ours:,.0f} req/s = {ours / raw:.2f}x ({n} connections)" for n, ours, raw in ceiling
        )
        out.append(
            f"| what limits the ratios above: the app's floor ({FLOOR_PATH}, no store, no "
            f"worker) against raw Oxigraph's repeated lookup | {text} | |"
        )
    for name, result in results["builds"].items():
        firsts = [
            (n, result["runs"][(PAGE_SHAPES[0], n, server)])
            for n in args.connections
            if (PAGE_SHAPES[0], n, server) in result["runs"]
        ]
        if firsts:
            text = ", ".join(f"{run.rps:,.0f} pages/s ({n} connections)" for n, run in firsts)
            verdict = met(all(run.rps >= 1500 for _, run in firsts))
            out.append(
                f"| entity pages, first visits over every entity, at least 1,500 pages/s "
                f"({name}) | {text} | {verdict} |"
            )
    ten = results["builds"].get("10M")
    page = ten and ten["runs"].get((PAGE_SHAPES[0], 8, server))
    if page:
        out.append(
            f"| 10M entity page p50 under 20 ms with 8 clients | {page.p50_ms:.1f} ms "
            f"(first visits) | {met(page.p50_ms < 20)} |"
        )
    else:
        out.append(
            "| 10M entity page p50 under 20 ms with 8 clients | not measured in this run "
            "(`--builds 10M --allow-10m --connections 8`) | |"
        )
    return out


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def profile_section(results: dict, servers: list[str], args) -> list[str]:
    roles = ["web", "broker", "query worker", "oxigraph", "load generator (wrk)"]
    out = [
        "",
        "## Where the time of a cold lookup goes",
        "",
        f"CPU per request of each kind of process, from /proc (user + system, in clock ticks) "
        f"over {args.profile_requests:,} cold lookups sent one after the other on one connection "
        "(on each server once it had started, before its load runs; our server's web processes, "
        "query broker and query workers together):",
        "",
        "| build | server | wall per request | p50 | " + " | ".join(roles) + " | all |",
        "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in roles) + " | ---: |",
    ]
    for name, result in results["builds"].items():
        for server in servers:
            profile = result["profile"].get(server)
            if profile is None:
                continue
            cpu = profile["cpu_us"]
            cells = [f"{cpu[r]:,.0f} µs" if cpu.get(r) else "" for r in roles]
            out.append(
                f"| {name} | {server} | {profile['wall_us']:,.0f} µs | {profile['p50_ms']:.2f} ms "
                f"| {' | '.join(cells)} | {sum(cpu.values()):,.0f} µs |"
            )
    out += [
        "",
        "Inside one web process (the app called as WSGI in a process of its own, its queries",
        "through a query broker and its workers as under `treatygraph serve`, no HTTP server):",
        "wall time per request of each stage, the mean over the same kind of cold lookups",
        "(bench/cold_lookup_profile.py). Sending the job and waiting for the answer are one",
        "exchange: the kernel may run the worker while the web process is still in send(), so",
        "read those two rows together. Oxigraph evaluates a query while it writes the answer, so",
        "evaluation and serialization are one figure.",
    ]
    for name, result in results["builds"].items():
        found = result.get("breakdown") or {}
        if "error" in found:
            out += ["", f"{name}: the profile failed:", "", "```", found["error"], "```"]
            continue
        if not found:
            continue
        total = found["total_us"]
        out += [
            "",
            f"{name}: {found['requests']:,} requests, {total:,.0f} µs each "
            f"(web thread CPU {found['cpu_us']:,.0f} µs).",
            "",
            "| stage | µs per request | share |",
            "| --- | ---: | ---: |",
        ]
        for stage, micros in found["stages"]:
            out.append(f"| {stage} | {micros:,.1f} | {micros / total:.0%} |")
        out += [
            "",
            "| inside the query worker's answer (measured apart, same jobs) | µs per request |",
            "| --- | ---: |",
        ]
        for stage, micros in found["worker"]:
            out.append(f"| {stage} | {micros:,.1f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--builds", default="real,1M", help="comma-separated: real, 100k, 1M, 10M")
    parser.add_argument("--allow-10m", action="store_true", help="a 10M build is slow; ask for it")
    parser.add_argument("--connections", default="4,16", help="comma-separated wrk connections")
    parser.add_argument("--http-servers", default=",".join(HTTP_SERVERS))
    parser.add_argument("--seconds", type=float, default=10, help="length of each load run")
    parser.add_argument("--profile-requests", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-timeout", type=float, default=900)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --work: serve a synthetic size built there by an earlier run of this bench or "
        "of `python -m bench` instead of building it again",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.builds = [b.strip() for b in args.builds.split(",") if b.strip()]
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.http_servers = [h.strip() for h in args.http_servers.split(",") if h.strip()]
    unknown = [b for b in args.builds if b != "real" and b not in SIZES]
    if unknown:
        parser.error(f"--builds: unknown {unknown}; choose from real, {', '.join(SIZES)}")
    if "10M" in args.builds and not args.allow_10m:
        parser.error("a 10M build takes about 20 minutes here; add --allow-10m")
    if [h for h in args.http_servers if h not in HTTP_SERVERS]:
        parser.error(f"--http-servers: choose from {', '.join(HTTP_SERVERS)}")
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work, the folder of the earlier run")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load runs: apt-get install wrk")
    info = machine()
    for package in ("gevent", "granian"):
        info[package] = importlib.metadata.version(package)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    results: dict = {"load_start": load_average(), "builds": {}}
    base = (
        args.work.resolve()
        if args.work
        else Path(tempfile.mkdtemp(prefix="treatygraph-bench-serving-"))
    )
    try:
        for name in args.builds:
            if name == "real":
                log("real: treatygraph build")
                built = real_build(base)
            else:
                built = synthetic_build(name, base, args.seed, args.reuse)
            work = base / name / "serving"
            work.mkdir(parents=True, exist_ok=True)
            results["builds"][name] = serve_build(built, args, work)
    finally:
        if args.work is None:
            shutil.rmtree(base, ignore_errors=True)
    results["load_end"] = load_average()
    finished = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    text = report(results, info, args, started, finished)
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"{started[:10]}-{info['host']}-serving.md"
    out.write_text(text, encoding="utf-8")
    log(f"written to {out}")
    if any(result["disagree"] for result in results["builds"].values()):
        raise SystemExit("some servers' answers differ from raw Oxigraph's (see the results)")


if __name__ == "__main__":
    main()
