"""The servers under test, each started on a free loopback port and always stopped, and wrk."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from treatygraph.cli.commands import DEFAULT_HTTP_SERVER

from .processes import MemoryWatch, PeakMemory

BIN = Path(sys.executable).parent
WRK_SCRIPT = """
local requests = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  local accept, path = line:match("^([^\t]*)\t(.*)$")
  requests[#requests + 1] = { path = path, headers = { ["Accept"] = accept } }
end
local counter = 0
local threads = {}

setup = function(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end

init = function(args)
  counter = offset
end

request = function()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  return wrk.format("GET", r.path, r.headers)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process in its own process group, with its peak memory sampled while it runs.

    `env` is the server's whole environment (default: this process's).
    """

    def __init__(self, name: str, argv: list[str], url: str, ready_path: str, env=None, log=None):
        self.name = name
        self.url = url
        self.ready_path = ready_path
        self.log = open(log or os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            argv,
            env=os.environ if env is None else env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started = time.perf_counter()
        self.ready_seconds: float | None = None
        self._memory = MemoryWatch(self.process.pid)

    @property
    def peak_memory(self) -> PeakMemory:
        """The largest resident memory of the server's processes together, and its split."""
        return self._memory.peak

    @property
    def peak_rss_mib(self) -> float:
        return self._memory.peak.total_mib

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=5) as response:
                    if response.status < 500:
                        self.ready_seconds = time.perf_counter() - self.started
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        self._memory.stop()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# One wrk process is one client address to our endpoint. A crowd of clients would share the
# default pool of 3 query workers, and no one client's budget would run out: these settings give
# the one load generator as much (3 workers for it, and a fourth, idle, because no client may
# hold every worker; 64 queries in flight; a budget out of reach).
LOAD_GENERATOR_SETTINGS = {
    "TREATYGRAPH_QUERY_WORKERS": "4",
    "TREATYGRAPH_CLIENT_QUERY_WORKERS": "3",
    "TREATYGRAPH_MAX_CONCURRENT_QUERIES": "64",
    "TREATYGRAPH_CLIENT_QUERY_SECONDS": "1000000",
}
# `python -m bench` and bench.remote_store walk a list of a few hundred requests again and again
# to compare what the server computes with raw stores: kept answers and pages would flatter it.
# bench.serving and bench.release_cache measure the caches, apart from the cold paths.
WITHOUT_CACHES = {"TREATYGRAPH_ANSWER_CACHE_MB": "0", "TREATYGRAPH_PAGE_CACHE_MB": "0"}


def settings_text(settings: dict[str, str]) -> str:
    """Settings as a results file prints them: `NAME=value`, comma-separated."""
    return ", ".join(f"`{key}={value}`" for key, value in settings.items())


def treatygraph_server(
    build_dir: Path,
    log: Path,
    http_server: str = DEFAULT_HTTP_SERVER,
    settings: dict[str, str] | None = None,
) -> Server:
    """Our server exactly as `treatygraph serve --http-server ...` runs it, over a bench build.

    `settings` (TREATYGRAPH_* variables) are the only ones it gets: none is inherited from this
    process's environment, so a run is configured as its results say (default: the limits that
    let one load generator through, and no caches).
    """
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("TREATYGRAPH_")}
    env.update({**LOAD_GENERATOR_SETTINGS, **WITHOUT_CACHES} if settings is None else settings)
    env["TREATYGRAPH_BUILD_DIR"] = str(build_dir)
    argv = [str(BIN / "treatygraph"), "serve", "--port", str(port), "--http-server", http_server]
    if http_server == "granian":
        argv.append("--no-front")  # the front hands requests to gunicorn only
    return Server("treatygraph", argv, f"http://127.0.0.1:{port}", "/healthz", env, log)


def oxigraph_server(store: Path, log: Path) -> Server:
    port = free_port()
    argv = [
        str(BIN / "oxigraph"),
        "serve-read-only",
        "--location",
        str(store),
        "--bind",
        f"127.0.0.1:{port}",
        "--union-default-graph",
    ]
    return Server("oxigraph", argv, f"http://127.0.0.1:{port}", "/query?query=ASK%7B%7D", log=log)


def rdflib_endpoint_server(nquads: Path, log: Path) -> Server:
    port = free_port()
    argv = [
        str(BIN / "rdflib-endpoint"),
        "serve",
        str(nquads),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return Server("rdflib-endpoint", argv, f"http://127.0.0.1:{port}", "/?query=ASK%7B%7D", log=log)


def wrk(
    url: str,
    paths: list[tuple[str, str]],
    connections: int,
    seconds: float,
    work_dir: Path,
    timeout: float = 30,
) -> dict:
    """Run wrk against url with a round-robin over (path, Accept) pairs; return its summary."""
    script = work_dir / "mix.lua"
    script.write_text(WRK_SCRIPT)
    listing = work_dir / "paths.txt"
    listing.write_text("".join(f"{accept}\t{path}\n" for path, accept in paths))
    argv = [
        "wrk",
        "--threads",
        str(min(2, connections)),
        "--connections",
        str(connections),
        "--duration",
        f"{max(1, int(seconds))}s",
        "--timeout",
        f"{int(timeout)}s",
        "--script",
        str(script),
        url,
    ]
    env = {**os.environ, "BENCH_PATHS": str(listing)}
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=seconds + timeout + 60
    )
    last = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not last:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    result = json.loads(last[-1])
    seconds_run = result["duration_us"] / 1e6
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "requests": result["requests"],
        "ok": result["requests"] - result["status"] - result["timeout"],
        "errors": errors,
        "timeouts": result["timeout"],
        "rps": (result["requests"] - result["status"]) / seconds_run if seconds_run else 0.0,
        "p50_ms": result["p50_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "mib_per_s": result["bytes"] / seconds_run / (1 << 20) if seconds_run else 0.0,
    }


def sequential_p50_ms(url: str, paths: list[tuple[str, str]], n: int = 60) -> float:
    """Median latency of n (path, Accept) requests asked one after the other by one client,
    after 5 not counted."""
    samples = []
    for path, accept in paths[: n + 5]:
        request = urllib.request.Request(url + path, headers={"Accept": accept})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples[5:]) * 1000
