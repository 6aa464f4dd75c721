"""What the server made from the current release, kept in memory so it is made once per release.

A release never changes once built, so a page, an RDF document or a SPARQL answer made from it is
the same the next time it is asked for. Each cache is bounded in bytes, drops the least recently
used entry first, and is emptied when the server opens another release (`BuildHandle.on_change`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from flask import current_app, request

from treatygraph.core.config import Config

from .builds import current_build

PAGES = "treatygraph.release_cache.pages"
ENTRY_OVERHEAD = 200  # bytes counted for an entry's key and bookkeeping besides its body
PAGE_ENTRY_SHARE = 8  # no page may take more than this fraction of the page cache


class ReleaseCache:
    """Values made from one release, by key: at most `max_bytes` in all, none over
    `max_entry_bytes`, the least recently used dropped first, all forgotten on `follow`.

    The release is the open build itself, compared by identity: a request still holding the
    previous one neither reads nor fills the cache of the next.
    """

    def __init__(self, max_bytes: int, max_entry_bytes: int):
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self.size = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._release: object = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:
        """The keys kept, least recently used first (as they were when asked)."""
        with self._lock:
            return iter(list(self._entries))

    def follow(self, release: object) -> None:
        """Forget everything: `release` is served from now on."""
        with self._lock:
            self._release = release
            self._entries.clear()
            self.size = 0

    def get(self, release: object, key: Hashable) -> Any | None:
        """The value kept for `key` of `release`, or None."""
        if release is not self._release:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, release: object, key: Hashable, value: Any, size: int) -> bool:
        """Keep `value` (`size` bytes) unless it is too large or `release` is no longer served."""
        cost = size + ENTRY_OVERHEAD
        if size > self.max_entry_bytes or cost > self.max_bytes:
            return False
        with self._lock:
            if release is not self._release:
                return False
            previous = self._entries.pop(key, None)
            if previous is not None:
                self.size -= previous[1]
            self._entries[key] = (value, cost)
            self.size += cost
            while self.size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self.size -= dropped
        return True


def page_cache(config: Config) -> ReleaseCache:
    total = config.page_cache_mb << 20
    return ReleaseCache(total, total // PAGE_ENTRY_SHARE)


def rendered(key: Hashable, render: Callable[[], str | bytes], any_host: bool = False) -> bytes:
    """The body of a page or document of the current release, rendered on its first request.

    `key` names it within the release (path and format). The public root the request came
    through (scheme, host, mount path) is added: pages may write it (`url_for`, the home page's
    line on how IRIs map to this server). A body that names no host (`any_host`: entity pages
    and documents, whose links are root-relative and whose IRIs are the build's) is kept once
    for every host, under its mount path only, so it can be rendered ahead of any request.
    """
    build = current_build()
    cache: ReleaseCache = current_app.extensions[PAGES]
    full_key = (request.script_root if any_host else request.url_root, key)
    body = cache.get(build, full_key)
    if body is None:
        made = render()
        body = made.encode() if isinstance(made, str) else made
        cache.put(build, full_key, body, len(body))
    return body


def room_left(fraction: float) -> bool:
    """Whether the page cache is less than `fraction` full."""
    cache: ReleaseCache = current_app.extensions[PAGES]
    return cache.size < cache.max_bytes * fraction
