"""`python -m bench.slow_clients`: page and lookup latency while slow clients hang on.

`treatygraph serve` over the real build as `make run` starts it (with its front), and the same
with `--no-front` (gunicorn facing the clients, as before the front: the reference, in the same
run). Against each, SLOW connections from 60 loopback addresses (127.0.0.100-159) send their
requests a byte every PAUSE seconds (half a request head, half a POST body announced as 100,000
bytes) while one probe client asks for /healthz, the home page and entity pages in turn. Reported:
probes, failures, latency p50 / p90 / p99 / max, and the share answered within 1 s. Results go to
bench/results/YYYY-MM-DD-<host>-slow-clients.md.

Exits 1 when, with the front, a probe failed or took 1 s or more.

    python -m bench.slow_clients                    # 200 slow connections, 20 s each
    python -m bench.slow_clients --slow 400 --seconds 30 --build-dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .__main__ import RESULTS, load_average, log, machine
from .servers import BIN, Server, free_port
from .serving import real_build

ADDRESSES = [f"127.0.0.{n}" for n in range(100, 160)]
PROBE_PATHS = ["/healthz", "/", "/doc/organization/csto.html", "/id/state/armenia"]
PAUSE = 0.5
PROBE_TIMEOUT = 10.0


@dataclass
class Run:
    name: str
    latencies: list[float]
    failures: int

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def within_a_second(self) -> int:
        return sum(1 for seconds in self.latencies if seconds < 1.0)

    def row(self) -> str:
        total = len(self.latencies) + self.failures
        cells = [f"{self.percentile(p) * 1000:,.0f}" for p in (0.5, 0.9, 0.99)]
        cells.append(f"{max(self.latencies, default=0) * 1000:,.0f}")
        if not self.latencies:
            cells = ["n/a"] * 4  # every probe failed
        return (
            f"| {self.name} | {total} | {self.failures} | {' | '.join(cells)} | "
            f"{self.within_a_second}/{total} |"
        )


class SlowClients:
    """`count` connections from `addresses` in turn that send their requests a byte every `pause`
    seconds and never finish: half trickle a request head, half a POST body announced as 100,000
    bytes long. A context manager: leaving it stops the trickle and closes them."""

    def __init__(self, port: int, count: int, addresses: list[str], pause: float):
        self.sockets = []
        for n in range(count):
            sock = socket.create_connection(
                ("127.0.0.1", port), 10, source_address=(addresses[n % len(addresses)], 0)
            )
            start = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
            if n % 2:
                start = b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nq"
            sock.sendall(start)
            self.sockets.append(sock)
        self.pause = pause
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(self.pause):
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> SlowClients:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def measure(
    name: str, build_dir: Path, front: bool, slow: int, seconds: float, log_path: Path
) -> Run:
    port = free_port()
    env = {"TREATYGRAPH_BUILD_DIR": str(build_dir), "PATH": "/usr/bin:/bin"}
    argv = [str(BIN / "treatygraph"), "serve", "--port", str(port)]
    if not front:
        argv.append("--no-front")
    with Server(name, argv, f"http://127.0.0.1:{port}", "/healthz", env, log_path) as server:
        if not server.wait_ready(120):
            raise SystemExit(f"{name} did not start; see {log_path}")
        probe = requests.Session()
        for path in PROBE_PATHS:  # each page once, so none is slow for being first
            probe.get(server.url + path, timeout=30)
        with SlowClients(port, slow, ADDRESSES, PAUSE):
            run = Run(name, [], 0)
            time.sleep(1.0)
            ends = time.monotonic() + seconds
            n = 0
            while time.monotonic() < ends:
                path = PROBE_PATHS[n % len(PROBE_PATHS)]
                n += 1
                started = time.monotonic()
                try:
                    answer = probe.get(server.url + path, timeout=PROBE_TIMEOUT)
                    if answer.status_code == 200:
                        run.latencies.append(time.monotonic() - started)
                        continue
                except requests.RequestException:
                    probe = requests.Session()
                run.failures += 1
    return run


def _machine() -> str:
    try:
        return str(machine())
    except (OSError, ImportError):  # wrk and the bench extras it names are not needed here
        return f"{os.cpu_count()} cores"


def report(runs: list[Run], slow: int, seconds: float) -> str:
    lines = [
        f"# Slow clients: {dt.date.today()}",
        "",
        f"Machine: {_machine()}; load average at the end: {load_average()}.",
        "",
        f"{slow} connections from {len(ADDRESSES)} loopback addresses send their requests a byte "
        f"every {PAUSE:g} s (half a head, half a POST body of 100,000 bytes announced), for "
        f"{seconds:g} s, while one client asks {', '.join(PROBE_PATHS)} in turn "
        f"(timeout {PROBE_TIMEOUT:g} s; a failure is an error or a timeout). Latency in ms.",
        "",
        "| server | probes | failures | p50 | p90 | p99 | max | < 1 s |",
        "|---|---|---|---|---|---|---|---|",
        *(run.row() for run in runs),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=200, help="slow connections")
    parser.add_argument("--seconds", type=float, default=20.0, help="probing time per server")
    parser.add_argument("--build-dir", type=Path, help="a build to serve (default: build one)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tg-slow")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    build_dir = args.build_dir or real_build(args.work).build_dir
    runs = []
    for name, front in (("serve (front)", True), ("serve --no-front", False)):
        log(f"{name}: {args.slow} slow connections, {args.seconds:g} s")
        runs.append(
            measure(name, build_dir, front, args.slow, args.seconds, args.work / "serve.log")
        )
    text = report(runs, args.slow, args.seconds)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{dt.date.today()}-{socket.gethostname()}-slow-clients.md"
    out.write_text(text, encoding="utf-8")
    log(f"written to {out}")
    front_run = runs[0]
    return (
        0 if not front_run.failures and front_run.within_a_second == len(front_run.latencies) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
