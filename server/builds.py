"""The open build the app serves: swapped for a newer one between requests, never during one."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from treatygraph.core.config import Config
from treatygraph.publish.build import DUMPS_DIR, BuildInfo, current_release
from treatygraph.rdf.namespaces import ProjectNamespaces
from treatygraph.store.opening import INFO_FILE, open_store


class NoBuild(Exception):
    """There is no good build to serve yet."""


@dataclass(frozen=True)
class OpenBuild:
    """One release, opened read-only; a request holds on to it from start to end."""

    release: Path
    store: ox.Store  # or a RemoteStore, which answers the same calls
    info: BuildInfo
    ns: ProjectNamespaces

    @property
    def dumps_dir(self) -> Path:
        return self.release / DUMPS_DIR


class BuildHandle:
    """Hands out the current build, reopening the store when `current` points somewhere new.

    Each request reads the `current` link (one system call) and compares its text with the last
    one read; only a new text is resolved and, if it names another release, opened. A release is
    never changed in place, so the same link text means the same build.
    """

    def __init__(self, config: Config):
        self.config = config
        self._link = str(config.current_build)
        self._lock = threading.Lock()
        self._open: OpenBuild | None = None
        self._open_link: str | None = None  # the text of the link `_open` was found through
        self._listeners: list[Callable[[OpenBuild], None]] = []

    def on_change(self, listener: Callable[[OpenBuild], None]) -> None:
        """Call `listener` with each newly opened build, before any request is given it."""
        self._listeners.append(listener)

    def _read_link(self) -> str | None:
        try:
            return os.readlink(self._link)
        except OSError:  # no link yet, or `current` is a folder: resolved the long way
            return None

    def _release(self, link: str | None) -> Path | None:
        if link is None:
            return current_release(self.config)
        target = (self.config.build_dir / link).resolve()
        return target if (target / INFO_FILE).is_file() else None

    def get(self) -> OpenBuild:
        link = self._read_link()
        current = self._open
        if current is not None and link is not None and link == self._open_link:
            return current
        with self._lock:
            release = self._release(link)
            if release is None:
                if self._open is not None:
                    return self._open
                raise NoBuild(f"no build in {self.config.build_dir}; run `treatygraph build`")
            if self._open is None or self._open.release != release:
                info = BuildInfo.read(release)
                store = open_store(release, timeout=self.config.query_timeout)
                opened = OpenBuild(release, store, info, ProjectNamespaces(info.base_iri))
                for listener in self._listeners:
                    listener(opened)
                self._open = opened
            self._open_link = link
            return self._open


def current_build() -> OpenBuild:
    """The build this request is served from, the same from start to end of the request."""
    from flask import current_app, g

    if "build" not in g:
        g.build = current_app.extensions["treatygraph.builds"].get()
    return g.build
