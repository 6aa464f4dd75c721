"""The external sort behind the dumps gives the same bytes as sorting in memory."""

from __future__ import annotations

import random

import pytest

from treatygraph.publish.dumps import gnu_sort, sort_lines_file

SORTERS = [False] + ([True] if gnu_sort() else [])


@pytest.mark.parametrize("gnu", SORTERS, ids=lambda gnu: "gnu-sort" if gnu else "python")
@pytest.mark.parametrize("chunk_lines", [1, 7, 700, 1_000_000])
def test_external_sort_equals_in_memory_sort(tmp_path, chunk_lines, gnu):
    rng = random.Random(3)
    lines = [
        f'<urn:s{rng.randrange(400)}> <urn:p> "ü{rng.randrange(9)}" .'.encode()
        for _ in range(2_000)
    ]
    source = tmp_path / "in.nq"
    source.write_bytes(b"\n".join(lines) + b"\n")
    target = tmp_path / "out.nq"
    count = sort_lines_file(source, target, chunk_lines=chunk_lines, use_gnu_sort=gnu)
    expected = sorted(set(lines))
    assert target.read_bytes() == b"\n".join(expected) + b"\n"
    assert count == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.nq", "out.nq"]


@pytest.mark.parametrize("gnu", SORTERS, ids=lambda gnu: "gnu-sort" if gnu else "python")
def test_empty_input_gives_empty_output(tmp_path, gnu):
    source = tmp_path / "in.nq"
    source.write_bytes(b"")
    assert sort_lines_file(source, tmp_path / "out.nq", use_gnu_sort=gnu) == 0
    assert (tmp_path / "out.nq").read_bytes() == b""


@pytest.mark.parametrize("gnu", SORTERS, ids=lambda gnu: "gnu-sort" if gnu else "python")
def test_several_files_sort_as_one(tmp_path, gnu):
    parts = [tmp_path / "a.nt", tmp_path / "b.nt"]
    parts[0].write_bytes(b"<urn:b> <urn:p> <urn:o> .\n<urn:a> <urn:p> <urn:o> .\n")
    parts[1].write_bytes(
        b"<urn:a> <urn:p> <urn:o> .\n<urn:\xc3\xbc> <urn:p> <urn:o> .\n<urn:Z> <urn:p> <urn:o> .\n"
    )
    target = tmp_path / "out.nt"
    assert sort_lines_file(parts, target, chunk_lines=2, use_gnu_sort=gnu) == 4
    assert target.read_bytes().splitlines() == sorted(
        set(parts[0].read_bytes().splitlines() + parts[1].read_bytes().splitlines())
    )


def test_graph_by_graph_dump_gives_the_store_own_nquads(tmp_path):
    """The dumps write each graph on its own and add the graph term: the same lines as
    Oxigraph's N-Quads writer, default graph, blank nodes and escapes included."""
    import pyoxigraph as ox

    from treatygraph.publish.dumps import dump_graphs, write_quads

    store = ox.Store()
    data = (
        '<urn:s> <urn:p> "tab\\there \\"quoted\\" ü"@en <urn:g1> .\n'
        "_:b1 <urn:p> _:b2 <urn:g1> .\n"
        '<urn:s> <urn:p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> _:g2 .\n'
        "<urn:s> <urn:p> <urn:o> .\n"
        "<urn:s> <urn:p> <urn:o> <urn:g1> .\n"
    )
    store.load(data.encode(), format=ox.RdfFormat.N_QUADS)
    store.dump(output=str(tmp_path / "expected.nq"), format=ox.RdfFormat.N_QUADS)
    graph_files = dump_graphs(store, tmp_path, workers=2)
    write_quads(graph_files, tmp_path / "actual.nq")
    expected = sorted((tmp_path / "expected.nq").read_bytes().splitlines())
    assert sorted((tmp_path / "actual.nq").read_bytes().splitlines()) == expected
    assert len(expected) == 5
