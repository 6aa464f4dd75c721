"""The `treatygraph` command group, run as a user runs it: as a subprocess."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import rdflib
import requests
from conftest import free_port

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.publish.build import build, current_release


def cli_env(config) -> dict[str, str]:
    """The environment that points the command at a configuration's inputs and build folder."""
    env = dict(os.environ)
    env.update(
        TREATYGRAPH_DATA_DIR=str(config.data_dir),
        TREATYGRAPH_ONTOLOGY_DIR=str(config.ontology_dir),
        TREATYGRAPH_SHAPES_DIR=str(config.shapes_dir),
        TREATYGRAPH_BUILD_DIR=str(config.build_dir),
    )
    return env


def cli(*args, config, timeout=120, **kwargs):
    env = cli_env(config)
    return subprocess.run(
        [sys.executable, "-m", "treatygraph", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        **kwargs,
    )


def test_validate_prints_a_readable_report(config):
    result = cli("validate", config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conforms" in result.stdout


def test_validate_turtle_is_a_shacl_report(config):
    result = cli("validate", "--format", "turtle", config=config)
    assert result.returncode == 0
    report = rdflib.Graph().parse(data=result.stdout, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    assert (None, sh.conforms, rdflib.Literal(True)) in report


def test_query_formats(config, built):
    csto = f"{config.base_iri}/id/organization/csto"
    select = f"SELECT ?label WHERE {{ <{csto}> rdfs:label ?label }}"
    table = cli("query", select, config=config)
    assert table.returncode == 0, table.stderr
    assert "Collective Security Treaty Organization" in table.stdout
    as_json = json.loads(cli("query", select, "--format", "json", config=config).stdout)
    labels = {b["label"]["value"] for b in as_json["results"]["bindings"]}
    assert "Collective Security Treaty Organization" in labels
    rows = list(
        csv.reader(io.StringIO(cli("query", select, "--format", "csv", config=config).stdout))
    )
    assert rows[0] == ["label"]
    tsv = cli("query", select, "--format", "tsv", config=config).stdout
    assert tsv.splitlines()[0] == "?label"
    construct = cli(
        "query", "CONSTRUCT WHERE { ?s a tg:State }", "--format", "turtle", config=config
    )
    assert len(rdflib.Graph().parse(data=construct.stdout, format="turtle")) > 0


def test_query_from_file_and_syntax_error(config, built, tmp_path):
    query_file = tmp_path / "q.rq"
    query_file.write_text("ASK { ?s a org:Membership }")
    result = cli("query", "-f", str(query_file), config=config)
    assert result.stdout.strip() == "true"
    bad = cli("query", "SELECT ?x WHERE { ?x", config=config)
    assert bad.returncode == 1
    assert "syntax error" in bad.stderr.lower()
    assert "Traceback" not in bad.stderr


def test_query_needs_exactly_one_query(config):
    assert cli("query", config=config).returncode == 2


def test_dump_rewrites_identical_dumps(inputs_copy):
    build(inputs_copy)
    dumps = current_release(inputs_copy) / "dumps"
    before = gzip.decompress((dumps / "treatygraph.nt.gz").read_bytes())
    (dumps / "treatygraph.nt.gz").unlink()
    result = cli("dump", config=inputs_copy)
    assert result.returncode == 0, result.stderr
    assert gzip.decompress((dumps / "treatygraph.nt.gz").read_bytes()) == before


def test_readme_example_queries_run(config, built):
    from treatygraph.publish.query import execute, open_current_store
    from treatygraph.rdf.namespaces import ProjectNamespaces

    readme = (PROJECT_ROOT / "README.md").read_text()
    queries = re.findall(r"```sparql\n(.*?)```", readme, flags=re.S)
    assert len(queries) >= 3
    store = open_current_store(config)
    ns = ProjectNamespaces(config.base_iri)
    for query in queries:
        rows = list(execute(store, query, ns))
        assert rows, f"README query returned nothing:\n{query}"


def test_serve_builds_first_when_there_is_no_build(inputs_copy, tmp_path):
    port = free_port()
    env = cli_env(inputs_copy)
    log = tmp_path / "serve.log"  # a file, not a pipe: nobody reads a pipe while gunicorn logs
    server = subprocess.Popen(
        [sys.executable, "-m", "treatygraph", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        health = None
        while time.monotonic() < deadline:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                if health.status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.3)
        assert health is not None and health.status_code == 200, "serve never answered /healthz"
        assert health.json()["triples"] > 0
        assert current_release(inputs_copy) is not None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert f"http://127.0.0.1:{port}/sparql" in log.read_text()
