"""Answers and pages of one release, asked again and again: what the release caches are for.

Over a build (the configured one by default), measures:

  in process   p50 of one request through the Flask app (test client, no HTTP): a repeated
               /sparql lookup, its revalidation (304), an entity page, its revalidation
  lookups      wrk on `treatygraph serve` (gunicorn, as users run it) repeating one-entity
               lookups, against raw `oxigraph serve-read-only` on the same store
  pages        entity pages rotating over every entity of the build: the first visit of each
               (cold, a fresh server, one pass by `--connections` clients), then wrk twice
               (each web process keeps its own pages, so the first run still renders some)
  floor        wrk on /healthz of the same server: about the most its web processes answer

Run: python -m bench.release_cache [--build-dir DIR] [--seconds 10] [--connections 8]
[--entities N] [--web-workers N] (prints JSON). Numbers depend on what else the machine runs: say so when quoting them.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from treatygraph.core.config import Config
from treatygraph.publish.build import STORE_DIR, current_release

from .servers import LOAD_GENERATOR_SETTINGS, oxigraph_server, treatygraph_server, wrk

ROUNDS = 300
ID = "/id/"


def lookup(base: str, record: str) -> str:
    return f"SELECT ?p ?o WHERE {{ <{base}{ID}{record}> ?p ?o }}"


def sparql_path(query: str) -> str:
    return "/sparql?" + urllib.parse.urlencode({"query": query})


def entities(release: Path, base: str) -> list[str]:
    """Every entity of the release (`kind/slug`), as the pages serve them."""
    import pyoxigraph as ox

    store = ox.Store.read_only(str(release / STORE_DIR))
    prefix = f"{base}{ID}"
    rows = store.query(
        f"SELECT DISTINCT ?s WHERE {{ GRAPH ?g {{ ?s ?p ?o }} "
        f'FILTER(STRSTARTS(STR(?s), "{prefix}") && !CONTAINS(STR(?s), "#")) }}'
    )
    return sorted(row["s"].value[len(prefix) :] for row in rows)


def p50_ms(client, path: str, headers: dict | None = None, expect: int = 200) -> float:
    response = client.get(path, headers=headers)
    assert response.status_code == expect, (path, response.status_code)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 3)


def in_process(config: Config, record: str) -> dict[str, float]:
    from server.app import create_app
    from server.sparql import shutdown

    app = create_app(config)
    client = app.test_client()
    try:
        query = sparql_path(lookup(config.base_iri, record))
        etag = client.get(query).headers.get("ETag")
        page = f"/doc/{record}.html"
        page_etag = client.get(page).headers["ETag"]
        results = {
            "static file (floor)": p50_ms(client, "/static/site.css"),
            "/sparql lookup, repeated": p50_ms(client, query),
            "entity page, repeated": p50_ms(client, page),
            "entity page, revalidated (304)": p50_ms(
                client, page, {"If-None-Match": page_etag}, 304
            ),
        }
        if etag:
            results["/sparql lookup, revalidated (304)"] = p50_ms(
                client, query, {"If-None-Match": etag}, 304
            )
        return results
    finally:
        shutdown(app)


def first_visits(url: str, paths: list[str], clients: int) -> dict[str, float]:
    """Every path asked once, by `clients` clients at a time: pages per second."""

    def fetch(path: str) -> int:
        with urllib.request.urlopen(url + path, timeout=60) as response:
            response.read()
            return response.status

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(fetch, paths))
    seconds = time.perf_counter() - started
    return {
        "pages": len(paths),
        "ok": statuses.count(200),
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(paths) / seconds, 1),
    }


def rounded(result: dict) -> dict:
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in result.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, help="default: TREATYGRAPH_BUILD_DIR or build/")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument(
        "--entities",
        type=int,
        help="rotate over this many entities (a seeded sample) instead of all of them: a first "
        "visit of all 128k entities of a 1M build takes minutes",
    )
    parser.add_argument("--web-workers", type=int, help="TREATYGRAPH_WEB_WORKERS of the server")
    args = parser.parse_args()
    settings = dict(LOAD_GENERATOR_SETTINGS)
    if args.web_workers:
        settings["TREATYGRAPH_WEB_WORKERS"] = str(args.web_workers)
    overrides = {"build_dir": args.build_dir.resolve()} if args.build_dir else {}
    config = Config.from_env(**overrides)
    release = current_release(config)
    if release is None:
        raise SystemExit(f"no build in {config.build_dir}; run `treatygraph build` first")
    records = entities(release, config.base_iri)
    record = "organization/csto" if "organization/csto" in records else records[0]
    results: dict = {
        "build": str(release),
        "entities": len(records),
        "web_workers": settings.get("TREATYGRAPH_WEB_WORKERS", "serve's default"),
    }
    if args.entities and args.entities < len(records):
        records = sorted(random.Random(7).sample(records, args.entities))
        results["rotated_over"] = len(records)
    results["in_process_p50_ms"] = in_process(config, record)

    one = [(sparql_path(lookup(config.base_iri, record)), "application/sparql-results+json")]
    every = [
        (sparql_path(lookup(config.base_iri, r)), "application/sparql-results+json")
        for r in records
    ]
    pages = [f"/doc/{r}.html" for r in records]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with oxigraph_server(release / STORE_DIR, work / "oxigraph.log") as raw:
            if not raw.wait_ready(60):
                raise SystemExit("oxigraph serve-read-only did not start")
            results["oxigraph_lookups"] = {
                "one entity": rounded(_wrk_query(raw.url, one, args, work, "/query")),
                "every entity": rounded(_wrk_query(raw.url, every, args, work, "/query")),
            }
        with treatygraph_server(
            config.build_dir, work / "treatygraph.log", settings=settings
        ) as ours:
            if not ours.wait_ready(120):
                raise SystemExit("treatygraph serve did not start")
            results["treatygraph_floor_healthz"] = rounded(
                wrk(ours.url, [("/healthz", "*/*")], args.connections, args.seconds, work)
            )
            results["pages_first_visit"] = first_visits(ours.url, pages, args.connections)
            # Each web process keeps its own pages: a page first visited in one is new to the
            # others, so the rotation runs twice.
            results["pages_rotating"] = [
                rounded(
                    wrk(
                        ours.url,
                        [(p, "text/html") for p in pages],
                        args.connections,
                        args.seconds,
                        work,
                    )
                )
                for _ in range(2)
            ]
            results["treatygraph_lookups"] = {
                "one entity": rounded(_wrk_query(ours.url, one, args, work, "/sparql")),
                "every entity": rounded(_wrk_query(ours.url, every, args, work, "/sparql")),
                "every entity, again": rounded(_wrk_query(ours.url, every, args, work, "/sparql")),
            }
    for shape, raw_shape in (
        ("one entity", "one entity"),
        ("every entity", "every entity"),
        ("every entity, again", "every entity"),
    ):
        ours_rps = results["treatygraph_lookups"][shape]["rps"]
        raw_rps = results["oxigraph_lookups"][raw_shape]["rps"]
        results.setdefault("lookups_vs_oxigraph", {})[shape] = round(ours_rps / raw_rps, 2)
    print(json.dumps(results, indent=2))


def _wrk_query(url: str, paths, args, work: Path, endpoint: str) -> dict:
    """wrk over /sparql-style paths, sent to `endpoint` (raw Oxigraph answers at /query), after
    one request (ours starts its query workers on the first query)."""
    moved = [(endpoint + path.removeprefix("/sparql"), accept) for path, accept in paths]
    first, accept = moved[0]
    request = urllib.request.Request(url + first, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
    return wrk(url, moved, args.connections, args.seconds, work)


if __name__ == "__main__":
    main()
