"""The bulk dumps of a build, written with Oxigraph's serializers, and their VoID/DCAT description."""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import heapq
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, VOID, XSD

from treatygraph.rdf.namespaces import SD, ProjectNamespaces

DCAT_VERSION = URIRef(f"{DCAT}version")  # DCAT 3; rdflib ships the DCAT 2 terms
LICENCE = "https://creativecommons.org/licenses/by/4.0/"


@dataclass(frozen=True)
class Distribution:
    file: str
    media_type: str  # of the RDF inside, for a compressed file
    title: str
    compress_format: str | None = None


DISTRIBUTIONS = (
    Distribution(
        "treatygraph.ttl", "text/turtle", "The whole dataset as readable Turtle (graphs merged)"
    ),
    Distribution(
        "treatygraph.nt.gz",
        "application/n-triples",
        "The whole dataset as sorted N-Triples, gzipped",
        "application/gzip",
    ),
    Distribution(
        "treatygraph.nq.gz",
        "application/n-quads",
        "The dataset with its named graphs, as sorted N-Quads, gzipped",
        "application/gzip",
    ),
    Distribution(
        "treatygraph.jsonld", "application/ld+json", "The dataset with its named graphs, as JSON-LD"
    ),
    Distribution("ontology.ttl", "text/turtle", "The treatygraph ontology"),
    Distribution("shapes.ttl", "text/turtle", "The SHACL shapes the data is validated against"),
)


SORT_CHUNK_LINES = 1_000_000  # lines sorted in memory at once; more spill to sorted runs on disk
SORT_MEMORY = "1G"  # GNU sort's buffer; larger inputs spill to sorted runs in the work folder


@functools.cache
def gnu_sort() -> str | None:
    """GNU sort, when installed: a bytewise (LC_ALL=C) sort on every core, in C."""
    found = shutil.which("sort")
    if found is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    return found if "GNU coreutils" in version.stdout else None


def _gzip_file(source: Path, target: Path) -> None:
    """Gzip with no name and no timestamp, so the same content gives the same bytes."""
    with (
        source.open("rb") as src,
        target.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0, filename="") as gz,
    ):
        shutil.copyfileobj(src, gz, 1 << 20)


def _write_run(lines: list[bytes], path: Path) -> None:
    with path.open("wb") as out:
        out.writelines(line + b"\n" for line in sorted(set(lines)))


def sort_lines_file(
    source: Path | list[Path],
    target: Path,
    chunk_lines: int = SORT_CHUNK_LINES,
    use_gnu_sort: bool = True,
) -> int:
    """Sort and deduplicate the lines of N-Triples/N-Quads files (bytewise, so dumps diff cleanly
    between releases) into `target`; return the number of lines written.

    With GNU sort when installed, in C locale on every core; otherwise in Python, in memory up
    to `chunk_lines` and with a merge of sorted runs beyond. Both give the same bytes for the
    store's output (which has no blank lines: GNU sort would keep one, Python drops them).
    """
    sources = [source] if isinstance(source, Path) else list(source)
    tool = gnu_sort() if use_gnu_sort else None
    if tool is not None:
        subprocess.run(
            [
                tool,
                "-u",
                f"--parallel={os.cpu_count() or 1}",
                "-S",
                SORT_MEMORY,
                "-T",
                str(target.parent),
                "-o",
                str(target),
                "--",
                *map(str, sources),
            ],
            env={**os.environ, "LC_ALL": "C"},
            check=True,
        )
        return _count_lines(target)
    runs: list[Path] = []
    with contextlib.ExitStack() as stack:
        lines = itertools.chain.from_iterable(stack.enter_context(p.open("rb")) for p in sources)
        while True:
            raw = list(itertools.islice(lines, chunk_lines))
            if not raw and runs:
                break
            run = target.with_name(f"{target.name}.run{len(runs)}")
            _write_run([line.rstrip(b"\n") for line in raw if line.strip()], run)
            runs.append(run)
            if len(raw) < chunk_lines:
                break
    if len(runs) == 1:
        runs[0].replace(target)
        return _count_lines(target)
    count = 0
    handles = [run.open("rb") for run in runs]
    try:
        with target.open("wb") as out:
            previous = None
            for line in heapq.merge(*handles):
                if line != previous:
                    out.write(line)
                    count += 1
                    previous = line
    finally:
        for handle in handles:
            handle.close()
        for run in runs:
            run.unlink()
    return count


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_graphs(store: ox.Store, work_dir: Path, workers: int) -> list[tuple[Path, bytes]]:
    """Each graph of the store as an N-Triples file, several graphs at once (Oxigraph writes
    without holding the GIL); return (file, graph term as written in N-Quads, b"" for the
    default graph) for every graph."""
    graphs = [ox.DefaultGraph(), *store.named_graphs()]

    def dump(number: int) -> tuple[Path, bytes]:
        graph = graphs[number]
        path = work_dir / f"graph{number}.nt"
        store.dump(output=str(path), format=ox.RdfFormat.N_TRIPLES, from_graph=graph)
        return path, b"" if isinstance(graph, ox.DefaultGraph) else str(graph).encode()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(dump, range(len(graphs))))


