"""Where a cold SPARQL lookup's time goes inside a web process.

    python -m bench.cold_lookup_profile REQUESTS N   # TREATYGRAPH_BUILD_DIR: the build; prints JSON

REQUESTS holds lines `Accept<TAB>path` as bench.rotation writes them (`__N__` becomes a number of
its own per request). The app is called as WSGI in this process, with no HTTP server, and its
queries go through a query broker started here, as under `treatygraph serve` (the broker and its
workers end with this process). Timers wrap the functions of each stage; what they leave out
(Flask's dispatch, making the Job, the WSGI call around it all) is `rest`. Then the jobs the app
sent are answered again here by the worker's own code, to split the worker's answer into
Oxigraph's work, the worker's Python and pickling; the pipe and the wake-ups are what is left of
the web process's wait.
"""

from __future__ import annotations

import functools
import json
import os
import pickle
import sys
import time
from collections import defaultdict
from pathlib import Path

from .rotation import UNIQUE

WARM_UP = 50


class Timers:
    """Wall time spent in wrapped functions, per stage."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner, name: str, stage: str, record: list | None = None) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - started
                if record is not None:
                    record.append(args[-1])

        setattr(owner, name, timed)


def call(app, environ: dict) -> str:
    """One WSGI request, its body read and closed as a server would; the status line."""
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    body = app(environ, start_response)
    try:
        for _ in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return statuses[0]


def requests_from(listing: Path, n: int) -> list[tuple[str, str]]:
    pairs = [line.split("\t", 1) for line in listing.read_text().splitlines() if line]
    walk = [(path, accept) for accept, path in pairs]
    while len(walk) < n + WARM_UP:
        walk += walk
    return [
        (path.replace(UNIQUE, str(position + 1)), accept)
        for position, (path, accept) in enumerate(walk[: n + WARM_UP])
    ]


def profile(listing: Path, n: int) -> dict:
    import werkzeug.routing
    from flask import Flask
    from werkzeug.test import EnvironBuilder

    import server.sparql
    from server.app import create_app
    from server.sparql import broker
    from server.sparql.pool import WorkerEnd

    timers = Timers()
    jobs: list = []
    timers.wrap(werkzeug.routing.MapAdapter, "match", "routing (werkzeug)")
    timers.wrap(server.sparql, "read_protocol_request", "reading the request (strict UTF-8)")
    timers.wrap(server.sparql, "current_build", "current build")
    timers.wrap(server.sparql, "read_query", "read_query (parse, checks, prefixes)")
    timers.wrap(server.sparql.formats, "choose", "negotiation")
    timers.wrap(broker.BrokerQueries, "lease", "broker: lease a worker (round trip, fd)")
    timers.wrap(WorkerEnd, "send", "job send (pickle, write)", record=jobs)
    timers.wrap(WorkerEnd, "receive", "worker answer (the wait, unpickling)")
    timers.wrap(broker.BrokerQueries, "give_back", "broker: give the worker back")
    timers.wrap(Flask, "finalize_request", "response (make_response, after_request)")

    os.environ[broker.ENV] = broker.start()
    app = create_app()
    environs = []
    for request_path, accept in requests_from(listing, n):
        path, _, query_string = request_path.partition("?")
        builder = EnvironBuilder(
            path=path,
            query_string=query_string,
            headers={"Accept": accept},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        environs.append(builder.get_environ())
    for environ in environs[:WARM_UP]:
        call(app, environ)
    timers.seconds.clear()
    jobs.clear()
    wall = cpu = 0.0
    for environ in environs[WARM_UP:]:
        started, started_cpu = time.perf_counter(), time.thread_time()
        status = call(app, environ)
        wall += time.perf_counter() - started
        cpu += time.thread_time() - started_cpu
        if not status.startswith("200"):
            raise SystemExit(f"a lookup was answered {status}")
    stages = [(stage, seconds / n * 1e6) for stage, seconds in timers.seconds.items()]
    stages.append(
        ("rest (Flask dispatch, the Job, WSGI)", (wall - sum(timers.seconds.values())) / n * 1e6)
    )
    # One exchange: on a busy machine the kernel may run the worker while the web process is
    # still in send(), so only the sum of the two stages says how long the exchange took.
    exchange = (
        (
            timers.seconds["job send (pickle, write)"]
            + timers.seconds["worker answer (the wait, unpickling)"]
        )
        / n
        * 1e6
    )
    return {
        "requests": n,
        "total_us": wall / n * 1e6,
        "cpu_us": cpu / n * 1e6,
        "stages": stages,
        "worker": worker_side(jobs, exchange),
    }


def worker_side(jobs: list, exchange_us: float) -> list[tuple[str, float]]:
    """The worker's answer to the same jobs, timed in this process, per request (µs); what is left
    of `exchange_us` (sending the job and waiting for the answer) is the pipe and the wake-ups."""
    import pyoxigraph as ox

    from server.sparql.worker import answer

    class Recorder:
        def __init__(self):
            self.messages: list = []

        def send(self, message) -> None:
            self.messages.append(message)

    stores: dict = {}
    answer(jobs[0], Recorder(), stores)  # opens the store
    seconds: dict[str, float] = defaultdict(float)

    def timed(stage: str, function, *args):
        started = time.perf_counter()
        value = function(*args)
        seconds[stage] += time.perf_counter() - started
        return value

    for job in jobs:
        data = timed("pickle the job (web process)", pickle.dumps, job)
        timed("unpickle the job (worker)", pickle.loads, data)
        recorder = Recorder()
        timed("answer(): everything the worker does", answer, job, recorder, stores)
        for message in recorder.messages:
            data = timed("pickle the answer (worker)", pickle.dumps, message)
            timed("unpickle the answer (web process)", pickle.loads, data)
        store = stores[job.release]
        # The lookups name no dataset: the worker queries the union of the graphs.
        started = time.perf_counter()
        results = store.query(
            job.query.text, prefixes=job.prefixes, use_default_graph_as_union=True
        )
        results.serialize(format=ox.QueryResultsFormat.JSON)
        seconds["of which Oxigraph: parse, evaluate, serialize"] += time.perf_counter() - started
    per_request = {stage: value / len(jobs) * 1e6 for stage, value in seconds.items()}
    accounted = sum(
        value for stage, value in per_request.items() if not stage.startswith("of which")
    )
    rows = list(per_request.items())
    rows.append(
        (
            "the pipe, wake-ups, the worker's loop: sending the job and waiting for the answer, "
            "minus the above",
            exchange_us - accounted,
        )
    )
    return rows


def main(argv: list[str]) -> None:
    listing, n = Path(argv[0]), int(argv[1])
    print(json.dumps(profile(listing, n)))


if __name__ == "__main__":
    main(sys.argv[1:])
