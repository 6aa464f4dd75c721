"""Helpers for the reliability suites: the CLI and `treatygraph serve` as real processes, a slow
SPARQL endpoint to stand in for Wikidata, and a record that tells two builds apart."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from conftest import free_port

from treatygraph.core.config import Config
from treatygraph.publish.build import BuildInfo, _swap_current, current_release

WIKIDATA = "https://query.wikidata.org/sparql"
MARKER = "https://w3id.org/treatygraph/id/state/ruritania"
MARKER_RECORD = """\
- id: state/ruritania
  type: State
  label: Ruritania
  sources:
  - source: csto-2019-russia-chairmanship
    quote: Armenia is a founding member of the CSTO.
"""
# One answer that depends on the whole store: a mix of two builds could not give either pair.
FINGERPRINT = (
    "SELECT (COUNT(*) AS ?n) (SUM(IF(?s = <" + MARKER + ">, 1, 0)) AS ?marked) WHERE { ?s ?p ?o }"
)


def add_marker_record(config: Config) -> None:
    """Add one valid record, so the next build differs from the last in a known way."""
    (config.facts_dir / "zz-reliability-marker.yaml").write_text(MARKER_RECORD, encoding="utf-8")


def seed_with(built: Config, config: Config) -> BuildInfo:
    """Give `config` a copy of the session's good build as its current one (cheaper than a build)."""
    source = current_release(built)
    release = config.build_dir / "releases" / source.name
    shutil.copytree(source, release)
    _swap_current(config, release)
    return BuildInfo.read(release)


def cli_env(config: Config, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TREATYGRAPH_DATA_DIR": str(config.data_dir),
        "TREATYGRAPH_ONTOLOGY_DIR": str(config.ontology_dir),
        "TREATYGRAPH_SHAPES_DIR": str(config.shapes_dir),
        "TREATYGRAPH_BUILD_DIR": str(config.build_dir),
    }
    env.update(extra)
    return env


def fingerprint(base_url: str, session: requests.Session | None = None) -> tuple[int, int]:
    """(triples, triples about the marker) from one SPARQL answer."""
    response = (session or requests).get(
        f"{base_url}/sparql",
        params={"query": FINGERPRINT},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    response.raise_for_status()
    row = response.json()["results"]["bindings"][0]
    return int(row["n"]["value"]), int(row["marked"]["value"])


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as listed:
            found += [int(child) for child in listed.read().split()]
    return found


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read()


def web_processes(server: int) -> set[int]:
    """gunicorn's web processes under `treatygraph serve`: the children of its master, which is
    the server's process itself without the front, its child with it."""
    master = server
    if b"gunicorn" not in _cmdline(server):
        (master,) = (pid for pid in children(server) if b"gunicorn" in _cmdline(pid))
    return {pid for pid in children(master) if b"server.sparql.broker" not in _cmdline(pid)}


class ServeProcess:
    """`treatygraph serve` (gunicorn) as the product starts it, on a free loopback port."""

    def __init__(self, config: Config, **env: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe: nobody reads the access log while the test runs, and a full pipe
        # would block the server.
        self.log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "treatygraph", "serve", "--port", str(self.port)],
            env=cli_env(config, **{"TREATYGRAPH_QUERY_WORKERS": "2", **env}),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # still starting up
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready within {timeout} s")

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to gunicorn's master, as a process manager stops it; its exit status."""
        os.kill(self.process.pid, signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()


@contextlib.contextmanager
def serving(config: Config, **env: str):
    server = ServeProcess(config, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


class SlowSparqlEndpoint:
    """A SPARQL endpoint on loopback that answers every query with one row, after `delay` s."""

    def __init__(self, delay: float):
        self.delay = delay
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                outer.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                time.sleep(outer.delay)
                body = json.dumps(
                    {
                        "head": {"vars": ["slow"]},
                        "results": {"bindings": [{"slow": {"type": "literal", "value": "late"}}]},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def mirrors(self) -> str:
        """TREATYGRAPH_SERVICE_MIRRORS sending the Wikidata SERVICE here."""
        return f"{WIKIDATA}={self.url}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SLOW_QUERY = f"SELECT ?slow WHERE {{ SERVICE <{WIKIDATA}> {{ ?slow ?p ?o }} }}"
