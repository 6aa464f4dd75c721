"""`treatygraph shacl DATA… --shapes SHAPES…`, run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rdflib import Graph, Literal
from rdflib.namespace import RDF, SH

SHAPES = """
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
ex:PersonShape a sh:NodeShape ; sh:targetClass ex:Person ;
    sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:message "A person has a name" ] ;
    sh:property [ sh:path ( ex:knows ex:name ) ; sh:maxLength 5 ] .
"""
DATA = """
@prefix ex: <http://example.org/> .
ex:ann a ex:Person ; ex:name "Ann" ; ex:knows ex:bob .
ex:bob a ex:Person ; ex:name "Robert"@en .
ex:cy a ex:Person .
"""
VALID = """
@prefix ex: <http://example.org/> .
ex:ann a ex:Person ; ex:name "Ann" .
"""


def shacl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "treatygraph", "shacl", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _files(tmp_path: Path, data: str) -> tuple[str, str]:
    (tmp_path / "data.ttl").write_text(data, encoding="utf-8")
    (tmp_path / "shapes.ttl").write_text(SHAPES, encoding="utf-8")
    return str(tmp_path / "data.ttl"), str(tmp_path / "shapes.ttl")


def test_conforming_data_exits_0(tmp_path):
    data, shapes = _files(tmp_path, VALID)
    result = shacl(data, "--shapes", shapes)
    assert result.returncode == 0, result.stderr
    assert "conforms" in result.stdout


def test_a_violation_exits_1_with_a_complete_turtle_report(tmp_path):
    data, shapes = _files(tmp_path, DATA)
    result = shacl(data, "--shapes", shapes, "--format", "turtle")
    assert result.returncode == 1, result.stderr
    report = Graph().parse(data=result.stdout, format="turtle")
    assert (None, SH.conforms, Literal(False)) in report
    results = list(report.subjects(RDF.type, SH.ValidationResult))
    assert len(results) == 2
    by_component = {report.value(r, SH.sourceConstraintComponent): r for r in results}
    missing = by_component[SH.MinCountConstraintComponent]
    assert str(report.value(missing, SH.resultMessage)) == "A person has a name"
    too_long = by_component[SH.MaxLengthConstraintComponent]
    assert report.value(too_long, SH.value) == Literal("Robert", lang="en")
    sequence = report.value(too_long, SH.resultPath)
    assert (sequence, RDF.first, None) in report  # the complex path as SHACL path nodes
    for r in results:
        for predicate in (SH.focusNode, SH.sourceShape, SH.resultSeverity):
            assert report.value(r, predicate) is not None


def test_json_ld_and_text(tmp_path):
    data, shapes = _files(tmp_path, DATA)
    as_json = shacl(data, "--shapes", shapes, "--format", "json-ld")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)
    text = shacl(data, "--shapes", shapes)
    assert "<http://example.org/cy>" in text.stdout and "A person has a name" in text.stdout


def test_a_refused_shape_exits_2_naming_it(tmp_path):
    data, _ = _files(tmp_path, DATA)
    shapes = tmp_path / "recursive.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .\n"
        "ex:S a sh:NodeShape ; sh:targetClass ex:Person ;"
        " sh:property [ sh:path ex:knows ; sh:node ex:S ] .\n",
        encoding="utf-8",
    )
    result = shacl(data, "--shapes", str(shapes))
    assert result.returncode == 2
    assert "http://example.org/S" in result.stderr and "recursive" in result.stderr
    assert "conforms" not in result.stdout


def test_a_file_that_does_not_parse_exits_2_naming_it(tmp_path):
    data, shapes = _files(tmp_path, DATA)
    Path(data).write_text("ex:a ex:b", encoding="utf-8")
    result = shacl(data, "--shapes", shapes)
    assert result.returncode == 2
    assert "data.ttl" in result.stderr
