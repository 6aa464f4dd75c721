"""Curated facts to RDF: the checks the build makes before SHACL, with file and line."""

from __future__ import annotations

import re

import pytest
from rdflib import Literal

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.core.dates import is_before, parse_date
from treatygraph.core.errors import Collector, DataError
from treatygraph.curation.facts import Mapping, load_facts
from treatygraph.curation.sources import load_sources
from treatygraph.rdf.namespaces import ProjectNamespaces

QUOTE = (
    "The Collective Security Treaty was signed by Armenia, Kazakhstan, Kyrgyzstan, Russia, "
    "Tajikistan, and Uzbekistan on May 15, 1992."
)


@pytest.mark.parametrize(
    ("earlier", "later", "before"),
    [
        ("1999", "1999-04-02", False),  # the year is neither before nor after a day in it
        ("1999-04-02", "1999", False),
        ("1999-03-15", "1999-04", True),
        ("1999-04", "1999-04-30", False),
        ("1998-12-31", "1999", True),
        ("1999-04-01", "1999-04-02", True),
        ("1999-04-02", "1999-04-02", False),
    ],
)
def test_dates_compare_at_the_coarser_precision(earlier, later, before):
    assert is_before(parse_date(earlier), parse_date(later)) is before


def _facts_file(tmp_path, name: str, text: str):
    """`text` as data/facts/`name` of a copy, and the loader of that folder against the real sources."""
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    mapping = Mapping.load(PROJECT_ROOT / "ontology" / "mapping.yaml", ns)
    problems = Collector()
    sources = load_sources(PROJECT_ROOT / "data" / "sources", problems)
    problems.raise_if_any()
    facts_dir = tmp_path / "facts"
    facts_dir.mkdir()
    path = facts_dir / name
    path.write_text(text, encoding="utf-8")
    return path, lambda: load_facts(facts_dir, mapping, ns, sources)


CLAIM = f'  - source: csto-2019-russia-chairmanship\n    quote: "{QUOTE}"\n'


def _load(tmp_path, record: str):
    text = "- id: membership/test\n  type: Membership\n" + record + "  sources:\n" + CLAIM
    return _facts_file(tmp_path, "memberships.yaml", text)


def test_an_end_known_to_the_year_of_a_start_known_to_the_day_is_accepted(tmp_path):
    """As the shapes (shapes/time.ttl) accept it: 1999 is not before 1999-04-02."""
    _, load = _load(tmp_path, "  start: 1999-04-02\n  end: 1999\n")
    assert len(load().facts) > 0


@pytest.mark.parametrize(("start", "end"), [("1999-04-02", "1999-03"), ("1999-04", "1998")])
def test_an_end_certainly_before_the_start_names_file_and_line(tmp_path, start, end):
    path, load = _load(tmp_path, f"  start: {start}\n  end: {end}\n")
    with pytest.raises(DataError) as failure:
        load()
    assert [str(p) for p in failure.value.problems] == [f"{path}:4: end is before start"]


def test_a_date_with_unknown_keys_is_an_error_not_a_truncated_inference(tmp_path):
    """An unquoted comma in a flow mapping splits the inference into a stray key: say so."""
    path, load = _load(
        tmp_path, "  start: {value: 1992-05-15, inference: Signed then, as the source says}\n"
    )
    with pytest.raises(DataError) as failure:
        load()
    (problem,) = failure.value.problems
    assert str(problem).startswith(f"{path}:3: start: unknown keys 'as the source says'")


def _with_claims(tmp_path, record: str, claims: str):
    head = "- id: treaty/test\n  type: Treaty\n  label: Test treaty\n"
    return _facts_file(tmp_path, "treaties.yaml", head + record + "  sources:\n" + claims)


def test_a_field_no_claim_supports_is_refused_with_file_and_line(tmp_path):
    path, load = _with_claims(
        tmp_path,
        "  signedOn: 1992-05-15\n  duration: P5Y\n",
        CLAIM + "    supports: [label, signedOn]\n",
    )
    with pytest.raises(DataError) as failure:
        load()
    (problem,) = failure.value.problems
    assert str(problem).startswith(
        f"{path}:5: treaty/test: field 'duration' is supported by no claim"
    )


@pytest.mark.parametrize(
    ("record", "claims"),
    [
        # a claim without `supports` stands for the whole record
        ("  duration: P5Y\n", CLAIM),
        # a date with an inference of its own explains itself
        (
            "  entryIntoForce: {value: 1994-04-20, inference: 'Read from the other record.'}\n",
            CLAIM + "    supports: [label]\n",
        ),
        # the note is the publisher's sentence to the reader, not a claim
        ("  note: Source 001 says so.\n", CLAIM + "    supports: [label]\n"),
    ],
)
def test_fields_a_claim_or_an_inference_covers_are_accepted(tmp_path, record, claims):
    _, load = _with_claims(tmp_path, record, claims)
    assert len(load().facts) > 0


EDITORS_WORDS = re.compile(
    r"[A-Za-z_]+\.yaml|conflictsWith|\b(?:event|membership|treaty|meeting|term|organization|body|"
    r"state|person|document|place|chairmanship|post|operation|force|article|source)/[a-z0-9-]+"
)


def test_published_notes_and_inferences_are_for_readers():
    """Notes, inferences and descriptions are published and shown on pages: no data file names,
    record ids or link names, which mean something to an editor only."""
    ns = ProjectNamespaces("https://w3id.org/treatygraph")
    mapping = Mapping.load(PROJECT_ROOT / "ontology" / "mapping.yaml", ns)
    problems = Collector()
    sources = load_sources(PROJECT_ROOT / "data" / "sources", problems)
    result = load_facts(PROJECT_ROOT / "data" / "facts", mapping, ns, sources)
    found = sorted(
        f"{subject}: {EDITORS_WORDS.findall(str(text))}"
        for graph in (result.facts, result.provenance)
        for subject, _, text in graph
        if isinstance(text, Literal) and EDITORS_WORDS.search(str(text))
    )
    assert not found, "\n".join(found)
