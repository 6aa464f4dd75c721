"""Helpers for the SPARQL endpoint tests: an app of its own per configuration, a silent socket."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading

import requests
from conftest import LiveServer
from requests.adapters import HTTPAdapter

CSTO = "https://w3id.org/treatygraph/id/organization/csto"
ARMENIA = "https://w3id.org/treatygraph/id/state/armenia"
WIKIDATA = "https://query.wikidata.org/sparql"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"


@contextlib.contextmanager
def endpoint_server(config, **overrides):
    """A live server over the session's build with some settings changed; its workers stopped after.

    `server.app` is the app, so a test can look at its query workers.
    """
    from server.app import create_app
    from server.sparql import shutdown

    app = create_app(dataclasses.replace(config, **overrides))
    app.config["TESTING"] = True
    server = LiveServer(app).start()
    server.app = app
    try:
        yield server
    finally:
        server.stop()
        shutdown(app)


class _SourceAddressAdapter(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    """A session whose connections come from another loopback address (127.0.0.2 …), so the
    endpoint counts it as another client."""
    session = requests.Session()
    session.mount("http://", _SourceAddressAdapter(address))
    return session


class SilentSocket:
    """A loopback port that listens and records every connection made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"
        self.connections: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.connections.append(peer)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class HangingSocket:
    """A loopback port that accepts connections and never answers (a remote endpoint that hangs)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/sparql"

    def close(self) -> None:
        self.sock.close()
