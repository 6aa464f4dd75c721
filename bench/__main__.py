"""`python -m bench`: build and serve synthetic data at several sizes and print one table.

For each size: generate the data (deterministic from the seed), build it through the build's
stages (bench/bulk_build.py, in a child process so its peak memory is its own), then serve the
same store three ways and load each with wrk on 127.0.0.1 for a bounded time:

  treatygraph      `treatygraph serve` as users run it, with limits that let one load generator
                   through and no kept answers or pages (the mix comes round again and again)
  oxigraph         raw `oxigraph serve-read-only` on the same store (union default graph)
  rdflib-endpoint  the closest Python peer, on the same data (N-Quads dump), bounded in time

Ratios are taken between servers measured in this same run, on this same machine, one after the
other. Results go to bench/results/YYYY-MM-DD-<host>.md with the machine's description.

    python -m bench                       # 100k and 1M triples
    python -m bench --sizes 100k          # one size
    python -m bench --sizes 100k,1M,10M --allow-10m   # 10M: about an hour on 2 cores
    python -m bench --sizes 10M --allow-10m --work DIR --reuse   # serve DIR's 10M build again
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .generate import generate
from .queries import SHAPES, entity_pages, mix
from .servers import (
    oxigraph_server,
    rdflib_endpoint_server,
    sequential_p50_ms,
    treatygraph_server,
    wrk,
)

RESULTS = Path(__file__).parent / "results"
SIZES = {"100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
STAGES = ("load", "quote check", "SHACL validation", "Wikidata view", "dumps")


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    oxigraph_cli = subprocess.run(
        [str(Path(sys.executable).with_name("oxigraph")), "--version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "host": socket.gethostname(),
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": f"{mem_kib / (1 << 20):.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "pyoxigraph": importlib.metadata.version("pyoxigraph"),
        "oxigraph server": oxigraph_cli or "unknown",
        "rdflib": importlib.metadata.version("rdflib"),
        "rdflib-endpoint": importlib.metadata.version("rdflib-endpoint"),
        "pyshacl": importlib.metadata.version("pyshacl"),
        "gunicorn": importlib.metadata.version("gunicorn"),
        "wrk": (wrk_version.stdout or wrk_version.stderr).split("\n")[0].strip(),
        "treatygraph commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
        or "unknown",
    }


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def bulk_build(work: Path, nquads: Path, sources: Path, reference: bool, skip: list[str]) -> dict:
    argv = [
        sys.executable,
        "-m",
        "bench.bulk_build",
        str(work / "build"),
        str(nquads),
        str(sources),
    ]
    if reference:
        argv.append("--reference")
    argv += [f"--skip={stage}" for stage in skip]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise SystemExit(f"bulk build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def download_rate(url: str, seconds: float) -> dict:
    """Download a dump repeatedly for about `seconds`, one client; MiB/s."""
    total, started, count = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds or count == 0:
        with urllib.request.urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                total += len(chunk)
        count += 1
    elapsed = time.perf_counter() - started
    return {"mib_per_s": total / elapsed / (1 << 20), "downloads": count, "bytes": total // count}


def serve_and_load(size: str, work: Path, counts: dict, args) -> dict:
    build_dir = work / "build"
    release = (build_dir / "current").resolve()
    store = release / "store"
    endpoint = {}
    servers = {}
    shapes: dict = {}
    answers: dict = {}
    extras: dict = {}
    runs = [("treatygraph", "/sparql"), ("oxigraph", "/query")]
    if not args.no_rdflib:
        runs.append(("rdflib-endpoint", "/"))
    for name, path in runs:
        if name == "treatygraph":
            server = treatygraph_server(build_dir, work / "treatygraph.log")
        elif name == "oxigraph":
            server = oxigraph_server(store, work / "oxigraph.log")
        else:
            nquads = work / "dataset.nq"
            with (
                gzip.open(release / "dumps" / "treatygraph.nq.gz") as src,
                nquads.open("wb") as out,
            ):
                shutil.copyfileobj(src, out)
            server = rdflib_endpoint_server(nquads, work / "rdflib-endpoint.log")
        with server:
            log(f"{size}: starting {name}")
            if not server.wait_ready(args.start_timeout):
                log(f"{size}: {name} did not start within {args.start_timeout} s")
                servers[name] = {"ready_s": None, "peak_rss_mib": server.peak_rss_mib}
                continue
            seconds = args.rdflib_seconds if name == "rdflib-endpoint" else args.seconds
            log(f"{size}: {name}, the answers to the first queries of each shape")
            answers[name] = answer_sizes(server.url, path, counts)
            log(f"{size}: {name}, each query shape alone, one client")
            shapes[name] = shape_latencies(server.url, path, counts)
            for clients in (8, 32):
                log(f"{size}: {name}, query mix, {clients} clients, {seconds} s")
                endpoint[(name, clients)] = wrk(
                    server.url, mix(counts, path), clients, seconds, work
                )
            if name != "rdflib-endpoint":
                log(f"{size}: {name}, entity lookups only, 8 clients")
                lookups = mix(counts, path, shapes=("entity lookup",))
                extras[(name, "entity lookup")] = wrk(server.url, lookups, 8, args.seconds, work)
            if name == "treatygraph":
                extras.update(ours_extras(server, counts, work, args))
            servers[name] = {"ready_s": server.ready_seconds, "peak_rss_mib": server.peak_rss_mib}
    return {
        "endpoint": endpoint,
        "servers": servers,
        "extras": extras,
        "shapes": shapes,
        "answers": answers,
    }


ANSWERS_PER_SHAPE = 3


def answer_sizes(url: str, path: str, counts: dict) -> dict[str, list]:
    """Rows (or triples) of the first queries of each shape, or the error: the servers compared
    must give the same answers, or the load runs compare different work."""
    sizes: dict[str, list] = {}
    for shape in SHAPES:
        for request_path, accept in mix(counts, path, n=ANSWERS_PER_SHAPE, seed=5, shapes=(shape,)):
            sizes.setdefault(shape, []).append(answer_size(url + request_path, accept))
    return sizes


def answer_size(url: str, accept: str) -> int | str:
    """Rows of a SPARQL results answer or triples of an RDF one; the error as text if it failed."""
    import rdflib

    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            media_type = response.headers.get_content_type()
    except OSError as err:
        return f"error: {err}"[:60]
    try:
        if media_type == "application/sparql-results+json":
            return len(json.loads(body)["results"]["bindings"])
        if b"<rdf:RDF" in body[:1000]:
            # rdflib-endpoint answers DESCRIBE in RDF/XML whatever the Accept says, and labels it
            # application/sparql-results+xml
            return len(rdflib.Graph().parse(data=body, format="xml"))
        return len(rdflib.Graph().parse(data=body, format="turtle"))
    except Exception as err:  # a 200 that is not an answer
        return f"unreadable {media_type}: {err}"[:60]


def shape_latencies(url: str, path: str, counts: dict, rounds: int = 5) -> dict[str, float]:
    """Median latency of each query shape, asked `rounds` times in a row by one client (ms)."""
    medians = {}
    for shape in SHAPES:
        samples = []
        for request_path, accept in mix(counts, path, n=rounds, seed=17, shapes=(shape,)):
            request = urllib.request.Request(url + request_path, headers={"Accept": accept})
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                samples.append((time.perf_counter() - began) * 1000)
            except OSError:
                samples.append(float("inf"))
        medians[shape] = statistics.median(samples)
    return medians


def ours_extras(server, counts: dict, work: Path, args) -> dict:
    extras = {}
    probe = entity_pages(counts, n=1)[0][0]
    try:
        with urllib.request.urlopen(server.url + probe, timeout=30) as response:
            has_pages = response.status == 200
    except OSError:
        has_pages = False
    if has_pages:
        pages = entity_pages(counts)
        log("entity pages, one client, first visits and again")
        extras[("treatygraph", "entity page p50, one client")] = (
            sequential_p50_ms(server.url, pages, n=200),
            sequential_p50_ms(server.url, pages, n=200),
        )
        log("entity pages, 8 clients")
        extras[("treatygraph", "entity pages")] = wrk(
            server.url, entity_pages(counts), 8, args.seconds, work
        )
    else:
        extras[("treatygraph", "entity pages")] = None
    if not (work / "build" / "current" / "dumps" / "treatygraph.nt.gz").is_file():
        return extras  # built with --skip dumps
    log("dump download")
    extras[("treatygraph", "dump download")] = download_rate(
        server.url + "/dumps/treatygraph.nt.gz", min(args.seconds, 10)
    )
    return extras


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def ratio(a, b) -> str:
    if not a or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def report(results: dict, info: dict, args, started: str, finished: str) -> str:
    lines = [
        f"# treatygraph benchmark, {started[:10]} on {info['host']}",
        "",
        f"`python -m bench --sizes {args.sizes}` (seed {args.seed}; {args.seconds} s per load run, "
        f"{args.rdflib_seconds} s for rdflib-endpoint; wrk on 127.0.0.1, 2 threads). "
        f"Started {started}, finished {finished}.",
        "",
        "| machine | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info.items()),
        f"| load average at start / end | {results['load_start']} / {results['load_end']} |",
        "",
        "The machine is shared and has 2 cores: the load generator, the server under test and any",
        "other work on the machine compete for them, so absolute numbers move from run to run; the",
        "ratios compare servers measured one after the other in this same run.",
        "",
        "## Build (bench/bulk_build.py: the build's stages on curated + synthetic data)",
        "",
        "| size | triples | " + " | ".join(STAGES) + " | total | peak RSS |",
        "| --- | ---: | " + " | ".join("---:" for _ in STAGES) + " | ---: | ---: |",
    ]
    for size, result in results["sizes"].items():
        build = result["build"]
        stages = build["stages"]
        peak = max(s["peak_mib"] for s in stages.values())
        cells = " | ".join(
            f"{stages[s]['seconds']:.1f} s" if s in stages else "skipped" for s in STAGES
        )
        lines.append(
            f"| {size} | {build['triples']:,} | {cells} | {build['total_seconds']:.1f} s "
            f"| {peak:,.0f} MiB |"
        )
    reused = [size for size, result in results["sizes"].items() if result.get("reused")]
    if reused:
        lines += [
            "",
            f"Built by an earlier run and served again here (`--reuse`): {', '.join(reused)}; "
            "those build times are the earlier run's.",
        ]
    references = [
        (size, r["build"]["reference"])
        for size, r in results["sizes"].items()
        if r["build"].get("reference")
    ]
    if references:
        lines += [
            "",
            "Reference, same data, same run: the curated build's own tools on an in-memory rdflib graph.",
            "",
            "| size | rdflib load | pyshacl | compiled SHACL on Oxigraph | pyshacl / compiled | "
            "Wikidata view (rdflib builder) | view (SPARQL update) | builder / update |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for size, ref in references:
            stages = results["sizes"][size]["build"]["stages"]
            lines.append(
                f"| {size} | {ref['rdflib_load_s']:.1f} s | {ref['pyshacl_s']:.1f} s "
                f"| {stages['SHACL validation']['seconds']:.1f} s "
                f"| {ratio(ref['pyshacl_s'], stages['SHACL validation']['seconds'])} "
                f"| {ref['view_s']:.1f} s | {stages['Wikidata view']['seconds']:.1f} s "
                f"| {ratio(ref['view_s'], stages['Wikidata view']['seconds'])} |"
            )
    lines += [
        "",
        "## Endpoint: query mix (" + ", ".join(SHAPES) + ")",
        "",
        "| size | server | clients | req/s | p50 | p99 | errors | vs oxigraph | vs rdflib-endpoint |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for size, result in results["sizes"].items():
        endpoint = result["endpoint"]
        for (name, clients), run in sorted(endpoint.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            ox_run = endpoint.get(("oxigraph", clients))
            rd_run = endpoint.get(("rdflib-endpoint", clients))
            lines.append(
                f"| {size} | {name} | {clients} | {run['rps']:.1f} | {run['p50_ms']:.1f} ms "
                f"| {run['p99_ms']:.1f} ms | {run['errors']} "
                f"| {ratio(run['rps'], ox_run and ox_run['rps'])} "
                f"| {ratio(run['rps'], rd_run and rd_run['rps']) if rd_run and rd_run['ok'] else 'n/a'} |"
            )
    lines += [
        "",
        f"## Answers: rows (DESCRIBE: triples) of the first {ANSWERS_PER_SHAPE} queries of each "
        "shape, per server",
        "",
        "| size | shape | treatygraph | oxigraph | rdflib-endpoint | same |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for size, result in results["sizes"].items():
        answers = result.get("answers", {})
        for shape in SHAPES:
            cells = [
                answers.get(n, {}).get(shape)
                for n in ("treatygraph", "oxigraph", "rdflib-endpoint")
            ]
            given = [c for c in cells if c is not None]
            same = "yes" if given and all(c == given[0] for c in given) else "**no**"
            text = [", ".join(map(str, c)) if c is not None else "n/a" for c in cells]
            lines.append(f"| {size} | {shape} | {' | '.join(text)} | {same} |")
    lines += [
        "",
        "## Each query shape alone: median of 5 requests in a row, one client",
        "",
        "| size | shape | treatygraph | oxigraph | rdflib-endpoint | treatygraph / oxigraph |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for size, result in results["sizes"].items():
        shapes = result.get("shapes", {})
        for shape in SHAPES:
            cells = [
                shapes.get(n, {}).get(shape) for n in ("treatygraph", "oxigraph", "rdflib-endpoint")
            ]
            text = [f"{c:,.1f} ms" if c is not None and c != float("inf") else "n/a" for c in cells]
            slower = ratio(cells[0], cells[1]) if cells[0] and cells[1] else "n/a"
            lines.append(f"| {size} | {shape} | {' | '.join(text)} | {slower} |")
    lines += [
        "",
        "## Entity lookups, entity pages, dumps, memory",
        "",
        "| size | measure | treatygraph | oxigraph | ratio |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for size, result in results["sizes"].items():
        extras = result["extras"]
        ours = extras.get(("treatygraph", "entity lookup"))
        raw = extras.get(("oxigraph", "entity lookup"))
        if ours and raw:
            lines.append(
                f"| {size} | entity lookup (SPARQL, 8 clients) req/s | {ours['rps']:.1f} "
                f"| {raw['rps']:.1f} | {ratio(ours['rps'], raw['rps'])} |"
            )
            lines.append(
                f"| {size} | entity lookup p50 / p99 | {ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} ms "
                f"| {raw['p50_ms']:.1f} / {raw['p99_ms']:.1f} ms | |"
            )
        pages = extras.get(("treatygraph", "entity pages"))
        if pages:
            lines.append(
                f"| {size} | entity pages (HTML, 8 clients) pages/s, p50 / p99 | {pages['rps']:.1f}, "
                f"{pages['p50_ms']:.1f} / {pages['p99_ms']:.1f} ms | | |"
            )
        else:
            lines.append(f"| {size} | entity pages | not available in this build | | |")
        alone = extras.get(("treatygraph", "entity page p50, one client"))
        if alone:
            lines.append(
                f"| {size} | entity page (HTML, 1 client) p50, first visits / again | "
                f"{alone[0]:.1f} / {alone[1]:.1f} ms | | |"
            )
        dump = extras.get(("treatygraph", "dump download"))
        if dump:
            lines.append(
                f"| {size} | dump download, treatygraph.nt.gz ({dump['bytes'] / (1 << 20):.1f} MiB), "
                f"1 client | {dump['mib_per_s']:.0f} MiB/s | | |"
            )
        for name, server in result["servers"].items():
            lines.append(
                f"| {size} | {name}: ready after / peak RSS under load | "
                f"{fmt(server['ready_s'])} s / {server['peak_rss_mib']:,.0f} MiB | | |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100k,1M", help="comma-separated: 100k, 1M, 10M")
    parser.add_argument("--allow-10m", action="store_true", help="10M is slow; ask for it")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15, help="length of each load run")
    parser.add_argument("--rdflib-seconds", type=float, default=30)
    parser.add_argument("--start-timeout", type=float, default=900)
    parser.add_argument("--no-rdflib", action="store_true")
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["SHACL validation", "dumps"],
        help="build stage to leave out (to measure serving a size alone); repeatable",
    )
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --work: serve a size built there by an earlier run (its build times are that "
        "run's) instead of building it again",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.reuse and args.work is None:
        parser.error("--reuse needs --work, the folder of the earlier run")
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {unknown}; choose from {', '.join(SIZES)}")
    if "10M" in sizes and not args.allow_10m:
        parser.error("--sizes 10M takes about an hour here; add --allow-10m")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load runs: apt-get install wrk")
    info = machine()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    results: dict = {"load_start": load_average(), "sizes": {}}
    base = args.work or Path(tempfile.mkdtemp(prefix="treatygraph-bench-"))
    try:
        for size in sizes:
            work = base / size
            built = work / "bulk-build.json"
            reuse = args.reuse and built.is_file() and (work / "build" / "current").exists()
            if not reuse:
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
            log(f"{size}: generating")
            generated = generate(SIZES[size], work / "data", seed=args.seed)
            if reuse:
                log(f"{size}: serving the build already in {work}")
                build = json.loads(built.read_text())
            else:
                log(f"{size}: building {generated.quads:,} quads")
                build = bulk_build(
                    work, generated.nquads, generated.sources_dir, size == "100k", args.skip
                )
                built.write_text(json.dumps(build))
                log(f"{size}: built in {build['total_seconds']:.1f} s")
            served = serve_and_load(size, work, generated.counts, args)
            results["sizes"][size] = {"build": build, "counts": generated.counts, **served}
            results["sizes"][size]["reused"] = reuse
            shutil.rmtree(work / "data", ignore_errors=True)
    finally:
        if args.work is None:
            shutil.rmtree(base, ignore_errors=True)
    results["load_end"] = load_average()
    finished = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    text = report(results, info, args, started, finished)
    print(text)
    args.results.mkdir(parents=True, exist_ok=True)
    suffix = "" if sizes == ["100k", "1M"] else "-" + "-".join(sizes)
    out = args.results / f"{started[:10]}-{info['host']}{suffix}.md"
    out.write_text(text, encoding="utf-8")
    log(f"written to {out}")


if __name__ == "__main__":
    main()
