"""Dereferenceable IRIs: entities, ontology terms and the dataset, as pages for people and RDF for machines.

`{base}/id/{kind}/{slug}` and `{base}/ontology/{Term}` answer 303 See Other to a document under
`/doc/...` in the format the client asked for; documents with a suffix (`.ttl`, `.nt`, `.jsonld`,
`.rdf`, `.html`) give that format directly. The request path is mapped onto the build's base IRI, so
the server resolves its own IRIs whatever host it runs on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable

import pyoxigraph as ox
from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from .builds import NoBuild, current_build
from .catalog import Catalog, catalog
from .describe import Describer, entity_triples, term_triples
from .formats import DOCUMENT_FORMATS, HTML, Format, UnknownFormat, negotiate, split_suffix
from .release_cache import rendered
from .sources import source_text
from .strict_text import UnreadableRequest, parse_urlencoded, raw_query_string
from .timeline import membership_timelines

blueprint = Blueprint("linkeddata", __name__)

ONTOLOGY = "ontology"
FOAF = "http://xmlns.com/foaf/0.1/"
VOID = "http://rdfs.org/ns/void#"
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
OWL = "http://www.w3.org/2002/07/owl#"
ORG_POST = "http://www.w3.org/ns/org#Post"


@blueprint.after_request
def open_to_other_origins(response: Response) -> Response:
    """Linked data is public: scripts on any site may dereference our IRIs (no credentials)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "Link, Content-Location, ETag, Location"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Headers"] = (
            "Accept, If-None-Match, If-Modified-Since"
        )
    return response


# -- conditional requests and headers --------------------------------------------------------------
def build_etag(fmt_suffix: str) -> str:
    info = current_build().info
    digest = hashlib.sha256(f"{info.input_digest}|{info.built_at}".encode()).hexdigest()
    return f"{digest[:20]}-{fmt_suffix}"


def build_time() -> dt.datetime:
    text = current_build().info.built_at.replace("Z", "+00:00")
    return dt.datetime.fromisoformat(text).replace(microsecond=0)


def not_modified(etag: str, modified: dt.datetime) -> bool:
    """Whether the client's cached copy is still good (If-None-Match wins over If-Modified-Since)."""
    if request.if_none_match:
        return request.if_none_match.contains(etag)
    since = request.if_modified_since
    return since is not None and modified <= since


def alternates(stem: str) -> str:
    return ", ".join(
        f'<{stem}.{f.key}>; rel="alternate"; type="{f.media_type}"' for f in DOCUMENT_FORMATS
    )


def cached(response: Response, etag: str, modified: dt.datetime) -> Response:
    response.set_etag(etag)
    response.last_modified = modified
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


