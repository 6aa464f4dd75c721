"""The build pipeline: what it writes, that it is reproducible, and that a failure changes nothing."""

from __future__ import annotations

import gzip
import subprocess
import sys

import rdflib
from rdflib.compare import isomorphic

from treatygraph.publish.build import build, current_release

EXPECTED_DUMPS = {
    "treatygraph.ttl",
    "treatygraph.nt.gz",
    "treatygraph.nq.gz",
    "treatygraph.jsonld",
    "ontology.ttl",
    "shapes.ttl",
    "SHA256SUMS",
    "void.ttl",
}


def run_cli(*args, config):
    env = {
        "TREATYGRAPH_DATA_DIR": str(config.data_dir),
        "TREATYGRAPH_ONTOLOGY_DIR": str(config.ontology_dir),
        "TREATYGRAPH_SHAPES_DIR": str(config.shapes_dir),
        "TREATYGRAPH_BUILD_DIR": str(config.build_dir),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "treatygraph", *args], capture_output=True, text=True, env=env
    )


def test_build_writes_every_dump(config, built):
    dumps = current_release(config) / "dumps"
    assert {p.name for p in dumps.iterdir()} == EXPECTED_DUMPS
    assert built.triples > 0


def test_dumps_parse_back_to_the_same_graph(config, built):
    dumps = current_release(config) / "dumps"
    turtle = rdflib.Graph().parse(dumps / "treatygraph.ttl", format="turtle")
    ntriples = rdflib.Graph().parse(
        data=gzip.decompress((dumps / "treatygraph.nt.gz").read_bytes()).decode(), format="nt"
    )
    assert len(turtle) == built.triples
    assert isomorphic(turtle, ntriples)
    dataset = rdflib.Dataset()
    dataset.parse(
        data=gzip.decompress((dumps / "treatygraph.nq.gz").read_bytes()).decode(), format="nquads"
    )
    assert len({str(c.identifier) for c in dataset.graphs()} - {"urn:x-rdflib:default"}) >= 3
    jsonld = rdflib.Dataset().parse(dumps / "treatygraph.jsonld", format="json-ld")
    assert len(jsonld) == len(dataset)


def test_sha256sums_match_the_files(config, built):
    import hashlib

    dumps = current_release(config) / "dumps"
    for line in (dumps / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((dumps / name).read_bytes()).hexdigest() == digest


def test_void_describes_every_distribution(config, built):
    dumps = current_release(config) / "dumps"
    void = rdflib.Graph().parse(dumps / "void.ttl", format="turtle")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    void_ns = rdflib.Namespace("http://rdfs.org/ns/void#")
    triples = set(void.objects(None, void_ns.triples))
    assert {int(t) for t in triples} == {built.triples}
    distributions = set(void.objects(None, dcat.distribution))
    assert len(distributions) == 6
    for dist in distributions:
        assert void.value(dist, dcat.byteSize) is not None
        assert void.value(dist, dcat.mediaType) is not None
        gzipped = str(dist).endswith(".gz")
        compression = void.value(dist, dcat.compressFormat)
        assert (compression is not None) == gzipped
        if gzipped:
            assert str(compression).endswith("/application/gzip")
            assert not str(void.value(dist, dcat.mediaType)).endswith("gzip")


def test_two_builds_give_byte_identical_sorted_ntriples(inputs_copy, tmp_path):
    build(inputs_copy)
    first = gzip.decompress((current_release(inputs_copy) / "dumps/treatygraph.nt.gz").read_bytes())
    build(inputs_copy)
    second_release = current_release(inputs_copy)
    second = gzip.decompress((second_release / "dumps/treatygraph.nt.gz").read_bytes())
    assert first == second
    lines = first.decode().splitlines()
    assert lines == sorted(lines)


def test_two_builds_give_the_same_checksums(inputs_copy):
    """Every distribution is the same bytes for the same inputs; only void.ttl (build time) moves."""
    build(inputs_copy)
    first = (current_release(inputs_copy) / "dumps/SHA256SUMS").read_text()
    build(inputs_copy)
    second = (current_release(inputs_copy) / "dumps/SHA256SUMS").read_text()
    assert first == second
    assert {line.split("  ")[1] for line in first.splitlines()} >= {
        "ontology.ttl",
        "shapes.ttl",
        "treatygraph.ttl",
        "treatygraph.jsonld",
    }


def test_broken_quote_fails_with_file_and_line_and_keeps_last_build(inputs_copy):
    build(inputs_copy)
    good = current_release(inputs_copy)
    facts = inputs_copy.facts_dir / "states.yaml"
    text = facts.read_text()
    assert "Armenia is a founding member of the CSTO." in text
    facts.write_text(text.replace("Armenia is a founding member", "Armenia is a founder member", 1))
    line = next(
        n
        for n, text_line in enumerate(facts.read_text().splitlines(), 1)
        if "founder member" in text_line
    )
    result = run_cli("build", "--quiet", config=inputs_copy)
    assert result.returncode == 1, result.stderr
    assert f"{facts}:{line}: quote not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert current_release(inputs_copy) == good


def test_usage_error_exits_2(inputs_copy):
    result = run_cli("build", "--no-such-option", config=inputs_copy)
    assert result.returncode == 2
