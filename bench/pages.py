"""`python -m bench.pages`: entity pages per second, rotating over every entity of the real build.

`treatygraph serve` as users run it (caches on, entity pages rendered as the release opens) is
loaded by wrk with the HTML page of every record in turn: first the walk through every entity once
right after the server is ready (first visits), then the walk again and again for `--seconds`
(revisits), then a small static file (the floor: what any answer costs in routing and HTTP).
Issue 22's target: at least 1,500 entity pages/s rotating over every entity; the ratio to the
static file says how close pages come to the speed of a file.

Run: python -m bench.pages [--build-dir DIR] [--seconds 10] [--connections 8]
(`make bench` runs it; needs wrk, which `make bench` installs.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from treatygraph.core.config import Config

from .rotation import run_wrk
from .servers import treatygraph_server

TARGET = 1500  # entity pages per second (issue 22)
FLOOR_PATH = "/static/site.css"


def entity_pages(build_dir: Path) -> list[tuple[str, str]]:
    """(path, Accept) of every record's HTML page in the build."""
    from server.app import create_app

    app = create_app(Config.from_env(build_dir=build_dir))
    with app.test_request_context("/"):
        from server.catalog import catalog

        cat = catalog()
        paths = sorted(cat.href(iri) for iri in cat.entities if cat.href(iri))
    return [(path.replace("/id/", "/doc/", 1) + ".html", "text/html") for path in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=Config.from_env().build_dir)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--settle", type=float, default=30, help="seconds after ready")
    args = parser.parse_args()
    pages = entity_pages(args.build_dir)
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as work:
        server = treatygraph_server(args.build_dir, Path(work, "serve.log"), settings={})
        with server:
            if not server.wait_ready(120):
                raise SystemExit(f"treatygraph serve did not start; see {work}/serve.log")
            time.sleep(args.settle)
            first = run_wrk(server.url, pages, args.connections, args.seconds * 6, once=True)
            again = run_wrk(server.url, pages, args.connections, args.seconds)
            floor = run_wrk(server.url, [(FLOOR_PATH, "text/css")], args.connections, args.seconds)
    result = {
        "entities": len(pages),
        "connections": args.connections,
        "first visits": _run(first),
        "rotation over every entity": _run(again),
        "static file (reference)": _run(floor),
        "pages/s against the static file": round(again.rps / floor.rps, 2) if floor.rps else None,
        "target pages/s": TARGET,
        "met": again.rps >= TARGET and first.rps >= TARGET,
    }
    print(json.dumps(result, indent=2))


def _run(run) -> dict:
    return {
        "per_second": round(run.rps),
        "p50_ms": round(run.p50_ms, 2),
        "p99_ms": round(run.p99_ms, 2),
        "answered": run.answered,
        "errors": run.errors,
    }


if __name__ == "__main__":
    main()
