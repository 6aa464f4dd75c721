"""Shared fixtures: a build of the real data made once per session, an app over it, a live server."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from treatygraph.core.config import PROJECT_ROOT, Config
from treatygraph.publish.build import build

pytest_plugins = ["w3c_endpoints"]  # endpoints over the W3C SPARQL suites' data

TESTS = Path(__file__).parent
TEST_DATA = TESTS / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def config(tmp_path_factory) -> Config:
    """The project's real inputs, built into a folder of the test session's own."""
    return Config.from_env(build_dir=tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def built(config):
    """The BuildInfo of one build of the real data, shared by the whole session."""
    return build(config)


@pytest.fixture
def two_releases(config, built, tmp_path):
    """A build folder of its own holding two copies of the session's release, `first` current:
    (that folder's Config, first, second), for tests that swap between releases."""
    from treatygraph.publish.build import _swap_current, current_release

    source = current_release(config)
    build_dir = tmp_path / "build"
    first, second = build_dir / "releases" / "first", build_dir / "releases" / "second"
    shutil.copytree(source, first)
    shutil.copytree(source, second)
    swapped = Config(build_dir=build_dir)
    _swap_current(swapped, first)
    return swapped, first, second


@pytest.fixture
def inputs_copy(tmp_path) -> Config:
    """A private copy of every input, to break in a test, with its own build folder."""
    for name in ("data", "ontology", "shapes"):
        shutil.copytree(PROJECT_ROOT / name, tmp_path / name)
    return Config.from_env(
        data_dir=tmp_path / "data",
        ontology_dir=tmp_path / "ontology",
        shapes_dir=tmp_path / "shapes",
        build_dir=tmp_path / "build",
    )


@pytest.fixture(scope="session")
def app(config, built):
    from server.app import create_app

    application = create_app(config)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app):
    return app.test_client()


class LiveServer:
    """The app served over real HTTP on a free loopback port, in a thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def live_server(app):
    server = LiveServer(app).start()
    yield server
    server.stop()


class OxigraphServer:
    """A real `oxigraph serve-read-only` process on a free loopback port, over a store it loaded
    (`oxigraph serve`, which takes updates, with writable=True; queries stopped after
    `timeout_s` seconds when given)."""

    def __init__(
        self, location: Path, *files: Path, writable: bool = False, timeout_s: int | None = None
    ):
        oxigraph = Path(sys.executable).with_name("oxigraph")
        for file in files:
            subprocess.run(
                [str(oxigraph), "load", "--location", str(location), "--file", str(file)],
                check=True,
                capture_output=True,
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.query_url = f"{self.url}/query"
        self.process = subprocess.Popen(
            [
                str(oxigraph),
                "serve" if writable else "serve-read-only",
                "--location",
                str(location),
                "--bind",
                f"127.0.0.1:{self.port}",
                *(["--timeout-s", str(timeout_s)] if timeout_s else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"oxigraph exited: {self.process.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("oxigraph did not start listening within 20 s")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture(scope="session")
def wikidata_mirror(tmp_path_factory):
    """The query URL of a local stand-in for the Wikidata Query Service (tests/data/wikidata)."""
    server = OxigraphServer(
        tmp_path_factory.mktemp("wikidata-mirror"), TEST_DATA / "wikidata" / "extract.ttl"
    )
    yield server.query_url
    server.stop()


VIRTUOSO_MISSING = (
    "Virtuoso tests skipped: virtuoso-t is not installed and `make virtuoso` (run by "
    "`make test`) could not install Debian's virtuoso-opensource-7-bin"
)


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory):
    """A private Virtuoso for the session (bench/virtuoso.py). Skipped, saying why, when
    virtuoso-t is missing: `make test` installs it."""
    from bench.virtuoso import PrivateVirtuoso, installed

    if not installed():
        pytest.skip(VIRTUOSO_MISSING)
    server = PrivateVirtuoso(tmp_path_factory.mktemp("virtuoso")).start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