def used_prefixes(triples: Iterable[ox.Triple]) -> dict[str, str]:
    """The project's prefixes that occur in these triples, to keep documents short."""
    all_prefixes = current_build().ns.prefixes()
    iris = set()
    for triple in triples:
        for term in (triple.subject, triple.predicate, triple.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype is not None:
                iris.add(term.datatype.value)
    return {
        name: ns for name, ns in all_prefixes.items() if any(iri.startswith(ns) for iri in iris)
    }


def rdf_body(triples: list[ox.Triple], fmt: Format) -> bytes:
    return ox.serialize(triples, format=fmt.oxigraph, prefixes=used_prefixes(triples))


def document_response(
    stem: str,
    fmt: Format | None,
    triples: Callable[[], list[ox.Triple]],
    page: Callable[[], str],
) -> Response:
    """A document in the format of its suffix, or negotiated when it has none."""
    negotiated = fmt is None
    if negotiated:
        try:
            fmt = negotiate(request)
        except UnknownFormat as err:
            return Response(f"{err}\n", 400, mimetype="text/plain")
    etag, modified = build_etag(fmt.key), build_time()
    headers = {"Link": alternates(stem)}
    if negotiated:
        headers["Vary"] = "Accept"
        headers["Content-Location"] = f"{stem}.{fmt.key}"
    if not_modified(etag, modified):
        return cached(Response(status=304, headers=headers), etag, modified)
    body = rendered(
        (stem, fmt.key),
        lambda: page() if fmt.is_html else rdf_body(triples(), fmt),
        any_host=stem.startswith("/doc/"),
    )
    return cached(Response(body, mimetype=fmt.media_type, headers=headers), etag, modified)


def see_other(stem: str, fmt: Format | None = None) -> Response:
    """303 to the document in the asked-for format."""
    if fmt is None:
        try:
            fmt = negotiate(request)
        except UnknownFormat as err:
            return Response(f"{err}\n", 400, mimetype="text/plain")
    response = redirect(f"{stem}.{fmt.key}", code=303)
    response.headers["Vary"] = "Accept"
    response.headers["Link"] = alternates(stem)
    return response


def document_node(cat: Catalog, path: str) -> ox.NamedNode:
    return ox.NamedNode(f"{cat.base}{path}")


def about_document(cat: Catalog, stem: str, iri: str) -> list[ox.Triple]:
    """The document's own description: what it is about, its licence and dataset."""
    doc = document_node(cat, stem)
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    return [
        ox.Triple(doc, rdf_type, ox.NamedNode(FOAF + "Document")),
        ox.Triple(doc, ox.NamedNode(FOAF + "primaryTopic"), ox.NamedNode(iri)),
        ox.Triple(doc, ox.NamedNode("http://purl.org/dc/terms/license"), ox.NamedNode(LICENCE)),
        ox.Triple(doc, ox.NamedNode(VOID + "inDataset"), ox.NamedNode(f"{cat.base}/dataset")),
    ]


# -- not found ------------------------------------------------------------------------------------
def not_found(what: str, words: str) -> Response:
    """404: a page with label-search suggestions for people, a line of text for machines."""
    try:
        fmt = negotiate(request)
    except UnknownFormat:
        fmt = HTML
    if not fmt.is_html:
        return Response(f"{what} is not in this dataset.\n", 404, mimetype="text/plain")
    try:
        cat = catalog()
    except NoBuild:
        return Response(f"{what} is not here, and there is no build to search yet.\n", 404)
    hits = cat.similar(words)
    body = render_template("not_found.html", what=what, words=words, hits=hits, cat=cat)
    return Response(body, 404, mimetype="text/html")


@blueprint.app_errorhandler(404)
def any_unknown_path(err):
    """Every path nothing answers: the same helpful page as an unknown entity."""
    words = request.path.strip("/").replace("/", " ").replace("-", " ")
    return not_found(request.path, words)


# -- entities ---------------------------------------------------------------------------------------
@blueprint.get("/id/<kind>/<name>")
def entity_iri(kind: str, name: str):
    try:
        slug, fmt = split_suffix(name)
    except KeyError:
        return not_found(f"/id/{kind}/{name}", name.replace("-", " "))
    cat = catalog()
    iri = f"{cat.base}/id/{kind}/{slug}"
    if not _exists(cat, iri):
        return not_found(iri, slug.replace("-", " "))
    return see_other(f"/doc/{kind}/{slug}", fmt)


@blueprint.get("/doc/<kind>/<name>")
def entity_document(kind: str, name: str):
    if kind == ONTOLOGY:
        return term_document(name)
    try:
        slug, fmt = split_suffix(name)
    except KeyError:
        return not_found(f"/doc/{kind}/{name}", name.replace("-", " "))
    cat = catalog()
    iri = f"{cat.base}/id/{kind}/{slug}"
    if not _exists(cat, iri):
        return not_found(iri, slug.replace("-", " "))
    stem = f"/doc/{kind}/{slug}"
    return document_response(
        stem,
        fmt,
        lambda: entity_triples(cat, iri) + about_document(cat, stem, iri),
        lambda: entity_page(cat, iri, stem),
    )


def _exists(cat: Catalog, iri: str) -> bool:
    try:
        return cat.exists(iri)
    except ValueError:
        return False


def entity_page(cat: Catalog, iri: str, stem: str) -> str:
    page = Describer(cat, iri).page()
    timelines = membership_timelines(cat, iri)
    holders = cat.tenures(iri) if ORG_POST in cat.types_of(iri) else []
    document = None
    if page.quoted_by or cat.tg + "SourceDocument" in cat.types_of(iri):
        document = source_text(cat, iri, [c.quote for c in page.quoted_by])
    return render_template(
        "entity.html",
        page=page,
        cat=cat,
        stem=stem,
        timelines=timelines,
        formats=DOCUMENT_FORMATS,
        document=document,
        holders=holders,
        source_number=cat.source_name(iri) if document or page.quoted_by else None,
    )


# -- the ontology -----------------------------------------------------------------------------------
@blueprint.get("/ontology")
@blueprint.get("/ontology/")
def ontology_iri():
    return see_other("/doc/ontology")


@blueprint.get("/ontology/<name>")
def term_iri(name: str):
    cat = catalog()
    if _is_version_iri(cat, f"{cat.tg}{name}"):
        return see_other("/doc/ontology")
    try:
        term, fmt = split_suffix(name)
    except KeyError:
        return not_found(f"/ontology/{name}", name)
    if f"{cat.tg}{term}" not in cat.terms:
        return not_found(f"{cat.tg}{term}", term)
    return see_other(f"/doc/ontology/{term}", fmt)


def _is_version_iri(cat: Catalog, iri: str) -> bool:
    version = ox.NamedNode(OWL + "versionIRI")
    return any(
        q.object.value == iri
        for q in cat.store.quads_for_pattern(ox.NamedNode(cat.tg), version, None, None)
    )


def term_document(name: str):
    try:
        term, fmt = split_suffix(name)
    except KeyError:
        return not_found(f"/doc/ontology/{name}", name)
    cat = catalog()
    iri = f"{cat.tg}{term}"
    if iri not in cat.terms:
        return not_found(iri, term)
    stem = f"/doc/ontology/{term}"
    return document_response(
        stem,
        fmt,
        lambda: term_triples(cat, iri) + about_document(cat, stem, iri),
        lambda: render_template("term.html", term=cat.terms[iri], cat=cat, stem=stem),
    )


@blueprint.get("/doc/ontology")
@blueprint.get("/doc/ontology.<suffix>")
def ontology_document(suffix: str | None = None):
    try:
        fmt = split_suffix(f"x.{suffix}")[1] if suffix else None
    except KeyError:
        return not_found(f"/doc/ontology.{suffix}", "")
    cat = catalog()

    def triples() -> list[ox.Triple]:
        return [q.triple for q in cat.store.quads_for_pattern(None, None, None, cat.ontology_graph)]

    def page() -> str:
        terms = cat.own_terms()
        return render_template(
            "ontology.html",
            cat=cat,
            classes=[t for t in terms if t.is_class],
            properties=[t for t in terms if t.is_property],
            others=[t for t in terms if not t.is_class and not t.is_property],
            stem="/doc/ontology",
        )

    return document_response("/doc/ontology", fmt, triples, page)


@blueprint.get("/graph/<name>")
def graph_iri(name: str):
    """A named graph: described, with its size, in the dataset description; whole in the N-Quads dump."""
    cat = catalog()
    try:
        graph = ox.NamedNode(current_build().ns.graph(name))
    except ValueError:  # not an IRI at all (a backslash, a NUL, a space): no such graph
        return not_found(f"/graph/{name}", name.replace("-", " "))
    if next(iter(cat.store.quads_for_pattern(None, None, None, graph)), None) is None:
        return not_found(graph.value, name.replace("-", " "))
    response = redirect(url_for("dumps.index"), code=303)
    response.headers["Vary"] = "Accept"
    return response


# -- the dataset IRI and label search ---------------------------------------------------------------
@blueprint.get("/dataset")
def dataset_iri():
    try:
        fmt = negotiate(request)
    except UnknownFormat as err:
        return Response(f"{err}\n", 400, mimetype="text/plain")
    target = url_for("dumps.index") if fmt.is_html else f"/.well-known/void?format={fmt.key}"
    response = redirect(target, code=303)
    response.headers["Vary"] = "Accept"
    return response


# A search costs CPU in the web process in proportion to its text (fuzzy suggestions): its
# length is capped, and one address may run only a few at once (per web process).
MAX_SEARCH_CHARACTERS = 200
SEARCHES_PER_CLIENT = 2
SEARCHES = "treatygraph.searches"


class SearchSlots:
    """How many searches each client address is running in this web process."""

    def __init__(self):
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, client: str):
        """Whether this client may search now; counted while the search runs."""
        with self._lock:
            running = self._running.get(client, 0)
            admitted = running < SEARCHES_PER_CLIENT
            if admitted:
                self._running[client] = running + 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._running[client] -= 1
                    if not self._running[client]:
                        del self._running[client]


