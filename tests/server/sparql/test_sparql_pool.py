"""The query worker pool and the worker's writers: replacement without waiting, and answers
written by Oxigraph the same as the endpoint's own writers, cut at the row limit."""

from __future__ import annotations

import csv
import importlib
import io
import threading
import time

import pyoxigraph as ox
import pytest
import requests
from sparql_support import endpoint_server

from server.sparql import QUERIES as QUERY_SERVICE
from server.sparql import worker as worker_module
from server.sparql.pool import GROWTH_KIB, JOBS_PER_WORKER, MEMORY_CHECK_JOBS, Worker
from server.sparql.worker import Job, Sink, answer
from treatygraph.publish.build import current_release
from treatygraph.rdf.namespaces import ProjectNamespaces
from treatygraph.sparql.text import read_query

pool_module = importlib.import_module("server.sparql.pool")  # `server.sparql.pool` is a function
LABELS = "SELECT ?s ?label WHERE { ?s rdfs:label ?label } ORDER BY ?s ?label"


def _wait(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return not stat.read().split(") ")[1].startswith("Z")
    except OSError:
        return False


def test_a_worn_out_worker_serves_until_its_replacement_is_ready(config, built, monkeypatch):
    monkeypatch.setattr(pool_module, "JOBS_PER_WORKER", 2)
    # No answer kept: the same query asked again must go to a worker.
    with endpoint_server(config, query_workers=2, answer_cache_mb=0) as server:
        url = f"{server.url}/sparql"
        assert requests.get(url, params={"query": "ASK {}"}, timeout=30).status_code == 200
        workers = server.app.extensions[QUERY_SERVICE].pool
        assert _wait(lambda: len(workers._idle) == 3)  # all started: the same one serves next
        workers.replacements = 0
        for worker in workers._idle:
            worker.jobs = 0
        started = set(workers.pids())
        for _ in range(2):  # one after the other: the worker last given back serves both
            assert requests.get(url, params={"query": LABELS}, timeout=30).status_code == 200
        # Worn out after two jobs: its replacement starts, and it goes on answering meanwhile.
        assert _wait(lambda: workers.replacements == 1)
        assert _wait(lambda: len(started - set(workers.pids())) == 1)
        (old,) = started - set(workers.pids())
        assert _wait(lambda: not _alive(old))
        for _ in range(2):
            assert requests.get(url, params={"query": LABELS}, timeout=30).status_code == 200
        assert _wait(lambda: workers.replacements == 2)
        assert workers.kills == 0
        assert _wait(lambda: len(workers.pids()) == 3)


def test_a_worker_killed_by_two_threads_at_once_closes_its_pipe_once():
    """A worker still starting when its pool closes is killed by the closing thread and by the one
    starting it; the second close of its pipe raised EBADF at a server's shutdown (and could close
    a file that had been given the same descriptor number)."""
    worker = Worker()
    pipe, closes = worker.conn, []

    class SlowToClose:  # widens the window between two closes, as a loaded machine does
        def close(self) -> None:
            closes.append(threading.get_ident())
            time.sleep(0.05)
            pipe.close()

    worker.conn = SlowToClose()
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def kill() -> None:
        start.wait()
        try:
            worker.kill()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=kill) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    assert len(closes) == 1 and pipe.closed and worker.process.poll() is not None


def test_a_worker_is_worn_out_by_age_or_by_memory_growth(monkeypatch):
    worker = object.__new__(Worker)  # no process: only the rule is tested
    worker.jobs, worker.base_kib = 1, None
    sizes = iter([100_000, 100_000 + GROWTH_KIB, 100_000 + GROWTH_KIB + 1])
    monkeypatch.setattr(Worker, "rss_kib", lambda self: next(sizes))
    assert not worker.worn_out()  # after the first job: the baseline
    worker.jobs = 2
    assert not worker.worn_out()  # memory is not read after every job
    worker.jobs = MEMORY_CHECK_JOBS
    assert not worker.worn_out()
    worker.jobs = 2 * MEMORY_CHECK_JOBS
    assert worker.worn_out()
    worker.base_kib = 10**9
    worker.jobs = JOBS_PER_WORKER
    assert worker.worn_out()


