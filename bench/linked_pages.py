"""Latency of the linked-data pages and documents, against serving a small static file.

Each path is asked 100 times after a warm-up through the Flask app in process (the test client), and
the p50 is printed with its ratio to the p50 of `/dumps/SHA256SUMS` (a file sent from disk by the
same app: the floor any response pays for routing, the build lookup and the WSGI round trip).

Run: python -m bench.linked_pages [BUILD_DIR] [ENTITY]   (default: the configured build, the CSTO;
prints JSON). An ENTITY such as organization/o3 measures a synthetic build from bench.generate.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

from treatygraph.core.config import Config

ROUNDS = 100


def p50_ms(client, path: str, headers: dict | None = None) -> float:
    client.get(path, headers=headers)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert response.status_code in (200, 303, 304), (path, response.status_code)
    return statistics.median(samples) * 1000


def main() -> None:
    from server.app import create_app

    config = Config.from_env()
    if len(sys.argv) > 1:
        config = dataclasses.replace(config, build_dir=Path(sys.argv[1]).resolve())
    entity = sys.argv[2] if len(sys.argv) > 2 else "organization/csto"
    client = create_app(config).test_client()
    etag = client.get(f"/doc/{entity}.ttl").headers["ETag"]
    cases = {
        "static file (reference)": ("/dumps/SHA256SUMS", None),
        "entity IRI, 303": (f"/id/{entity}", {"Accept": "text/turtle"}),
        "entity page, HTML": (f"/doc/{entity}.html", None),
        "entity document, Turtle": (f"/doc/{entity}.ttl", None),
        "entity document, JSON-LD": (f"/doc/{entity}.jsonld", None),
        "entity document, revalidated (304)": (f"/doc/{entity}.ttl", {"If-None-Match": etag}),
        "home page": ("/", None),
        "label search": ("/search?q=armenia", None),
        "ontology index": ("/doc/ontology", None),
    }
    results = {name: p50_ms(client, path, headers) for name, (path, headers) in cases.items()}
    reference = results["static file (reference)"]
    print(
        json.dumps(
            {
                "entity": entity,
                "rounds": ROUNDS,
                "p50_ms": {name: round(value, 2) for name, value in results.items()},
                "ratio_to_static_file": {
                    name: round(value / reference, 1) for name, value in results.items()
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
