"""`python -m bench.light_heavy`: light clients beside heavy ones on one `treatygraph serve`.

Heavy clients (from 127.0.0.2, 127.0.0.3 …) each keep as many expensive queries in flight as the
server lets one client have, sending the next as soon as one is answered and waiting out
`Retry-After` when refused. Light clients (from 127.0.0.101 …) ask cheap lookups one after the
other with a short pause. Every query text is sent once (a number of its own in a FILTER), so an
answer cache serves none of them. The server runs as users run it, with the public defaults; the
run lasts at most 60 s. Reported: per client, its answers by status, latency p50 / p99 / max
(light) and queries served (heavy), beside the totals. Results go to
bench/results/YYYY-MM-DD-<host>-light-heavy.md.

The run fails (exit status 1) when a client was starved: a light client without answers, with
any answer other than 200, or with p99 above the limit; or a heavy client never served.

    python -m bench.light_heavy                      # a build of the real data, 40 s
    python -m bench.light_heavy --build-dir DIR --seconds 20 --heavy 4 --light 6
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import math
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import requests
from requests.adapters import HTTPAdapter

from treatygraph.cli.commands import DEFAULT_HTTP_SERVER, HTTP_SERVERS
from treatygraph.core.config import Config

from .__main__ import RESULTS, load_average, log, machine
from .rotation import UNIQUE
from .servers import treatygraph_server
from .serving import entities, public_defaults, real_build

MAX_SECONDS = 60
HEAVY_TEMPLATE = """SELECT (COUNT(*) AS ?pairs) WHERE {{
  {{ SELECT ?a WHERE {{ ?a ?b ?c }} LIMIT {size} }}
  {{ SELECT ?d WHERE {{ ?d ?e ?f }} LIMIT {size} }}
  FILTER(STR(?a) < STR(?d) && __N__ > 0)
}}"""
ACCEPT = {"Accept": "application/sparql-results+json"}
CLIENT_NUMBERS = 10**9  # client k's unique numbers start at k x this: no text sent twice
GRACE_SECONDS = 5  # a request still unanswered this long after the end is cut, not counted


class _FromAddress(HTTPAdapter):
    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A session whose connections come from `address` (127.0.0.x): another client to the
    endpoint's per-client limits."""
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def heavy_query(store_dir: Path, seconds: float) -> tuple[str, float]:
    """A cross join sized to take about `seconds` alone here (timed in this process on the same
    store), and the time it took."""
    store = ox.Store.read_only(str(store_dir))

    def timed(size: int) -> float:
        text = HEAVY_TEMPLATE.format(size=size).replace(UNIQUE, "1")
        started = time.perf_counter()
        list(store.query(text, use_default_graph_as_union=True))
        return time.perf_counter() - started

    size = 200
    took = timed(size)
    for _ in range(3):  # pairs grow with the square of the size
        size = max(50, round(size * math.sqrt(seconds / max(took, 1e-3))))
        took = timed(size)
        if 0.7 * seconds <= took <= 1.4 * seconds:
            break
    return HEAVY_TEMPLATE.format(size=size), took