def write_quads(graph_files: list[tuple[Path, bytes]], target: Path) -> None:
    """N-Quads lines from the N-Triples of each graph: the graph term goes before the final " .",
    exactly as Oxigraph's N-Quads writer puts it."""
    with target.open("wb") as out:
        for path, graph in graph_files:
            with path.open("rb") as src:
                if not graph:
                    shutil.copyfileobj(src, out, 1 << 20)
                    continue
                tail = b" " + graph + b" .\n"
                out.writelines(line[:-3] + tail for line in src)


# Converting one RDF file to another format in a child process. Oxigraph serializes from a
# Python loop over the parsed quads, which holds the GIL, so two conversions in threads would
# take turns on one core; a process each runs them side by side.
CONVERT = """
import json, sys
import pyoxigraph as ox
source, target, prefixes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
ox.serialize(
    ox.parse(path=source, format=ox.RdfFormat.from_extension(source.rsplit(".", 1)[1])),
    output=target,
    format=ox.RdfFormat.from_extension(target.rsplit(".", 1)[1]),
    **({"prefixes": prefixes} if prefixes else {}),
)
"""


def _start_conversion(source: Path, target: Path, prefixes: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CONVERT, str(source), str(target), json.dumps(prefixes)],
        stderr=subprocess.PIPE,
    )


def _finish_conversion(process: subprocess.Popen) -> None:
    _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"writing {process.args[4]} failed: {errors.decode(errors='replace')}")


def stable_turtle(graph: Graph, prefixes: dict[str, str]) -> str:
    """Readable Turtle that is the same text for the same graph, build after build.

    Parsing gives blank nodes (SHACL property shapes, lists) fresh random ids, and the Turtle writer
    orders by them; canonical blank-node labels (RDFC, rdflib.compare) make the order stable.
    """
    from rdflib.compare import to_canonical_graph

    canonical = Graph()
    for triple in to_canonical_graph(graph):
        canonical.add(triple)
    for prefix, namespace in prefixes.items():
        canonical.bind(prefix, namespace)
    return canonical.serialize(format="turtle")


def write_dumps(
    store: ox.Store,
    dumps_dir: Path,
    ns: ProjectNamespaces,
    ontology: Graph,
    shapes: Graph,
    version: str,
    built_at: str,
) -> int:
    """Write every distribution, SHA256SUMS and void.ttl; return the number of distinct triples.

    Everything streams through files (the sort spills to disk), so memory stays flat with size;
    independent steps run side by side on the cores.
    """
    dumps_dir.mkdir(parents=True, exist_ok=True)
    prefixes = ns.prefixes()
    workers = os.cpu_count() or 1
    with (
        tempfile.TemporaryDirectory(dir=dumps_dir, prefix=".work-") as work,
        ThreadPoolExecutor(max_workers=workers) as threads,
    ):
        work_dir = Path(work)
        nquads, ntriples = work_dir / "sorted.nq", work_dir / "sorted.nt"
        graph_files = dump_graphs(store, work_dir, workers)
        # Every graph's triples, deduplicated, are the union; the quads need their graph term.
        triple_count = threads.submit(sort_lines_file, [p for p, _ in graph_files], ntriples)
        write_quads(graph_files, work_dir / "all.nq")
        sort_lines_file(work_dir / "all.nq", nquads)
        triple_count = triple_count.result()
        for unsorted in (work_dir / "all.nq", *(p for p, _ in graph_files)):
            unsorted.unlink()  # the disk holds the sorted copies only from here on
        conversions = [
            _start_conversion(ntriples, dumps_dir / "treatygraph.ttl", prefixes),
            _start_conversion(nquads, dumps_dir / "treatygraph.jsonld", {}),
        ]
        try:
            gzips = [  # zlib releases the GIL
                threads.submit(_gzip_file, ntriples, dumps_dir / "treatygraph.nt.gz"),
                threads.submit(_gzip_file, nquads, dumps_dir / "treatygraph.nq.gz"),
            ]
            (dumps_dir / "ontology.ttl").write_text(
                stable_turtle(ontology, prefixes), encoding="utf-8"
            )
            shape_prefixes = {**prefixes, "tgsh": str(ns.shapes)}
            (dumps_dir / "shapes.ttl").write_text(
                stable_turtle(shapes, shape_prefixes), encoding="utf-8"
            )
            for job in gzips:
                job.result()
            for process in conversions:
                _finish_conversion(process)
        finally:
            for process in conversions:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    with ThreadPoolExecutor(max_workers=workers) as threads:  # hashlib releases the GIL
        digests = threads.map(_sha256, [dumps_dir / d.file for d in DISTRIBUTIONS])
        sums = dict(zip((d.file for d in DISTRIBUTIONS), digests, strict=True))
    (dumps_dir / "SHA256SUMS").write_text(
        "".join(f"{digest}  {name}\n" for name, digest in sums.items()), encoding="utf-8"
    )
    void = void_graph(ns, dumps_dir, sums, triple_count, version, built_at)
    (dumps_dir / "void.ttl").write_bytes(
        ox.serialize(
            ox.parse(void.serialize(format="nt").encode(), format=ox.RdfFormat.N_TRIPLES),
            format=ox.RdfFormat.TURTLE,
            prefixes=prefixes,
        )
    )
    return triple_count


