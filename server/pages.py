"""Pages for people: the home page."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
)

from .base_path import base_path
from .browse import kinds_with_counts
from .builds import NoBuild, current_build
from .catalog import catalog
from .release_cache import rendered
from .sparql.description import read_examples

blueprint = Blueprint("pages", __name__)

TIME = "http://www.w3.org/2006/time#"
SHOWN = 12
START_CLASSES = ("InternationalOrganization", "Treaty", "Charter", "Body", "Summit", "Session")


@blueprint.app_context_processor
def build_info_helper():
    return {"build_info": _build_info}


def _build_info():
    """The served build's facts for the footer; None while there is no build yet."""
    try:
        return current_build().info
    except NoBuild:
        return None


@blueprint.app_template_filter("plural")
def plural(noun: str, count: int) -> str:
    """`treaty`, 2 -> `treaties`; `body`, 1 -> `body`."""
    if count == 1:
        return noun
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


@blueprint.get("/favicon.ico")
def favicon():
    """Browsers ask every site for it; answer with the site's mark, not a 404."""
    return send_from_directory(
        current_app.static_folder, "favicon.ico", mimetype="image/vnd.microsoft.icon", max_age=86400
    )


MAX_LABELS = 500  # IRIs named in one request: a page of query results
MAX_IRI_LENGTH = 4_000


@blueprint.post("/labels")
def labels():
    """Names and local pages of IRIs, for the query page's result cells: the body is a JSON array
    of IRIs; the answer maps each one the dataset names to {"label", "href"}."""
    iris = request.get_json(silent=True)
    if not isinstance(iris, list) or not all(isinstance(iri, str) for iri in iris):
        return _refused("the request body must be a JSON array of IRI strings")
    if len(iris) > MAX_LABELS:
        return _refused(f"at most {MAX_LABELS} IRIs in one request, not {len(iris):,}")
    too_long = next((i for i, iri in enumerate(iris) if len(iri) > MAX_IRI_LENGTH), None)
    if too_long is not None:
        return _refused(f"IRI number {too_long + 1} is over {MAX_IRI_LENGTH:,} characters")
    cat = catalog()
    named = {}
    for iri in dict.fromkeys(iris):
        href = cat.href(iri)
        try:
            known = cat.exists(iri) if href else cat.rdfs_label(iri) is not None
        except ValueError:  # not an IRI at all
            continue
        if known:
            named[iri] = {"label": cat.label(iri), "href": href}
    return jsonify(named)


def _refused(message: str) -> Response:
    return Response(f"{message}\n", 400, mimetype="text/plain")


@blueprint.get("/")
def home():
    return Response(rendered("/", _home), mimetype="text/html")


def _home() -> str:
    build = current_build()
    cat = catalog()
    counts = [(cls, n) for cls, n in cat.class_counts if not cls.startswith(TIME)]
    totals = dict(counts)
    starts = []
    for name in START_CLASSES:
        iri = cat.tg + name
        if totals.get(iri):
            starts.append((iri, cat.most_linked(iri, SHOWN), totals[iri]))
    examples = read_examples(current_app.config["TREATYGRAPH"].queries_dir, build.ns)
    return render_template(
        "home.html",
        info=build.info,
        cat=cat,
        counts=counts,
        starts=starts,
        examples=examples,
        kinds=kinds_with_counts(cat),
        here=request.host_url.rstrip("/"),
        base_path=base_path(),
    )
