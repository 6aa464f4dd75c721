"""Opening a release's store: its own Oxigraph store, or the remote store it was loaded into.

Kept free of the build's heavy imports: every query worker process imports it.
"""

from __future__ import annotations

import json
from pathlib import Path

STORE_DIR = "store"
INFO_FILE = "build.json"


def open_store(release: Path, timeout: float = 60.0):
    """A release's store, read-only: a `pyoxigraph.Store`, or a `RemoteStore` (same calls)."""
    remote = json.loads((release / INFO_FILE).read_text(encoding="utf-8")).get("store")
    if remote:
        from .remote import RemoteStore

        return RemoteStore(remote["query"], remote["graphs"], timeout, remote.get("dialect", ""))
    import pyoxigraph as ox

    return ox.Store.read_only(str(release / STORE_DIR))
