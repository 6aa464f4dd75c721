"""The benchmark's synthetic data: deterministic, in our patterns, valid, and buildable."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyoxigraph as ox
import pytest

from bench.generate import generate
from treatygraph.cli.commands import DEFAULT_HTTP_SERVER
from treatygraph.curation.sources import normalise_space
from treatygraph.rdf.namespaces import GRAPH_FACTS, GRAPH_LINKS, GRAPH_PROVENANCE, ProjectNamespaces


def test_generator_is_deterministic_and_quotes_its_sources(tmp_path):
    first = generate(4_000, tmp_path / "a", seed=5)
    second = generate(4_000, tmp_path / "b", seed=5)
    other = generate(4_000, tmp_path / "c", seed=6)
    assert first.nquads.read_bytes() == second.nquads.read_bytes()
    assert first.nquads.read_bytes() != other.nquads.read_bytes()
    assert abs(first.quads - 4_000) < 100
    store = ox.Store()
    store.bulk_load(path=str(first.nquads), format=ox.RdfFormat.N_QUADS)
    assert len(store) == first.quads  # no duplicate quads
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    graphs = {g.value for g in store.named_graphs()}
    assert graphs == {ns.graph(GRAPH_FACTS), ns.graph(GRAPH_PROVENANCE), ns.graph(GRAPH_LINKS)}
    rows = store.query(
        f"""SELECT ?quote ?file WHERE {{
          ?claim <{ns.tg}quote> ?quote ; <http://www.w3.org/ns/prov#wasQuotedFrom> ?source .
          ?source <{ns.tg}fileName> ?file }}""",
        use_default_graph_as_union=True,
    )
    texts = {}
    checked = 0
    for row in rows:
        name = row["file"].value
        if name not in texts:
            texts[name] = normalise_space((first.sources_dir / name).read_text(encoding="utf-8"))
        assert normalise_space(row["quote"].value) in texts[name]
        checked += 1
    assert checked > 100


@pytest.mark.slow
def test_bulk_build_of_synthetic_data_conforms_and_is_servable(tmp_path, config):
    from bench.bulk_build import bulk_build
    from treatygraph.publish.build import current_release

    generated = generate(5_000, tmp_path / "data", seed=2)
    bench_config = config.__class__.from_env(build_dir=tmp_path / "build")
    result = bulk_build(bench_config, generated.nquads, generated.sources_dir)
    assert set(result["stages"]) == {
        "load",
        "quote check",
        "SHACL validation",
        "Wikidata view",
        "dumps",
    }
    assert result["triples"] > generated.quads
    assert result["wikidata_view_triples"] > 0
    release = current_release(bench_config)
    assert release is not None
    info = json.loads((release / "build.json").read_text())
    assert info["triples"] == result["triples"]
    assert (release / "dumps" / "treatygraph.nq.gz").stat().st_size > 0


def test_process_tree_follows_ancestry_into_other_sessions():
    from bench.processes import PeakMemory, process_tree, role_of

    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"], start_new_session=True
    )
    try:
        tree = process_tree(os.getpid())
        assert {s.pid for s in tree} >= {os.getpid(), child.pid}
        peak = PeakMemory()
        peak.see(tree)
        assert peak.total_mib > 0 and peak.describe().startswith(f"{peak.total_mib:,.0f} MiB: ")
    finally:
        child.kill()
        child.wait()
    assert role_of("python -m server.sparql.broker /tmp/x/socket 5 6") == "broker"
    assert role_of("python -c from server.sparql.worker import run; run(7)") == "query worker"
    assert role_of("/venv/bin/oxigraph serve-read-only --location s") == "oxigraph"
    assert role_of("gunicorn: worker [server.app:create_app()]") == "web"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_a_walk_once_visits_every_request_once_with_numbers_of_its_own():
    from bench.rotation import run_wrk

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.append(self.path)
            self.send_response(200 if "/ok/" in self.path else 429)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.handle_error = lambda request, address: None  # wrk drops its connections at the end
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        walk = [(f"/ok/{i}?n=__N__", "text/html") for i in range(60)] + [("/no/?n=__N__", "*/*")]
        url = f"http://127.0.0.1:{server.server_address[1]}"
        run = run_wrk(url, walk, 4, 20, once=True, first_number=100, idle_path="/idle")
    finally:
        server.shutdown()
        server.server_close()
    assert run.seconds < 10  # stopped at the end of the list, not after 20 s
    walked = [path for path in seen if path != "/idle"]
    assert sorted(p.split("?")[0] for p in walked) == sorted(p.split("?")[0] for p, _ in walk)
    assert sorted(int(p.split("n=")[1]) for p in walked) == list(range(100, 161))
    # Requests still on their way when a thread finishes are not counted: at most a connection's.
    assert set(run.statuses) <= {200, 429} and sum(run.statuses.values()) >= len(walk) - 4
    assert run.answered == run.statuses[200] and run.errors == run.refused


def test_sparql_requests_send_a_text_of_their_own_for_cold_shapes():
    from bench.rotation import UNIQUE
    from bench.serving import page_requests, sparql_requests

    base = "https://w3id.org/treatygraph"
    rotation = [f"{base}/id/state/s{i}" for i in range(5)]
    for shape in ("cold lookup", "aggregation", "DESCRIBE"):
        assert all(UNIQUE in path for path, _ in sparql_requests(shape, rotation, "/sparql"))
    cold = sparql_requests("cold lookup", rotation, "/query")
    assert len(cold) == len(rotation) and all(p.startswith("/query?query=") for p, _ in cold)
    assert [UNIQUE in p for p, _ in sparql_requests("repeated lookup", rotation, "/sparql")] == [
        False
    ]
    assert page_requests(base, rotation[:1]) == [("/doc/state/s0", "text/html")]


def test_serving_report_shows_the_limits_ratios_and_targets(tmp_path):
    """The report of `python -m bench.serving` from made-up results (a real run takes minutes)."""
    from bench.processes import PeakMemory
    from bench.rotation import LoadRun
    from bench.serving import (
        FLOOR_SHAPE,
        LOAD_GENERATOR_SETTINGS,
        PAGE_SHAPES,
        SPARQL_SHAPES,
        Built,
        report,
    )

    def run(rps, statuses=None):
        return LoadRun(4, 10.0, int(rps * 10), 0, rps, 2.0, 9.0, statuses, 1.5)

    servers = ["oxigraph", f"treatygraph {DEFAULT_HTTP_SERVER}"]
    runs = {(shape, 4, server): run(1000.0) for shape in SPARQL_SHAPES for server in servers}
    runs[("cold lookup", 4, f"treatygraph {DEFAULT_HTTP_SERVER}")] = run(300.0)
    runs.update(
        {(shape, 4, f"treatygraph {DEFAULT_HTTP_SERVER}"): run(1600.0) for shape in PAGE_SHAPES}
    )
    runs[(FLOOR_SHAPE, 4, f"treatygraph {DEFAULT_HTTP_SERVER}")] = run(5000.0)
    peak = PeakMemory(120.0, {"web": (3, 90.0), "broker": (1, 30.0)})
    profile = {"requests": 100, "errors": 0, "wall_us": 900.0, "p50_ms": 0.8}
    build = {
        "built": Built("real", tmp_path, 8_906, 5.0, reused=False),
        "entities": 692,
        "rotation": 672,
        "runs": runs,
        "memory": dict.fromkeys(servers, peak),
        "answers": {server: {shape: [3, 1] for shape in SPARQL_SHAPES} for server in servers},
        "disagree": [],
        "profile": {server: {**profile, "cpu_us": {"web": 500.0}} for server in servers},
        "ready_s": dict.fromkeys(servers, 1.0),
        "public": run(200.0, {200: 400, 429: 600}),
        "breakdown": {
            "requests": 100,
            "total_us": 600.0,
            "cpu_us": 350.0,
            "stages": [("routing (werkzeug)", 6.0)],
            "worker": [("answer(): everything the worker does", 50.0)],
        },
    }
    args = argparse.Namespace(
        builds=["real"],
        connections=[4],
        seconds=10.0,
        http_servers=[DEFAULT_HTTP_SERVER],
        profile_requests=100,
    )
    results = {"load_start": "1.0", "load_end": "2.0", "builds": {"real": build}}
    text = report(results, {"host": "test"}, args, "2026-01-01T00:00:00", "2026-01-01T00:10:00")
    assert all(f"`{key}={value}`" in text for key, value in LOAD_GENERATOR_SETTINGS.items())
    assert f"| real | cold lookup | 4 | treatygraph {DEFAULT_HTTP_SERVER} | 300 |" in text
    assert "0.30x" in text
    assert "| real | 1,000 | 400 | 600 | 0 | 60% |" in text  # one address, public defaults
    assert (
        "| cold lookups on the real build, at least 0.4x raw Oxigraph | 0.30x (4 connections) | **not met** |"
        in text
    )
    assert "1,600 pages/s (4 connections) | met |" in text
    assert "against raw Oxigraph's repeated lookup | 5,000 req/s = 5.00x (4 connections) |" in text
    assert f"| real | {FLOOR_SHAPE} | 4 | treatygraph {DEFAULT_HTTP_SERVER} | 5,000 |" in text
    assert "120 MiB: web 3 x 30 MiB, broker 30 MiB" in text


def test_a_light_client_is_starved_by_a_refusal_a_slow_answer_or_none():
    from bench.light_heavy import ClientRecord

    def light(statuses, latencies):
        return ClientRecord("127.0.0.101", "light", Counter(statuses), latencies)

    assert light({200: 3}, [0.1, 0.2, 0.3]).starved(5.0) is None
    assert "no answer" in light({}, []).starved(5.0)
    assert "429" in light({200: 2, 429: 1}, [0.1, 0.1, 0.1]).starved(5.0)
    assert "p99" in light({200: 2}, [0.1, 7.0]).starved(5.0)
    assert ClientRecord("127.0.0.2", "heavy").starved(5.0) == "never got a worker"
    assert ClientRecord("127.0.0.2", "heavy", Counter({200: 1, 429: 9})).starved(5.0) is None


@pytest.mark.slow
def test_with_the_front_every_probe_is_answered_within_a_second_beside_200_slow_clients(
    config, built, tmp_path
):
    from bench.slow_clients import measure

    run = measure("front", config.build_dir, True, 200, 5.0, tmp_path / "serve.log")
    assert run.failures == 0 and run.latencies
    assert run.within_a_second == len(run.latencies), run.row()
