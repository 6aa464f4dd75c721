"""The audit of claims against their quotes (../shared/audits, read in place): every claim it lists
is now fixed, marked as an inference, or removed, as the table in docs/content.md says."""

from __future__ import annotations

import re
from functools import cache

import pytest

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.curation.facts import fact_files
from treatygraph.curation.yamlio import load_records

AUDIT = PROJECT_ROOT.parent / "shared" / "audits" / "2026-12-06-claims-not-stated.txt"
CONTENT = PROJECT_ROOT / "docs" / "content.md"
CLAIM = re.compile(r"^(?P<record>\S+) #(?P<number>\d+) \((?P<source>\w+)\)$")


def _audit_lines() -> list[dict]:
    assert AUDIT.exists(), f"the audit is read in place from {AUDIT}"
    lines = []
    for number, line in enumerate(AUDIT.read_text(encoding="utf-8").splitlines(), start=1):
        file, claim, _hardness, quote, _why = (part.strip() for part in line.split(" | ", 4))
        quote = quote.removeprefix('"').removesuffix('"').removesuffix("...")
        lines.append({"line": number, "file": file, "claim": claim, "quote": quote})
    return lines


@cache
def _table() -> dict[str, tuple[str, str]]:
    rows = {}
    for line in CONTENT.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 5 and CLAIM.match(cells[1]):
            assert cells[1] not in rows, f"docs/content.md lists {cells[1]} twice"
            rows[cells[1]] = (cells[2], cells[3])
    return rows


@cache
def _records() -> dict[str, dict]:
    facts = fact_files(PROJECT_ROOT / "data" / "facts")
    return {r["id"]: r for path in facts for r in load_records(path)}


def _normal(text) -> str:
    return " ".join(str(text).split())


def _supports(claim, field: str) -> bool:
    return not claim.get("supports") or field in claim["supports"]


AUDITED = _audit_lines() if AUDIT.exists() else []


def test_the_table_covers_every_audit_line_once():
    table = _table()
    assert AUDITED, f"no audit lines read from {AUDIT}"
    assert sorted(table) == sorted(line["claim"] for line in AUDITED)
    counts = {
        done: sum(1 for d, _ in table.values() if d == done)
        for done in ("fixed", "inferred", "removed")
    }
    assert sum(counts.values()) == len(table), "each line is fixed, inferred or removed"
    stated = re.search(r"Counts: (\d+) fixed, (\d+) inferred, (\d+) removed", CONTENT.read_text())
    assert stated and tuple(map(int, stated.groups())) == (
        counts["fixed"],
        counts["inferred"],
        counts["removed"],
    )


@pytest.mark.parametrize("audited", AUDITED, ids=[a["claim"] for a in AUDITED])
def test_each_audited_claim_is_fixed_inferred_or_gone(audited):
    done, what = _table()[audited["claim"]]
    record = _records().get(CLAIM.match(audited["claim"])["record"])
    quoted = (
        [c for c in record["sources"] if _normal(c["quote"]).startswith(_normal(audited["quote"]))]
        if record is not None
        else []
    )
    where = f"audit line {audited['line']} ({audited['claim']})"
    if done == "inferred":
        assert quoted, f"{where}: the claim is gone, but the table says it is marked as inferred"
        assert all(c.get("inference") for c in quoted), f"{where}: no inference"
    elif done == "removed":
        if record is None or what == "claim":
            assert not quoted, f"{where}: the claim is still there"
        elif what.startswith("field "):
            assert what[6:] not in record, f"{where}: {what} is still there"
        elif what.startswith("supports "):
            assert not any(what[9:] in (c.get("supports") or []) for c in quoted), where
        else:
            field, _, value = what.partition(": ")
            values = record.get(field)
            assert value not in (values if isinstance(values, list) else [values]), where
    else:
        assert done == "fixed", f"{where}: unknown action {done!r}"
        field = what.removeprefix("field ")
        assert field in record, f"{where}: {field} is gone, so it was removed, not fixed"
        stating = [c for c in record["sources"] if _supports(c, field) and not c.get("inference")]
        assert stating, f"{where}: no claim without inference supports {field}"
