"""Source documents: their text as received, served as it was when the build checked it, and shown
on the source's page with the passages that claims quote marked."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, abort, current_app
from markupsafe import Markup, escape

from .catalog import Catalog, catalog

blueprint = Blueprint("sources", __name__)

SPACE = re.compile(r"\s+")
PARAGRAPH = re.compile(r"\n\s*\n")
FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.txt$")


@dataclass
class SourceText:
    """What a source page shows of its document."""

    number: str  # `source 001`, as every other page cites it
    file_name: str
    href: str
    sha256: str
    paragraphs: list[Markup]
    marked: int  # quotes found in the text and marked
    tail: str  # what the unrelated tail at the end is, if there is one


def _sources_dir() -> Path:
    return current_app.config["TREATYGRAPH"].sources_dir


def _literal(cat: Catalog, iri: str, local: str) -> str:
    quads = cat.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(cat.tg + local), None)
    return next((q.object.value for q in quads), "")


def checked_text(cat: Catalog, iri: str) -> tuple[str, str, str] | None:
    """(file name, sha256, text) of a source document whose file still has the checksum the build
    recorded; None when the file is missing or has changed since."""
    file_name = _literal(cat, iri, "fileName")
    sha256 = _literal(cat, iri, "sha256").lower()
    if not FILE_NAME.match(file_name) or not sha256:
        return None
    path = _sources_dir() / file_name
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    return file_name, sha256, data.decode("utf-8", errors="replace")


def source_text(cat: Catalog, iri: str, quotes: list[str]) -> SourceText | None:
    """The page's view of a source document, quotes[i] marked as `#quote-{i+1}`."""
    found = checked_text(cat, iri)
    if found is None:
        return None
    file_name, sha256, text = found
    paragraphs = [SPACE.sub(" ", p).strip() for p in PARAGRAPH.split(text)]
    paragraphs = [p for p in paragraphs if p]
    whole = " ".join(paragraphs)
    spans = []
    for number, quote in enumerate(quotes, start=1):
        wanted = SPACE.sub(" ", quote).strip()
        at = whole.find(wanted) if wanted else -1
        if at >= 0:
            spans.append((at, at + len(wanted), number))
    kept, end = [], -1
    for span in sorted(spans):
        if span[0] >= end:
            kept.append(span)
            end = span[1]
    return SourceText(
        number=cat.source_name(iri),
        file_name=file_name,
        href=f"/sources/{file_name}",
        sha256=sha256,
        paragraphs=_marked(paragraphs, kept),
        marked=len(kept),
        tail=_literal(cat, iri, "tailDescription"),
    )


def _marked(paragraphs: list[str], spans: list[tuple[int, int, int]]) -> list[Markup]:
    """Each paragraph escaped, with <mark> around the parts of it inside a span."""
    result, start = [], 0
    for paragraph in paragraphs:
        stop = start + len(paragraph)
        html, at = Markup(""), start
        for begin, end, number in spans:
            begin, end = max(begin, start), min(end, stop)
            if begin >= end:
                continue
            html += escape(paragraph[at - start : begin - start])
            html += Markup('<mark><a href="#quote-{}">{}</a></mark>').format(
                number, paragraph[begin - start : end - start]
            )
            at = end
        html += escape(paragraph[at - start :])
        result.append(html)
        start = stop + 1  # the space that joined the paragraphs
    return result


@blueprint.get("/sources/<name>")
def original(name: str):
    """A source document byte for byte as received, while it matches the build's checksum."""
    cat = catalog()
    tg_file = ox.NamedNode(cat.tg + "fileName")
    subject = next(
        (q.subject.value for q in cat.store.quads_for_pattern(None, tg_file, ox.Literal(name))),
        None,
    )
    found = checked_text(cat, subject) if subject else None
    if found is None:
        abort(404)  # the site's not-found page, with suggestions
    response = Response(found[2], mimetype="text/plain")
    response.headers["Link"] = f'<{cat.href(subject)}>; rel="describedby"'
    response.headers["ETag"] = f'"{found[1][:32]}"'
    return response