def _media_type_iri(media_type: str) -> URIRef:
    return URIRef(f"https://www.iana.org/assignments/media-types/{media_type}")


def void_graph(
    ns: ProjectNamespaces,
    dumps_dir: Path,
    sums: dict[str, str],
    triple_count: int,
    version: str,
    built_at: str,
) -> Graph:
    """VoID + DCAT: the dataset, its distributions (size, type, checksum, licence) and endpoint."""
    g = Graph()
    dataset = URIRef(f"{ns.base}/dataset")
    licence = URIRef(LICENCE)
    g.add((dataset, RDF.type, VOID.Dataset))
    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCTERMS.title, Literal("treatygraph", lang="en")))
    g.add(
        (
            dataset,
            DCTERMS.description,
            Literal(
                "Treaties, the organizations and bodies they create, and who is a member of what and when, "
                "each statement with the source and the verbatim quote that supports it. First dataset: the "
                "Collective Security Treaty Organization (CSTO) and its neighbours.",
                lang="en",
            ),
        )
    )
    g.add((dataset, DCTERMS.license, licence))
    g.add((dataset, DCAT_VERSION, Literal(version)))
    g.add((dataset, DCTERMS.modified, Literal(built_at, datatype=XSD.dateTime)))
    g.add((dataset, VOID.triples, Literal(triple_count, datatype=XSD.integer)))
    g.add((dataset, VOID.uriSpace, Literal(ns.id)))
    g.add((dataset, VOID.sparqlEndpoint, URIRef(f"{ns.base}/sparql")))
    g.add((dataset, VOID.vocabulary, URIRef(str(ns.tg))))
    g.add((dataset, VOID.exampleResource, URIRef(ns.entity("organization/csto"))))
    g.add((dataset, VOID.exampleResource, URIRef(ns.entity("state/armenia"))))
    service = URIRef(f"{ns.base}/sparql")
    g.add((dataset, DCAT.accessService, service))
    g.add((service, RDF.type, DCAT.DataService))
    g.add((service, RDF.type, SD.Service))
    g.add((service, DCAT.endpointURL, service))
    g.add((service, SD.endpoint, service))
    for dist in DISTRIBUTIONS:
        node = URIRef(f"{ns.base}/dumps/{dist.file}")
        size = (dumps_dir / dist.file).stat().st_size
        g.add((dataset, DCAT.distribution, node))
        g.add((dataset, VOID.dataDump, node))
        g.add((node, RDF.type, DCAT.Distribution))
        g.add((node, DCTERMS.title, Literal(dist.title, lang="en")))
        g.add((node, DCAT.downloadURL, node))
        g.add(
            (
                node,
                DCAT.mediaType,
                _media_type_iri(dist.media_type),
            )
        )
        if dist.compress_format:
            g.add((node, DCAT.compressFormat, _media_type_iri(dist.compress_format)))
        g.add((node, DCAT.byteSize, Literal(size, datatype=XSD.nonNegativeInteger)))
        g.add((node, DCTERMS.license, licence))
        checksum = URIRef(f"{node}#sha256")
        g.add((node, URIRef("http://spdx.org/rdf/terms#checksum"), checksum))
        g.add((checksum, RDF.type, URIRef("http://spdx.org/rdf/terms#Checksum")))
        g.add(
            (
                checksum,
                URIRef("http://spdx.org/rdf/terms#algorithm"),
                URIRef("http://spdx.org/rdf/terms#checksumAlgorithm_sha256"),
            )
        )
        g.add(
            (
                checksum,
                URIRef("http://spdx.org/rdf/terms#checksumValue"),
                Literal(sums[dist.file], datatype=XSD.hexBinary),
            )
        )
    return g