@blueprint.get("/search")
def search():
    try:
        args = parse_urlencoded(raw_query_string(request.environ), "the URL")
    except UnreadableRequest as err:
        return Response(f"{err}\n", 400, mimetype="text/plain")
    text = args.get("q", "").strip()
    if len(text) > MAX_SEARCH_CHARACTERS:
        message = (
            f"the search text `q` is {len(text):,} characters; at most {MAX_SEARCH_CHARACTERS}"
        )
        return Response(message + "\n", 400, mimetype="text/plain")
    slots = current_app.extensions.setdefault(SEARCHES, SearchSlots())
    with slots.slot(request.remote_addr or "unknown") as admitted:
        if not admitted:
            return Response(
                f"at most {SEARCHES_PER_CLIENT} searches at once from one address; try again\n",
                429,
                mimetype="text/plain",
                headers={"Retry-After": "1"},
            )
        return _search(args, text)


def _search(args, text: str) -> Response:
    cat = catalog()
    hits = cat.search(text) if text else []
    suggestions = cat.similar(text) if text and not hits else []
    wants_json = args.get("format") == "json" or (
        args.get("format") is None
        and request.accept_mimetypes.best_match(["text/html", "application/json"])
        == "application/json"
    )
    if wants_json:
        response = jsonify(
            query=text,
            results=[
                {
                    "iri": hit.iri,
                    "label": hit.label,
                    "matched": hit.matched,
                    "types": list(hit.types),
                    "page": cat.href(hit.iri),
                }
                for hit in hits
            ],
        )
    else:
        response = Response(
            render_template("search.html", q=text, hits=hits, suggestions=suggestions, cat=cat),
            mimetype="text/html",
        )
    response.headers["Vary"] = "Accept"
    return response
