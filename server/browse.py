"""Lists of records by kind (states, persons, terms of office…), sorted by name and paged, so that
people and crawlers reach every record of the dataset by links from the home page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Response, render_template, request

from treatygraph.rdf.namespaces import ORG

from .catalog import Catalog, catalog, normalize
from .linkeddata import not_found
from .release_cache import rendered

blueprint = Blueprint("browse", __name__)

PAGE_SIZE = 100


@dataclass(frozen=True)
class Kind:
    """One list: its address, its title, and the classes (with their subclasses) it gathers."""

    slug: str
    title: str
    classes: tuple[str, ...]  # local names in the ontology, or full IRIs
    blurb: str = ""


KINDS = (
    Kind("states", "States", ("State",), "Countries, members or not."),
    Kind("persons", "Persons", ("Person",), "Heads of state, ministers, secretaries general."),
    Kind("organizations", "Organizations", ("InternationalOrganization",), "The CSTO, the CIS…"),
    Kind("bodies", "Bodies", ("Body",), "Councils, committees and secretariats."),
    Kind("treaties", "Treaties", ("LegalInstrument", "TreatyArticle"), "Treaties, charters…"),
    Kind("documents", "Adopted documents", ("AdoptedDocument",), "Decisions and statements."),
    Kind("meetings", "Meetings", ("Meeting",), "Summits and sessions."),
    Kind("events", "Events", ("Event",), "Signatures, accessions, suspensions…"),
    Kind("posts", "Posts", (str(ORG) + "Post",), "Offices such as Secretary General."),
    Kind("terms", "Terms of office", ("TermOfOffice",), "Who held which post, and when."),
    Kind("memberships", "Memberships", (str(ORG) + "Membership",), "Who belonged to what."),
    Kind("chairmanships", "Chairmanships", ("Chairmanship",), "Who chaired what, and when."),
    Kind("forces", "Forces and operations", ("Force", "Operation")),
    Kind("places", "Places", ("Place",)),
    Kind("sources", "Sources", ("SourceDocument",), "The documents every statement quotes."),
)
OTHER = Kind("other", "Other records", ())


def kind_classes(cat: Catalog, kind: Kind) -> set[str]:
    return {c if "/" in c else cat.tg + c for c in kind.classes}


def members(cat: Catalog, kind: Kind) -> list[str]:
    """The records of a kind, sorted by name (sources by their number); once per build."""
    if kind.slug not in cat.lists:
        cat.lists[kind.slug] = _members(cat, kind)
    return cat.lists[kind.slug]


def _members(cat: Catalog, kind: Kind) -> list[str]:
    roots = kind_classes(cat, kind)
    covered = set().union(*(kind_classes(cat, k) for k in KINDS))
    found = []
    for iri, classes in cat.entities.items():
        above = set().union(*(cat.ancestors(c) for c in classes))
        if (above & roots) if kind is not OTHER else not (above & covered):
            found.append(iri)
    return sorted(found, key=lambda iri: (normalize(list_name(cat, iri)), iri))


def class_members(cat: Catalog, cls: str) -> list[str]:
    """The instances of a class and of its subclasses, sorted by name; once per build."""
    if cls not in cat.lists:
        cat.lists[cls] = _class_members(cat, cls)
    return cat.lists[cls]


def _class_members(cat: Catalog, cls: str) -> list[str]:
    found = [
        iri
        for iri, classes in cat.entities.items()
        if any(cls in cat.ancestors(c) for c in classes)
    ]
    return sorted(found, key=lambda iri: (normalize(list_name(cat, iri)), iri))


def list_name(cat: Catalog, iri: str) -> str:
    """How a list names a record: sources as the pages cite them, then their title."""
    name = cat.label(iri)
    if cat.tg + "SourceDocument" in cat.entities.get(iri, ()):
        number = cat.source_name(iri)
        return f"{number}: {name}" if number != name else name
    return name


def kinds_with_counts(cat: Catalog) -> list[tuple[Kind, int]]:
    """Every kind that has records, with how many; the catch-all last."""
    counted = [(kind, len(members(cat, kind))) for kind in (*KINDS, OTHER)]
    return [(kind, n) for kind, n in counted if n]


def kind_for_class(cat: Catalog, cls: str) -> Kind | None:
    """The list whose root is this class, for a class page's "list them" link."""
    return next((k for k in KINDS if cls in kind_classes(cat, k)), None)


class BadPage(ValueError):
    pass


def page_number(total: int) -> int:
    """`?page=` (1 by default), checked against the number of pages."""
    text = request.args.get("page", "1")
    pages = max(1, -(-total // PAGE_SIZE))
    if not text.isdigit() or not 1 <= int(text) <= pages:
        raise BadPage(
            f"the parameter `page` must be a whole number from 1 to {pages}, not {text!r}"
        )
    return int(text)


def list_page(title: str, blurb: str, items: list[str], path: str) -> Response:
    cat = catalog()
    try:
        number = page_number(len(items))
    except BadPage as err:
        return Response(f"{err}\n", 400, mimetype="text/plain")

    def render() -> str:
        start = (number - 1) * PAGE_SIZE
        shown = [(iri, list_name(cat, iri)) for iri in items[start : start + PAGE_SIZE]]
        return render_template(
            "browse.html",
            cat=cat,
            title=title,
            blurb=blurb,
            shown=shown,
            total=len(items),
            number=number,
            pages=max(1, -(-len(items) // PAGE_SIZE)),
            first=start + 1,
            path=path,
        )

    return Response(rendered((path, number), render), mimetype="text/html")


@blueprint.get("/browse")
@blueprint.get("/browse/")
def index():
    def render() -> str:
        cat = catalog()
        return render_template("browse_index.html", cat=cat, kinds=kinds_with_counts(cat))

    return Response(rendered("/browse", render), mimetype="text/html")


@blueprint.get("/browse/<slug>")
def kind_list(slug: str):
    kind = next((k for k in (*KINDS, OTHER) if k.slug == slug), None)
    if kind is None:
        return not_found(f"/browse/{slug}", slug)
    return list_page(kind.title, kind.blurb, members(catalog(), kind), f"/browse/{slug}")


@blueprint.get("/browse/class/<name>")
def class_list(name: str):
    cat = catalog()
    cls = cat.tg + name
    term = cat.terms.get(cls)
    if term is None or not term.is_class:
        return not_found(f"/browse/class/{name}", name)
    title = f"Every {term.label}"
    return list_page(title, term.comment, class_members(cat, cls), f"/browse/class/{name}")


@blueprint.app_context_processor
def browse_helpers():
    return {"list_of_class": lambda cls: _class_list_path(catalog(), cls)}


def _class_list_path(cat: Catalog, cls: str) -> str | None:
    """The list of a kind rooted at this class, else of the class itself; None when it has no
    records (claims and instants live inside their records' documents)."""
    kind = kind_for_class(cat, cls)
    if kind is not None:
        return f"/browse/{kind.slug}"
    if cls.startswith(cat.tg) and class_members(cat, cls):
        return f"/browse/class/{cls[len(cat.tg) :]}"
    return None
