"""A build: assemble, validate, load the Oxigraph store, write the dumps, then swap it in atomically.

Layout of the build folder:
    releases/<id>/store      the Oxigraph store (absent when the build went to a remote store)
    releases/<id>/dumps/     the bulk dumps, SHA256SUMS and void.ttl
    releases/<id>/build.json version, build time, triple count
    current -> releases/<id> the last good build; replaced by one atomic rename
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from treatygraph import __version__
from treatygraph.core.config import Config
from treatygraph.rdf.namespaces import GRAPH_ONTOLOGY
from treatygraph.store.opening import INFO_FILE, STORE_DIR
from treatygraph.validation.report import ValidationReport

from .assemble import Assembled, assemble, validate

KEEP_RELEASES = 3
DUMPS_DIR = "dumps"


class ValidationFailed(Exception):
    """The data does not conform to the shapes; carries the report."""

    def __init__(self, report: ValidationReport):
        self.report = report
        super().__init__(report.text())


class BuildLocked(Exception):
    """Another build is running in the same build folder."""


@dataclass(frozen=True)
class BuildInfo:
    version: str
    built_at: str
    triples: int
    input_digest: str
    base_iri: str
    store: dict | None = None  # a remote store's query URL and our graphs in it, if one is used

    @classmethod
    def read(cls, release: Path) -> BuildInfo:
        return cls(**json.loads((release / INFO_FILE).read_text(encoding="utf-8")))


def input_digest(config: Config) -> str:
    """A digest of every input file, so the version changes exactly when the inputs do."""
    digest = hashlib.sha256()
    for folder in (config.data_dir, config.ontology_dir, config.shapes_dir):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder.parent)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(config.base_iri.encode())
    return digest.hexdigest()


def build_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


@contextlib.contextmanager
def build_lock(build_dir: Path) -> Iterator[None]:
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildLocked(f"another build is running in {build_dir}") from None
        yield


def current_release(config: Config) -> Path | None:
    """The release the `current` link points at, if there is a good build."""
    link = config.current_build
    if not link.is_symlink() and not link.exists():
        return None
    target = link.resolve()
    return target if (target / INFO_FILE).is_file() else None


def write_release_dumps(
    store, staging: Path, assembled: Assembled, version: str, built_at: str
) -> int:
    """Write a release's dumps from its store into staging/dumps; the number of triples."""
    from .dumps import write_dumps

    return write_dumps(
        store,
        staging / DUMPS_DIR,
        assembled.ns,
        assembled.graphs[GRAPH_ONTOLOGY],
        assembled.shapes,
        version,
        built_at,
    )


def upload_graphs(
    store,
    graphs: list[str],
    stores: Sequence,
    serving: dict | None,
    work_dir: Path,
    release: str,
    load_dir: Path | None = None,
    progress: Callable[[str], None] = lambda step: None,
) -> dict:
    """Replace our graphs in a remote store with this build's, all together or not at all; the
    release's `store` entry in build.json, which `stores.open_store` reads.

    `stores` holds one StoreEndpoints, or two loaded in turn (the one the current release,
    whose store entry is `serving`, does not read). With `load_dir`, the graphs are written
    there for the store's bulk loader to read instead of being sent over HTTP."""
    import pyoxigraph as ox

    from treatygraph.store.remote import StoreLoader, choose_store

    endpoints, in_use = choose_store(stores, serving)
    loader = StoreLoader(endpoints)
    how = "bulk loader" if load_dir else "Graph Store Protocol"
    swap = "staging graphs, then one swap" if in_use else "no release reads it"
    progress(f"Loading {len(graphs)} graphs into {endpoints.graph_store} ({how}; {swap})")
    if in_use and loader.dialect.name == "virtuoso" and serving:
        progress(
            "Virtuoso shows a swap to readers as it commits, so they may see both releases "
            "mixed for a moment; give a second --store for an atomic switch"
        )
    folder = load_dir / f"treatygraph-{release}" if load_dir else work_dir
    folder.mkdir()
    try:
        files = []
        for number, graph in enumerate(graphs):
            path = folder / f"{number}.nt"
            store.dump(
                output=str(path), format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(graph)
            )
            files.append((graph, path))
        loader.replace_graphs(files, release, in_use=in_use, bulk=load_dir is not None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "query": endpoints.query,
        "graph_store": endpoints.graph_store,
        "graphs": graphs,
        "dialect": loader.dialect.name,
    }


def _serving_store(config: Config) -> dict | None:
    """The remote store entry of the current release (None: none, or an embedded store)."""
    release = current_release(config)
    return BuildInfo.read(release).store if release is not None else None


def _pause_at(config: Config, step: str) -> None:
    """Sleep where TREATYGRAPH_BUILD_PAUSE says (fault injection: tests kill a build there)."""
    if config.build_pause and config.build_pause[0] == step:
        time.sleep(config.build_pause[1])


def load_store(
    assembled: Assembled,
    store_path: Path,
    progress: Callable[[str], None] = lambda step: None,
    after_first_graph: Callable[[], None] = lambda: None,
) -> None:
    """Bulk-load every named graph into a new Oxigraph store."""
    import pyoxigraph as ox

    store = ox.Store(str(store_path))
    for number, (name, graph) in enumerate(assembled.graphs.items(), start=1):
        store.bulk_load(
            graph.serialize(format="nt", encoding="utf-8"),
            format=ox.RdfFormat.N_TRIPLES,
            to_graph=ox.NamedNode(assembled.ns.graph(name)),
        )
        progress(f"Loaded graph {name} ({number} of {len(assembled.graphs)})")
        if number == 1:
            after_first_graph()
    store.flush()
    store.optimize()
    del store


