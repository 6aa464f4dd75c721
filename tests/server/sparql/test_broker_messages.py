"""The broker reads data, not code: its socket takes JSON messages of a fixed shape, and anything
else (a pickle that would run code when unpickled, a malformed message) ends that connection
without effect, while the broker goes on serving."""

from __future__ import annotations

import json
import pickle
import socket
import threading
from pathlib import Path

import pytest

from server.sparql.broker import Broker


class _Bomb:
    """Unpickling this creates a file: proof that the reader ran the sender's code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def broker(config, tmp_path):
    path = tmp_path / "broker.socket"
    broker = Broker(config, path)  # its pool starts no worker until one is asked for
    threading.Thread(target=broker.serve_forever, daemon=True).start()
    yield path
    broker.close()


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(10)
    sock.connect(str(path))
    return sock


def test_a_pickle_bomb_on_the_brokers_socket_runs_nothing_and_is_refused(broker, tmp_path):
    marker = tmp_path / "the-bomb-went-off"
    with _connect(broker) as sock:
        sock.send(pickle.dumps(("ping", _Bomb(marker))))
        assert sock.recv(65536) == b"", "the broker kept a connection that sent a pickle"
    assert not marker.exists(), "the broker ran code it was sent"
    with _connect(broker) as sock:  # and it goes on serving
        sock.send(b'["ping"]')
        assert json.loads(sock.recv(65536)) == ["pong"]


@pytest.mark.parametrize(
    "message",
    [b'["lease", 5, "soon"]', b'["back", "yes"]', b'{"lease": 1}', b'["shell", "rm"]', b"\xff"],
)
def test_a_malformed_message_ends_its_connection(broker, message):
    with _connect(broker) as sock:
        sock.send(message)
        assert sock.recv(65536) == b""


def test_the_brokers_status_comes_as_json(broker):
    with _connect(broker) as sock:
        sock.send(b'["status"]')
        kind, status = json.loads(sock.recv(65536))
    assert kind == "status" and status["clients"] == {} and status["kills"] == 0