class _Pipe:
    def __init__(self):
        self.messages = []

    def send(self, message) -> None:
        self.messages.append(message)

    def body(self) -> tuple[bytes, int | None]:
        data, cut = b"", None
        for message in self.messages:
            if message[0] == "complete":
                data, cut = message[2], message[1]["cut"]
            elif message[0] == "data":
                data += message[1]
            elif message[0] == "end":
                cut = message[1]["cut"]
            elif message[0] in ("error", "abort"):
                raise AssertionError(message)
        return data, cut


QUERIES = [
    LABELS,
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 700",
    "SELECT ?x ?y WHERE { VALUES (?x ?y) { (1 UNDEF) (UNDEF 'a\\nb\"c,d') ('é'@fr <urn:x>) } }",
    "SELECT * WHERE { } ",
    "SELECT ?s WHERE { ?s a <urn:nothing> }",
]


def _job(config, text: str, key: str, max_rows: int = 100_000) -> Job:
    prefixes = ProjectNamespaces(config.base_iri).prefixes()
    return Job(
        release=str(current_release(config)),
        query=read_query(text, prefixes),
        format_key=key,
        prefixes=prefixes,
        default_graphs=None,
        named_graphs=None,
        max_rows=max_rows,
        mirrors={},
        base_iri=ProjectNamespaces(config.base_iri).id,
        federation_timeout=5.0,
        budget=30.0,
    )


def _rows(data: bytes, key: str) -> list:
    if key == "csv":
        return list(csv.reader(io.StringIO(data.decode())))
    fmt = {"srj": ox.QueryResultsFormat.JSON, "srx": ox.QueryResultsFormat.XML}.get(
        key, ox.QueryResultsFormat.TSV
    )
    results = ox.parse_query_results(data, format=fmt)
    names = [v.value for v in results.variables]
    return [names] + [[solution[n] for n in names] for solution in results]


def _python_writer(config, text: str, key: str, max_rows: int) -> tuple[bytes, int | None]:
    job = _job(config, text, key, max_rows)
    store = ox.Store.read_only(str(current_release(config) / "store"))
    pipe = _Pipe()
    sink = Sink(pipe, xml=key == "srx")
    results = store.query(job.query.text, prefixes=job.prefixes, use_default_graph_as_union=True)
    sink.finish(worker_module.write_results(results, job, sink))
    return pipe.body()


@pytest.mark.parametrize("key", ["srj", "srx", "csv", "tsv"])
@pytest.mark.parametrize("text", QUERIES)
def test_oxigraphs_writer_gives_the_same_rows_as_ours(config, built, key, text):
    pipe = _Pipe()
    answer(_job(config, text, key), pipe, {})
    native, cut = pipe.body()
    ours, our_cut = _python_writer(config, text, key, 100_000)
    assert cut is None and our_cut is None
    assert _rows(native, key) == _rows(ours, key)


@pytest.mark.parametrize("key", ["srj", "srx", "csv", "tsv"])
@pytest.mark.parametrize("native_bytes", [worker_module.NATIVE_BYTES, 200])
def test_answers_past_the_row_limit_are_cut_by_our_writers(
    config, built, monkeypatch, key, native_bytes
):
    monkeypatch.setattr(worker_module, "NATIVE_BYTES", native_bytes)
    text = QUERIES[1]
    pipe = _Pipe()
    answer(_job(config, text, key, max_rows=30), pipe, {})
    data, cut = pipe.body()
    assert cut == 30
    assert data == _python_writer(config, text, key, 30)[0]
    exact = _Pipe()
    answer(_job(config, text.replace("700", "30"), key, max_rows=30), exact, {})
    data, cut = exact.body()
    assert cut is None
    assert len(_rows(data, key)) == 1 + 30
