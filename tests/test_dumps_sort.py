"""The external sort behind the dumps gives the same bytes as sorting in memory."""

from __future__ import annotations

import random

import pytest

from treatygraph.dumps import sort_lines_file


@pytest.mark.parametrize("chunk_lines", [1, 7, 700, 1_000_000])
def test_external_sort_equals_in_memory_sort(tmp_path, chunk_lines):
    rng = random.Random(3)
    lines = [
        f'<urn:s{rng.randrange(400)}> <urn:p> "ü{rng.randrange(9)}" .'.encode()
        for _ in range(2_000)
    ]
    source = tmp_path / "in.nq"
    source.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "out.nq"
    count = sort_lines_file(source, target, chunk_lines=chunk_lines)
    expected = sorted(set(lines))
    assert target.read_bytes() == b"\n".join(expected) + b"\n"
    assert count == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nq", "out.nq"]


def test_empty_input_gives_empty_output(tmp_path):
    source = tmp_path / "in.nq"
    source.write_bytes(b"")
    assert sort_lines_file(source, tmp_path / "out.nq") == 0
    assert (tmp_path / "out.nq").read_bytes() == b""
