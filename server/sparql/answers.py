"""Answers of the current release, kept and revalidated: a query asked again costs no query worker.

An answer is named by a digest of the release, the exact query text, the dataset parameters and
the negotiated format; its ETag is that digest. Kept in memory (a `ReleaseCache`) are complete
answers only: never an error, a cut answer (more rows than the limit), a streamed one (its end
was not known when its headers went out), nor one of a query whose answer may differ between runs
(SERVICE asks another endpoint; NOW(), RAND(), UUID() and STRUUID() change by themselves). The
query is read and checked (Update, SERVICE allowlist, syntax) before an answer is looked up, so a
kept answer is never served to a request that would be refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response, current_app, request

from treatygraph.core.config import Config
from treatygraph.sparql.text import QueryText

from ..builds import OpenBuild
from ..release_cache import ReleaseCache
from .formats import Format

ANSWERS = "treatygraph.sparql.answers"
# As for entity pages: a release never changes, but a new build may replace it at any moment, so
# a cache in front may serve an answer for a minute and then revalidates it (a cheap 304).
MAX_AGE = 60
SHARED = f"public, max-age={MAX_AGE}"
SAFE_METHODS = ("GET", "HEAD")  # POST answers are kept here, but not offered to other caches
# Readings of queries share the cache with the answers, under (READING, text); answers are under
# their tag, a string.
READING = "reading"
READING_BYTES_PER_CHARACTER = 3  # the text, as sent and decoded, and the parts read from it


def answer_cache(config: Config) -> ReleaseCache:
    return ReleaseCache(config.answer_cache_mb << 20, config.answer_cache_entry_kb << 10)


@dataclass(frozen=True)
class Kept:
    body: bytes
    content_type: str


def read(build: OpenBuild, raw_query: str, read_query: Callable[[], QueryText]) -> QueryText:
    """The query as `read_query` reads (and checks) it, remembered for the release once accepted.

    Reading depends only on the text, the release's prefixes and the allowlist, and tokenizing a
    long query costs more than answering it from memory (0.13 ms for 900 characters). A text that
    was refused is never remembered: it is read, and refused, each time.
    """
    cache = current_app.extensions[ANSWERS]
    key = (READING, raw_query)
    query = cache.get(build, key)
    if query is None:
        query = read_query()
        cache.put(build, key, query, READING_BYTES_PER_CHARACTER * len(raw_query))
    return query


def answer_tag(
    build: OpenBuild,
    query: QueryText,
    raw_query: str,
    default_graphs: tuple[str, ...] | None,
    named_graphs: tuple[str, ...] | None,
    fmt: Format,
) -> str | None:
    """The name of this answer of this release (also its ETag); None when it may change."""
    if query.services or query.volatile:
        return None
    info = build.info
    named = [build.release.name, info.input_digest, info.built_at, fmt.key]
    text = json.dumps([*named, default_graphs, named_graphs, raw_query])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def served(build: OpenBuild, tag: str | None) -> Response | None:
    """304 when the client holds this answer, else the kept answer; None: it must be run."""
    if tag is None:
        return None
    if request.method in SAFE_METHODS and request.if_none_match.contains_weak(tag):
        return _cacheable(Response(status=304), tag)
    kept = current_app.extensions[ANSWERS].get(build, tag)
    if kept is None:
        return None
    return _cacheable(Response(kept.body, content_type=kept.content_type), tag)


def keep(
    build: OpenBuild, tag: str | None, response: Response, cut: bool, reached_out: bool
) -> Response:
    """Keep a complete answer and say for how long others may; say no-store for the rest.

    `reached_out`: the evaluation had requests made for it (a SERVICE call, whatever the reader
    saw), so its answer depends on another server and is never kept."""
    complete = response.status_code == 200 and response.is_sequence
    if tag is None or not complete or cut or reached_out:
        response.cache_control.no_store = True
        return response
    body = response.get_data()
    current_app.extensions[ANSWERS].put(build, tag, Kept(body, response.content_type), len(body))
    return _cacheable(response, tag)


def _cacheable(response: Response, tag: str) -> Response:
    if request.method in SAFE_METHODS:
        # Weak: the same answer, not always the same bytes (blank nodes a CONSTRUCT template
        # makes are named anew at each run).
        response.headers["ETag"] = f'W/"{tag}"'
        response.headers["Cache-Control"] = SHARED
    return response