def percentile(values: list[float], q: float) -> float | None:
    """The smallest value with at least a fraction `q` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclasses.dataclass
class ClientRecord:
    """What one client saw."""

    address: str
    kind: str  # heavy or light
    statuses: Counter = dataclasses.field(default_factory=Counter)
    latencies: list[float] = dataclasses.field(default_factory=list)  # seconds, every answer
    failures: Counter = dataclasses.field(default_factory=Counter)  # no answer: the exception
    cut: int = 0  # unanswered when the run ended

    @property
    def served(self) -> int:
        return self.statuses.get(200, 0)

    def percentile(self, q: float) -> float | None:
        return percentile(self.latencies, q)

    def starved(self, light_p99_limit: float) -> str | None:
        """Why this client counts as starved, or None."""
        if self.kind == "heavy":
            return None if self.served else "never got a worker"
        if not self.served:
            return "no answer"
        refused = {status: n for status, n in self.statuses.items() if status != 200}
        if refused or self.failures:
            return f"answers other than 200: {dict(refused) | dict(self.failures)}"
        p99 = self.percentile(0.99)
        if p99 is not None and p99 > light_p99_limit:
            return f"p99 {p99:.2f} s above {light_p99_limit:g} s"
        return None


def _ask(session, url: str, text: str, stop_at: float, record: ClientRecord, lock):
    """One query, written down in `record` (under `lock`: a client's threads share it); the
    response, or None when it failed or was cut at the end."""
    started = time.monotonic()
    timeout = max(1.0, stop_at + GRACE_SECONDS - time.time())
    try:
        response = session.get(url, params={"query": text}, headers=ACCEPT, timeout=timeout)
    except requests.RequestException as err:
        with lock:
            if time.time() >= stop_at:
                record.cut += 1
            else:
                record.failures[type(err).__name__] += 1
        return None
    with lock:
        record.latencies.append(time.monotonic() - started)
        record.statuses[response.status_code] += 1
    return response


def heavy_client(
    address: str,
    url: str,
    query: str,
    streams: int,
    *,
    first: int,
    start_at: float,
    stop_at: float,
    results,
) -> None:
    """`streams` queries in flight at once, each sent again as soon as it is answered; the
    query's unique number counts up from `first`."""
    record = ClientRecord(address, "heavy")
    lock = threading.Lock()
    numbers = itertools.count(first)

    def stream() -> None:
        session = session_from(address)
        while time.time() < stop_at:
            with lock:
                text = query.replace(UNIQUE, str(next(numbers)))
            response = _ask(session, url, text, stop_at, record, lock)
            if response is not None and response.status_code in (429, 503):
                pause = float(response.headers.get("Retry-After") or 1)
                time.sleep(max(0.0, min(pause, stop_at - time.time())))

    time.sleep(max(0.0, start_at - time.time()))
    threads = [threading.Thread(target=stream) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(record)


def light_client(
    address: str,
    url: str,
    lookups: list[str],
    pause: float,
    *,
    first: int,
    start_at: float,
    stop_at: float,
    results,
) -> None:
    """Cheap lookups one after the other, `pause` seconds apart; the unique numbers count up from
    `first`."""
    record = ClientRecord(address, "light")
    session = session_from(address)
    time.sleep(max(0.0, start_at - time.time()))
    number = 0
    while time.time() < stop_at:
        text = lookups[number % len(lookups)].replace(UNIQUE, str(first + number))
        number += 1
        _ask(session, url, text, stop_at, record, threading.Lock())
        time.sleep(pause)
    results.put(record)


@dataclasses.dataclass
class Soak:
    """A finished run: who was starved, and everything each client saw."""

    clients: list[ClientRecord]
    seconds: float
    heavy_query: str
    heavy_alone_s: float
    light_p99_limit: float
    http_server: str
    load: tuple[str, str]

    @property
    def starved(self) -> dict[str, str]:
        found = {c.address: c.starved(self.light_p99_limit) for c in self.clients}
        return {address: why for address, why in found.items() if why}


def soak(
    build_dir: Path,
    work: Path,
    seconds: float = 40,
    heavy: int = 3,
    light: int = 4,
    light_pause: float = 0.2,
    heavy_seconds: float = 1.0,
    light_p99_limit: float = 5.0,
    http_server: str = DEFAULT_HTTP_SERVER,
) -> Soak:
    """Heavy and light clients against `treatygraph serve` (public defaults) for `seconds`."""
    if not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"the run lasts at most {MAX_SECONDS} s, not {seconds:g}")
    release = (build_dir / "current").resolve()
    _, found = entities(build_dir, seed=1)
    lookups = [
        "SELECT ?p ?o WHERE { <" + entity + "> ?p ?o FILTER(" + UNIQUE + " > 0) }"
        for entity in found
    ]
    log(f"calibrating a heavy query of about {heavy_seconds:g} s")
    query, alone = heavy_query(release / "store", heavy_seconds)
    streams = Config().max_concurrent_queries_per_client
    load_before = load_average()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    with treatygraph_server(build_dir, work / "light-heavy.log", http_server, {}) as server:
        if not server.wait_ready(120):
            raise RuntimeError(f"treatygraph serve did not start; see {work}")
        url = f"{server.url}/sparql"
        start_at = time.time() + 3  # every client process started and imported
        window = {"start_at": start_at, "stop_at": start_at + seconds, "results": results}
        processes = [
            context.Process(
                target=heavy_client,
                args=(f"127.0.0.{2 + i}", url, query, streams),
                kwargs={"first": CLIENT_NUMBERS * (1 + i), **window},
            )
            for i in range(heavy)
        ] + [
            context.Process(
                target=light_client,
                args=(f"127.0.0.{101 + i}", url, lookups[i::light], light_pause),
                kwargs={"first": CLIENT_NUMBERS * (101 + i), **window},
            )
            for i in range(light)
        ]
        for process in processes:
            process.start()
        log(f"{heavy} heavy and {light} light clients for {seconds:g} s")
        clients = [results.get(timeout=seconds + 60) for _ in processes]
        for process in processes:
            process.join(10)
    return Soak(
        clients=sorted(clients, key=lambda c: (c.kind, tuple(map(int, c.address.split("."))))),
        seconds=seconds,
        heavy_query=query,
        heavy_alone_s=alone,
        light_p99_limit=light_p99_limit,
        http_server=http_server,
        load=(load_before, load_average()),
    )


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds is not None else "n/a"


def report(run: Soak, started: str, info: dict | None = None) -> str:
    """The run as markdown: per client, then the totals."""
    heavy = [c for c in run.clients if c.kind == "heavy"]
    light = [c for c in run.clients if c.kind == "light"]
    lines = [
        f"# Light clients beside heavy ones, {started[:10]}",
        "",
        f"`treatygraph serve --http-server {run.http_server}` with the public defaults "
        f"({public_defaults()}; {os.cpu_count()} web processes), {len(heavy)} heavy and "
        f"{len(light)} light clients for "
        f"{run.seconds:g} s, started {started}; load average {run.load[0]} before, "
        f"{run.load[1]} after.",
        "",
        f"Heavy clients keep {Config().max_concurrent_queries_per_client} queries in flight, "
        f"each a cross join that takes {run.heavy_alone_s:.2f} s alone here, and wait out "
        "`Retry-After` when refused. Light clients ask one lookup at a time (a different entity "
        "each time), pausing between them. A light client is starved without answers, with an "
        f"answer other than 200, or with p99 above {run.light_p99_limit:g} s; a heavy client "
        "when it never got a worker.",
        "",
        "| client | kind | answers | 200 | 429 | 503 | 504 | other | p50 | p99 | max "
        "| cut at the end | starved |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for client in run.clients:
        statuses = client.statuses
        answers = sum(statuses.values())
        other = answers - sum(statuses.get(s, 0) for s in (200, 429, 503, 504))
        other += sum(client.failures.values())
        why = client.starved(run.light_p99_limit)
        lines.append(
            f"| {client.address} | {client.kind} | {answers:,} | {statuses.get(200, 0):,} "
            f"| {statuses.get(429, 0):,} | {statuses.get(503, 0):,} | {statuses.get(504, 0):,} "
            f"| {other:,} | {_ms(client.percentile(0.5))} | {_ms(client.percentile(0.99))} "
            f"| {_ms(max(client.latencies, default=None))} | {client.cut} "
            f"| {'**' + why + '**' if why else 'no'} |"
        )
    lines += [
        "",
        "| totals | requests | 200 | 429 | 503 | 504 | other | served per second | p50 | p99 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for kind, group in (("heavy", heavy), ("light", light), ("all", run.clients)):
        statuses: Counter = Counter()
        for client in group:
            statuses.update(client.statuses)
        latencies = [x for c in group for x in c.latencies]
        total = sum(statuses.values())
        other = total - sum(statuses.get(s, 0) for s in (200, 429, 503, 504))
        other += sum(sum(c.failures.values()) for c in group)
        lines.append(
            f"| {kind} | {total:,} | {statuses.get(200, 0):,} | {statuses.get(429, 0):,} "
            f"| {statuses.get(503, 0):,} | {statuses.get(504, 0):,} | {other:,} "
            f"| {statuses.get(200, 0) / run.seconds:,.1f} "
            f"| {_ms(percentile(latencies, 0.5))} | {_ms(percentile(latencies, 0.99))} |"
        )
    starved = run.starved
    lines += [
        "",
        f"**Starved: {', '.join(f'{a} ({why})' for a, why in starved.items())}.**"
        if starved
        else "No client was starved.",
        "",
        "The heavy query:",
        "",
        "```sparql",
        run.heavy_query,
        "```",
    ]
    if info:
        lines += [
            "",
            "| machine | |",
            "| --- | --- |",
            *(f"| {k} | {v} |" for k, v in info.items()),
        ]
    return "\n".join(lines) + "\n"


def write(text: str, started: str, results: Path = RESULTS) -> Path:
    """Where `python -m bench.light_heavy` and its test keep a run's report."""
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{started[:10]}-{socket.gethostname()}-light-heavy.md"
    out.write_text(text, encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.light_heavy", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--build-dir", type=Path, help="a build to serve (default: build the real data)"
    )
    parser.add_argument("--seconds", type=float, default=40, help=f"at most {MAX_SECONDS}")
    parser.add_argument("--heavy", type=int, default=3)
    parser.add_argument("--light", type=int, default=4)
    parser.add_argument("--light-pause", type=float, default=0.2)
    parser.add_argument("--heavy-seconds", type=float, default=1.0, help="one heavy query, alone")
    parser.add_argument("--light-p99-limit", type=float, default=5.0)
    parser.add_argument("--http-server", default=DEFAULT_HTTP_SERVER, choices=list(HTTP_SERVERS))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds: at most {MAX_SECONDS}")
    if not 1 <= args.heavy <= 99 or not 1 <= args.light <= 99:
        parser.error("--heavy and --light: from 1 to 99 clients")
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="treatygraph-bench-light-heavy-"))
    try:
        build_dir = args.build_dir
        if build_dir is None:
            log("treatygraph build")
            build_dir = real_build(work).build_dir
        run = soak(
            build_dir,
            work,
            seconds=args.seconds,
            heavy=args.heavy,
            light=args.light,
            light_pause=args.light_pause,
            heavy_seconds=args.heavy_seconds,
            light_p99_limit=args.light_p99_limit,
            http_server=args.http_server,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(run, started, info)
    print(text)
    log(f"written to {write(text, started, args.results)}")
    if run.starved:
        raise SystemExit(f"starved: {run.starved}")


if __name__ == "__main__":
    main()
