"""Bounded load tests (`make bench`, never the default suite): 50 clients for 45 s on 127.0.0.1,
and light clients beside heavy ones from addresses of their own for 40 s (bench/light_heavy.py).

`treatygraph serve` over a build of the real data; locust (bench/reliability_load.py) mixes SPARQL
queries, entity pages, searches and dump downloads from 49 users, and one user sends a runaway
query whose 504 is intended. The server runs as in production except: a 5 s query timeout (so the
runaway ends within the run) and 64 concurrent queries per client address (every user comes from
127.0.0.1, so the default per-address limit of 4 would answer 429 by design).

Expected: no failure, p99 latency reported, and the resident memory of the server's processes
(gunicorn and its query workers) flat from the end of the warm-up to the end. The numbers are
written to bench/results/reliability-load-<date>.md, the light and heavy clients' to
bench/results/<date>-<host>-light-heavy.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from reliability_support import serving

from treatygraph.core.config import PROJECT_ROOT

pytestmark = pytest.mark.bench

USERS = 50
DURATION_S = 45
WARM_UP_S = 10
LOCUSTFILE = PROJECT_ROOT / "bench" / "reliability_load.py"
RESULTS = PROJECT_ROOT / "bench" / "results"


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    queue += [int(child) for child in children.read().split()]
        except FileNotFoundError:
            continue
    return found


def _rss_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total_kib / 1024


class MemoryWatch:
    """Samples the resident memory of a process tree once a second."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[tuple[float, float, int]] = []  # (seconds, MiB, processes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _tree(self.pid)
            self.samples.append((time.monotonic() - self._start, _rss_mib(pids), len(pids)))
            self._stop.wait(1.0)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def at(self, seconds: float) -> float:
        return min(self.samples, key=lambda s: abs(s[0] - seconds))[1]


def _read_stats(prefix: Path) -> list[dict]:
    with open(f"{prefix}_stats.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def _report(rows, watch, failures_csv, started, config_note) -> str:
    total = next(r for r in rows if r["Name"] == "Aggregated")
    lines = [
        f"# Reliability load test, {started:%Y-%m-%d %H:%M} UTC",
        "",
        f"{USERS} locust users (49 readers, 1 runaway query) for {DURATION_S} s against "
        "`treatygraph serve` on 127.0.0.1, over a build of the real data; "
        f"{config_note}. Machine: {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Run by `tests/server/test_load.py` (`make bench`).",
        "",
        "| request | count | failures | median ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
        lines.append(
            f"| {r['Name']} | {r['Request Count']} | {r['Failure Count']} | "
            f"{r['50%']} | {r['95%']} | {r['99%']} | {float(r['Max Response Time']):.0f} |"
        )
    start_mib, end_mib = watch.at(WARM_UP_S), watch.samples[-1][1]
    peak = max(s[1] for s in watch.samples)
    lines += [
        "",
        f"Throughput {float(total['Requests/s']):.1f} requests/s; "
        f"{total['Request Count']} requests, {total['Failure Count']} failures.",
        "",
        f"Server memory (RSS of gunicorn and its query workers, summed): {watch.samples[0][1]:.0f} "
        f"MiB before the load, {start_mib:.0f} MiB after the {WARM_UP_S} s warm-up, "
        f"{end_mib:.0f} MiB at the end, peak {peak:.0f} MiB.",
    ]
    if failures_csv.strip().count("\n"):
        lines += ["", "Failures:", "", "```", failures_csv.strip(), "```"]
    return "\n".join(lines) + "\n"


def test_fifty_clients_for_45_seconds(config, built, tmp_path):
    started = dt.datetime.now(dt.UTC)
    env = {"TREATYGRAPH_QUERY_TIMEOUT": "5", "TREATYGRAPH_MAX_CONCURRENT_QUERIES": "64"}
    with serving(config, **env) as server:
        prefix = tmp_path / "locust"
        with MemoryWatch(server.process.pid) as watch:
            time.sleep(2)
            run = subprocess.run(
                [
                    str(Path(sys.executable).with_name("locust")),
                    "-f",
                    str(LOCUSTFILE),
                    "--headless",
                    "--host",
                    server.url,
                    "--users",
                    str(USERS),
                    "--spawn-rate",
                    str(USERS),
                    "--run-time",
                    f"{DURATION_S}s",
                    "--stop-timeout",
                    "10",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--exit-code-on-error",
                    "1",
                ],
                capture_output=True,
                text=True,
                timeout=DURATION_S + 60,
            )
        rows = _read_stats(prefix)
        failures_csv = Path(f"{prefix}_failures.csv").read_text(encoding="utf-8")
    report = _report(
        rows,
        watch,
        failures_csv,
        started,
        "query timeout 5 s, 64 concurrent queries per client address, other settings default",
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"reliability-load-{started:%Y-%m-%d}.md").write_text(report, encoding="utf-8")
    print("\n" + report)

    total = next(r for r in rows if r["Name"] == "Aggregated")
    assert int(total["Request Count"]) > 1000
    assert int(total["Failure Count"]) == 0, failures_csv
    assert run.returncode == 0, run.stderr[-2000:]
    runaway = next(r for r in rows if "runaway" in r["Name"])
    assert int(runaway["Request Count"]) >= 3  # the intended timeouts did happen
    start_mib, end_mib = watch.at(WARM_UP_S), watch.samples[-1][1]
    assert end_mib <= start_mib * 1.25 + 20, f"memory grew: {start_mib:.0f} -> {end_mib:.0f} MiB"


@pytest.mark.slow
def test_light_clients_are_answered_while_heavy_clients_push(config, built, tmp_path):
    """Issue 15: three heavy clients (each keeping 4 expensive queries in flight) and four light
    ones (one lookup at a time) from their own loopback addresses, against `treatygraph serve`
    with the public defaults for 40 s: no light client waits past 5 s or is refused, every heavy
    client is served. The per-client report goes to bench/results/…-light-heavy.md."""
    from bench.light_heavy import report, soak, write

    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    run = soak(config.build_dir, tmp_path, seconds=40)
    text = report(run, started)
    write(text, started)
    print("\n" + text)
    assert not run.starved, text
