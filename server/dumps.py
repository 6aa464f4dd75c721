"""The bulk dumps of the current build under /dumps/, and the VoID + DCAT description of the dataset.

`/dumps/` and `/.well-known/void` are the same description: an HTML listing of the distributions for
browsers, the RDF of `void.ttl` in any of the document formats for RDF clients.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, abort, render_template, request, send_from_directory

from treatygraph.publish.dumps import DISTRIBUTIONS

from .builds import current_build
from .formats import DOCUMENT_FORMATS, UnknownFormat, negotiate
from .release_cache import rendered

blueprint = Blueprint("dumps", __name__)
SERVED = {d.file: d.media_type for d in DISTRIBUTIONS} | {
    "SHA256SUMS": "text/plain; charset=utf-8",
    "void.ttl": "text/turtle",
}
GZIP = "application/gzip"
SPDX = "http://spdx.org/rdf/terms#"
DCAT = "http://www.w3.org/ns/dcat#"


def _description() -> Response:
    from .linkeddata import build_etag, build_time, cached, not_modified, used_prefixes

    try:
        fmt = negotiate(request)
    except UnknownFormat as err:
        return Response(f"{err}\n", 400, mimetype="text/plain")
    build = current_build()
    etag, modified = build_etag(f"void-{fmt.key}"), build_time()
    links = ", ".join(
        f'</.well-known/void?format={f.key}>; rel="alternate"; type="{f.media_type}"'
        for f in DOCUMENT_FORMATS
    )
    headers = {"Vary": "Accept", "Link": links}
    if not_modified(etag, modified):
        return cached(Response(status=304, headers=headers), etag, modified)

    def render() -> str | bytes:
        void_ttl = (build.dumps_dir / "void.ttl").read_bytes()
        triples = list(ox.parse(void_ttl, format=ox.RdfFormat.TURTLE))
        if fmt.is_html:
            return render_template("dumps.html", rows=_rows(build, triples), info=build.info)
        return ox.serialize(triples, format=fmt.oxigraph, prefixes=used_prefixes(triples))

    body = rendered(("dataset description", fmt.key), render)
    return cached(Response(body, mimetype=fmt.media_type, headers=headers), etag, modified)


def _rows(build, triples: list[ox.Triple]) -> list[dict]:
    """One row per distribution, read from the VoID description the build wrote."""
    by_subject: dict[str, dict[str, str]] = {}
    for t in triples:
        by_subject.setdefault(t.subject.value, {})[t.predicate.value] = t.object.value
    rows = []
    for dist in DISTRIBUTIONS:
        node = f"{build.ns.base}/dumps/{dist.file}"
        props = by_subject.get(node, {})
        checksum = by_subject.get(props.get(SPDX + "checksum", ""), {})
        rows.append(
            {
                "file": dist.file,
                "title": dist.title,
                "media_type": dist.media_type,
                "size": int(props.get(DCAT + "byteSize", "0")),
                "sha256": checksum.get(SPDX + "checksumValue", ""),
                "licence": props.get("http://purl.org/dc/terms/license", ""),
            }
        )
    return rows


@blueprint.get("/dumps/")
def index():
    return _description()


@blueprint.get("/.well-known/void")
def well_known_void():
    return _description()


@blueprint.get("/dumps/<name>")
def dump(name: str):
    """A dump file as it is; a gzip file as `application/gzip`, byte for byte (so its checksum
    holds), unless the client asks for RDF and not for a gzip file (as `rdflib.Graph().parse(url)`
    does): then its content, unpacked as it is sent."""
    if name not in SERVED:
        abort(404)
    build = current_build()
    if not name.endswith(".gz"):
        return send_from_directory(build.dumps_dir, name, mimetype=SERVED[name], etag=True)
    inner = SERVED[name]
    if request.accept_mimetypes.best_match([GZIP, inner], default=GZIP) == GZIP:
        response = send_from_directory(build.dumps_dir, name, mimetype=GZIP, etag=True)
    else:
        response = Response(_unpacked(build.dumps_dir / name), mimetype=inner)
    response.headers["Vary"] = "Accept"
    return response


def _unpacked(path: Path) -> Iterator[bytes]:
    with gzip.open(path, "rb") as packed:
        while chunk := packed.read(1 << 16):
            yield chunk
