"""The open build the app serves: swapped for a newer one between requests, never during one."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from treatygraph.build import DUMPS_DIR, BuildInfo, current_release
from treatygraph.config import Config
from treatygraph.namespaces import ProjectNamespaces
from treatygraph.stores import open_store


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
    """Hands out the current build, reopening the store when `current` points somewhere new."""

    def __init__(self, config: Config):
        self.config = config
        self._lock = threading.Lock()
        self._open: OpenBuild | None = None

    def _target(self) -> Path | None:
        try:
            return (self.config.build_dir / os.readlink(self.config.current_build)).resolve()
        except OSError:
            return None

    def get(self) -> OpenBuild:
        target = self._target()
        current = self._open
        if current is not None and current.release == target:
            return current
        with self._lock:
            if self._open is not None and self._open.release == target:
                return self._open
            release = current_release(self.config)
            if release is None:
                if self._open is not None:
                    return self._open
                raise NoBuild(f"no build in {self.config.build_dir}; run `treatygraph build`")
            info = BuildInfo.read(release)
            store = open_store(release, timeout=self.config.query_timeout)
            self._open = OpenBuild(release, store, info, ProjectNamespaces(info.base_iri))
            return self._open


def current_build() -> OpenBuild:
    """The build this request is served from, the same from start to end of the request."""
    from flask import current_app, g

    if "build" not in g:
        g.build = current_app.extensions["treatygraph.builds"].get()
    return g.build