def publish_release(config: Config, staging: Path, info: BuildInfo, name: str) -> Path:
    """Write build.json, turn the staging folder into releases/<name> and make it `current`."""
    (staging / INFO_FILE).write_text(json.dumps(info.__dict__, indent=2), encoding="utf-8")
    release = staging.parent / name
    staging.rename(release)
    _swap_current(config, release)
    return release


def _swap_current(config: Config, release: Path) -> None:
    link = config.current_build
    tmp = link.with_name(f".current-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(release.relative_to(config.build_dir))
    os.replace(tmp, link)


def _prune(config: Config, keep: Path) -> None:
    releases = config.build_dir / "releases"
    finished = sorted(
        (p for p in releases.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    for old in finished[:-KEEP_RELEASES]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    # Called under the build lock, so no other build is writing: what is left was killed.
    for stale in releases.glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in config.build_dir.glob(".current-*"):
        stale.unlink(missing_ok=True)


def build(
    config: Config,
    progress: Callable[[str], None] = lambda step: None,
    remote: Sequence = (),
    load_dir: Path | None = None,
) -> BuildInfo:
    """Run the whole pipeline; the `current` build changes only if every step passed.

    With `remote` (one StoreEndpoints, or two used in turn), the graphs go on to a remote store
    and the release keeps the dumps and build.json only: the server reads the remote store.
    `load_dir` has them bulk-loaded from there (see `upload_graphs`).
    """
    if remote:
        from treatygraph.store.remote import check_stores

        check_stores(remote, bulk=load_dir is not None)  # before minutes of building
    with build_lock(config.build_dir):
        progress("Loading ontology, shapes, sources and curated facts")
        assembled = assemble(config)
        progress("Validating with SHACL")
        report = validate(assembled)
        if not report.conforms:
            raise ValidationFailed(report)
        digest = input_digest(config)
        built_at = build_time()
        version = f"{__version__}+{digest[:12]}"
        releases = config.build_dir / "releases"
        releases.mkdir(parents=True, exist_ok=True)
        staging = releases / f".staging-{os.getpid()}-{time.time_ns()}"
        staging.mkdir()
        try:
            progress("Loading the Oxigraph store")
            load_store(assembled, staging / STORE_DIR, progress, lambda: _pause_at(config, "store"))
            progress("Writing the dumps")
            _pause_at(config, "dumps")
            import pyoxigraph as ox

            store = ox.Store.read_only(str(staging / STORE_DIR))
            triples = write_release_dumps(store, staging, assembled, version, built_at)
            name = f"{built_at.replace(':', '')}-{digest[:12]}-{time.time_ns()}"
            remote_info = None
            if remote:
                graphs = [assembled.ns.graph(graph) for graph in assembled.graphs]
                serving = _serving_store(config)
                upload = staging / "upload"
                remote_info = upload_graphs(
                    store, graphs, remote, serving, upload, name, load_dir, progress
                )
            del store
            if remote:
                shutil.rmtree(staging / STORE_DIR)
            info = BuildInfo(version, built_at, triples, digest, config.base_iri, remote_info)
            release = publish_release(config, staging, info, name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _prune(config, keep=release)
        progress(f"Built {version}: {triples} triples")
        return info


def rewrite_dumps(config: Config) -> BuildInfo:
    """Write the dumps of the current build again from its store."""
    import pyoxigraph as ox

    from treatygraph.rdf.io import store_graph
    from treatygraph.rdf.namespaces import ProjectNamespaces

    from .assemble import load_turtle_dir
    from .dumps import write_dumps

    release = current_release(config)
    if release is None:
        raise FileNotFoundError(f"no build in {config.build_dir}; run `treatygraph build` first")
    info = BuildInfo.read(release)
    if info.store:
        raise FileNotFoundError(
            f"the current build's graphs are in the remote store {info.store['graph_store']}, "
            "not kept here; run `treatygraph build --store …` to write the dumps again"
        )
    ns = ProjectNamespaces(info.base_iri)
    with build_lock(config.build_dir):
        store = ox.Store.read_only(str(release / STORE_DIR))
        ontology = store_graph(store, ns.graph(GRAPH_ONTOLOGY))
        shapes = load_turtle_dir(config.shapes_dir, ns)
        for stale in (*release.glob(".dumps-*"), *release.glob(".old-dumps-*")):
            shutil.rmtree(stale, ignore_errors=True)  # left by a rewrite that was killed
        staging = release / f".dumps-{os.getpid()}"
        write_dumps(store, staging, ns, ontology, shapes, info.version, info.built_at)
        # File by file, each replaced atomically, the checksums and the description last: the
        # folder being served never goes missing, and a killed rewrite leaves whole files.
        last = ("SHA256SUMS", "void.ttl")
        for path in sorted(staging.iterdir(), key=lambda p: (p.name in last, p.name)):
            os.replace(path, release / DUMPS_DIR / path.name)
        shutil.rmtree(staging)
    return info
