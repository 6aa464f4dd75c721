"""Hostile and careless queries: read-only, SERVICE/FROM never connect, limits, timeouts, no traces."""

from __future__ import annotations

import os
import threading
import time

import pytest
import rdflib
import requests
from sparql_support import WIKIDATA, SilentSocket, client_at, endpoint_server

from server.sparql import QUERIES

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
RUNAWAY = "SELECT ?a ?d ?g WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l } ORDER BY ?a ?d ?g ?j"


@pytest.fixture(scope="module")
def url(live_server) -> str:
    return f"{live_server.url}/sparql"


@pytest.fixture
def silent():
    sock = SilentSocket()
    yield sock
    sock.close()


def _count(url: str) -> int:
    response = requests.get(url, params={"query": COUNT}, timeout=10)
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


UPDATES = [
    "INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }",
    "DELETE DATA { <urn:x:a> <urn:x:b> <urn:x:c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "WITH <urn:x:g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "LOAD <http://127.0.0.1:9/data.ttl>",
    "CLEAR ALL",
    "DROP ALL",
    "DROP GRAPH <https://w3id.org/treatygraph/graph/facts>",
    "CREATE GRAPH <urn:x:g>",
    "ADD DEFAULT TO <urn:x:g>",
    "MOVE DEFAULT TO <urn:x:g>",
    "COPY DEFAULT TO <urn:x:g>",
    "PREFIX ex: <urn:x:>\n# a comment\n  insert data { ex:a ex:b ex:c }",
    "\\u0049NSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }",
    "\\u005Cu0044ROP ALL",
]


@pytest.mark.parametrize("update", UPDATES)
@pytest.mark.parametrize("how", ["update-form", "sparql-update-body", "query-param", "query-form"])
def test_updates_are_refused_whichever_way_they_come(url, update, how):
    if how == "update-form":
        response = requests.post(url, data={"update": update}, timeout=10)
    elif how == "sparql-update-body":
        response = requests.post(
            url,
            data=update.encode(),
            headers={"Content-Type": "application/sparql-update"},
            timeout=10,
        )
    elif how == "query-param":
        response = requests.get(url, params={"query": update}, timeout=10)
    else:
        response = requests.post(url, data={"query": update}, timeout=10)
    assert response.status_code in (400, 403), response.text
    assert "read-only" in response.text or "syntax error" in response.text
    assert "Traceback" not in response.text


def test_refused_updates_change_nothing(url):
    before = _count(url)
    for update in UPDATES:
        requests.post(url, data={"update": update}, timeout=10)
        requests.get(url, params={"query": update}, timeout=10)
    assert _count(url) == before
    assert not requests.get(url, params={"query": "ASK { <urn:x:a> ?p ?o }"}, timeout=10).json()[
        "boolean"
    ]


def _service_queries(port: int) -> list[str]:
    loopback = f"http://127.0.0.1:{port}/sparql"
    return [
        f"SELECT * WHERE {{ SERVICE <{loopback}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{loopback}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ sErViCe <http://localhost:{port}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <http://[::1]:{port}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <http://2130706433:{port}/sparql> {{ ?s ?p ?o }} }}",
        "SELECT * WHERE { SERVICE <http://10.0.0.1/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE <http://192.168.1.1/sparql> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE <http://169.254.169.254/latest/meta-data/> { ?s ?p ?o } }",
        "SELECT * WHERE { SERVICE <file:///etc/passwd> { ?s ?p ?o } }",
        f"SELECT * WHERE {{ SERVICE <{WIKIDATA}.evil.example> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <{WIKIDATA}/../../x> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND(<{loopback}> AS ?e) SERVICE ?e {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{loopback}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\U00000053\\u0045RVICE <{loopback}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <http://127.0.0.1\\u003A{port}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE <\\u0068ttp://127.0.0.1:{port}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\u005Cu0053ERVICE <{loopback}> {{ ?s ?p ?o }} }}",
        f"PREFIX x: <http://127.0.0.1:{port}/>\nSELECT * WHERE {{ SERVICE x:sparql {{ ?s ?p ?o }} }}",
        f"BASE <http://127.0.0.1:{port}/>\nSELECT * WHERE {{ SERVICE <sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?s ?p ?o # comment\n SERVICE <{loopback}> {{ ?s ?p ?o }} }}",
        f'SELECT * WHERE {{ ?s ?p "}}" . SERVICE <{loopback}> {{ ?s ?p ?o }} }}',
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ SERVICE <{loopback}> {{ ?s ?p ?o }} }} }} }}",
        f"ASK {{ SERVICE <{WIKIDATA}> {{ SERVICE <{loopback}> {{ ?s ?p ?o }} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ OPTIONAL {{ SERVICE <{loopback}> {{ ?s ?p ?o }} }} }}",
    ]


def test_service_outside_the_allowlist_is_refused_before_any_connection(url, silent):
    for query in _service_queries(silent.port):
        for send in (
            lambda q: requests.get(url, params={"query": q}, timeout=10),
            lambda q: requests.post(
                url,
                data=q.encode(),
                headers={"Content-Type": "application/sparql-query"},
                timeout=10,
            ),
        ):
            response = send(query)
            assert response.status_code in (400, 403), (query, response.status_code, response.text)
            assert "SERVICE" in response.text or "syntax error" in response.text, response.text
    time.sleep(0.3)
    assert silent.connections == []


def test_service_refusal_names_the_endpoint_and_the_allowlist(url, silent):
    response = requests.get(
        url,
        params={"query": f"SELECT * WHERE {{ SERVICE <{silent.url}> {{ ?s ?p ?o }} }}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert silent.url in response.text and WIKIDATA in response.text


def test_service_in_strings_and_comments_is_not_a_service(url):
    query = (
        "SELECT * WHERE { ?s rdfs:label ?l # SERVICE <http://127.0.0.1:1/> { }\n"
        ' FILTER(?l != "SERVICE <http://127.0.0.1:1/> {}") } LIMIT 1'
    )
    response = requests.get(url, params={"query": query}, timeout=10)
    assert response.status_code == 200, response.text


def test_from_and_dataset_parameters_never_fetch(url, silent):
    queries = [
        f"SELECT * FROM <{silent.url}> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{silent.url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        "SELECT * FROM <file:///etc/passwd> WHERE { ?s ?p ?o }",
        f"SELECT * FROM <http://127.0.0.1\\u003A{silent.port}/sparql> WHERE {{ ?s ?p ?o }}",
        f"CONSTRUCT {{ ?s ?p ?o }} FROM <{silent.url}> WHERE {{ ?s ?p ?o }}",
    ]
    for query in queries:
        response = requests.get(url, params={"query": query}, timeout=10)
        assert response.status_code == 200, response.text
        if response.headers["Content-Type"].startswith("text/turtle"):
            assert len(rdflib.Graph().parse(data=response.text, format="turtle")) == 0
        else:
            assert response.json()["results"]["bindings"] == []
    response = requests.get(
        url,
        params={
            "query": "SELECT * WHERE { ?s ?p ?o }",
            "default-graph-uri": silent.url,
            "named-graph-uri": "file:///etc/passwd",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["results"]["bindings"] == []
    time.sleep(0.3)
    assert silent.connections == []


def test_request_body_limit_is_413(config, built):
    with endpoint_server(config, max_request_bytes=2000) as server:
        url = f"{server.url}/sparql"
        big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 5000
        for response in (
            requests.post(url, data={"query": big}, timeout=10),
            requests.post(
                url,
                data=big.encode(),
                headers={"Content-Type": "application/sparql-query"},
                timeout=10,
            ),
        ):
            assert response.status_code == 413
            assert "2000 bytes" in response.text
        assert requests.post(url, data={"query": "ASK {}"}, timeout=10).status_code == 200


def test_result_rows_are_cut_with_a_visible_signal(config, built):
    with endpoint_server(config, max_result_rows=5) as server:
        url = f"{server.url}/sparql"
        response = requests.get(url, params={"query": "SELECT * WHERE { ?s ?p ?o }"}, timeout=10)
        assert response.status_code == 200
        assert response.headers["X-TreatyGraph-Result-Cut"] == "rows=5"
        body = response.json()
        assert len(body["results"]["bindings"]) == 5
        assert body["treatygraph:cut"]["rows"] == 5
        assert "TREATYGRAPH_MAX_RESULT_ROWS" in body["treatygraph:cut"]["message"]

        csv = requests.get(
            url, params={"query": "SELECT * WHERE { ?s ?p ?o }", "format": "csv"}, timeout=10
        )
        lines = csv.text.strip().splitlines()
        assert len(lines) == 1 + 5 + 1 and lines[-1].startswith("# treatygraph: result cut at 5")

        xml = requests.get(
            url, params={"query": "SELECT * WHERE { ?s ?p ?o }", "format": "xml"}, timeout=10
        )
        assert xml.headers["X-TreatyGraph-Result-Cut"] == "rows=5"
        assert xml.text.count("<result>") == 5 and "result cut at 5" in xml.text

        turtle = requests.get(
            url, params={"query": "CONSTRUCT WHERE { ?s ?p ?o }", "format": "ttl"}, timeout=10
        )
        assert turtle.headers["X-TreatyGraph-Result-Cut"] == "rows=5"
        assert len(rdflib.Graph().parse(data=turtle.text, format="turtle")) == 5
        assert "# treatygraph: result cut at 5 triples" in turtle.text

        exact = requests.get(
            url, params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"}, timeout=10
        )
        assert "X-TreatyGraph-Result-Cut" not in exact.headers
        assert "treatygraph:cut" not in exact.json()


MANY_ROWS = "SELECT ?s ?p ?o ?x WHERE { ?s ?p ?o VALUES ?x { 1 2 3 4 5 6 7 8 9 10 11 12 } }"


def test_a_result_cut_while_streaming_ends_with_the_marker(config, built):
    with endpoint_server(config, max_result_rows=20_000) as server:
        url = f"{server.url}/sparql"
        response = requests.get(url, params={"query": MANY_ROWS}, timeout=30)
        assert response.status_code == 200
        assert "X-TreatyGraph-Result-Cut" not in response.headers  # already streaming by then
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert "Content-Length" not in response.headers
        body = response.json()
        assert len(body["results"]["bindings"]) == 20_000
        assert body["treatygraph:cut"]["rows"] == 20_000

        jsonld = requests.get(
            url,
            params={
                "query": "CONSTRUCT { ?s ?p ?x } WHERE { ?s ?p ?o "
                "VALUES ?x { 1 2 3 4 5 6 7 8 9 10 11 12 } }",
                "format": "jsonld",
            },
            stream=True,
            timeout=30,
        )
        assert jsonld.status_code == 200
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(jsonld.iter_content(65536))


def _rss_kib(pid: int) -> int:
    """Resident memory of a process, 0 once it is gone (a slow machine may reach the kill first)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def test_runaway_query_is_killed_at_the_timeout_and_others_go_on(config, built):
    # The memory limit is raised out of reach: this test is about the clock, and a fast machine's
    # runaway can otherwise pass the default 2 GiB before 2 s and be killed (503) for memory.
    with endpoint_server(
        config, query_timeout=2.0, query_workers=2, query_memory_mb=12_000
    ) as server:
        url = f"{server.url}/sparql"
        assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 200
        workers = server.app.extensions[QUERIES].pool
        pids_before = set(workers.pids())
        assert len(pids_before) == workers.size + workers.spares
        rss_before = {pid: _rss_kib(pid) for pid in pids_before}

        outcome: dict = {}

        def runaway():
            started = time.monotonic()
            response = requests.get(url, params={"query": RUNAWAY}, timeout=30)
            outcome["status"] = response.status_code
            outcome["text"] = response.text
            outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=runaway)
        thread.start()
        time.sleep(0.5)
        busy = pids_before - set(workers.pids())
        assert len(busy) == 1
        (busy_pid,) = busy
        started = time.monotonic()
        quick = client_at("127.0.0.2").get(url, params={"query": COUNT}, timeout=10)
        assert quick.status_code == 200
        assert time.monotonic() - started < 1.5  # another client is not held up meanwhile
        time.sleep(1.2)
        rss_peak = _rss_kib(busy_pid)
        thread.join(20)

        assert outcome["status"] == 504
        assert "timed out after 2 s" in outcome["text"]
        assert 2.0 <= outcome["seconds"] < 5.0
        assert not os.path.exists(f"/proc/{busy_pid}") or _is_zombie(busy_pid)
        assert workers.kills == 1
        started = time.monotonic()
        after = requests.get(url, params={"query": COUNT}, timeout=10)
        assert after.status_code == 200
        assert time.monotonic() - started < 2.0
        pids_after = set(workers.pids())
        assert busy_pid not in pids_after and len(pids_after) == len(pids_before)
        rss_after = sum(_rss_kib(pid) for pid in pids_after)
        print(
            f"\nrunaway: 504 after {outcome['seconds']:.2f} s; worker RSS before "
            f"{rss_before[busy_pid]} KiB, at 1.7 s {rss_peak} KiB; pool RSS before "
            f"{sum(rss_before.values())} KiB, after {rss_after} KiB"
        )


def test_a_query_that_eats_memory_is_killed_at_the_limit(config, built):
    with endpoint_server(config, query_timeout=20.0, query_memory_mb=250) as server:
        url = f"{server.url}/sparql"
        started = time.monotonic()
        response = requests.get(url, params={"query": RUNAWAY}, timeout=30)
        assert response.status_code == 503
        assert "more than 250 MiB of memory" in response.text
        assert time.monotonic() - started < 15
        assert server.app.extensions[QUERIES].pool.kills == 1
        assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 200


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")
    except OSError:
        return True


def test_concurrent_queries_per_client_are_limited(config, built):
    with endpoint_server(
        config, query_timeout=2.0, query_workers=2, max_concurrent_queries_per_client=1
    ) as server:
        url = f"{server.url}/sparql"
        thread = threading.Thread(
            target=lambda: requests.get(url, params={"query": RUNAWAY}, timeout=30)
        )
        thread.start()
        time.sleep(0.5)
        response = requests.get(url, params={"query": COUNT}, timeout=10)
        assert response.status_code == 429
        assert "at most 1" in response.text
        assert response.headers["Retry-After"]
        thread.join(20)
        assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * WHERE " + "{" * 20000 + "}" * 20000,
        "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * 20000 + "1" + ")" * 20000 + ") }",
        "SELECT * WHERE { ?s ?p \u0000 }",
        "SELECT * WHERE { ?s ?p \\uD800 }",
        "SELECT * WHERE { ?s <" + "a" * 100000 + "> ?o }",
        "SELECT (<http://example.org/f>(?s) AS ?x) WHERE { ?s ?p ?o } LIMIT 1",
        "SELECT * WHERE { ?s ?p ?o FILTER(REGEX(?o, '(a+)+$')) } LIMIT 1",
    ],
)
def test_strange_queries_get_an_answer_never_a_trace(url, query):
    response = requests.post(url, data={"query": query}, timeout=30)
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text and 'File "/' not in response.text
    assert _count(url) > 0  # and the endpoint is still up


def test_deep_nesting_is_refused_before_it_can_crash_a_worker(config, built):
    with endpoint_server(config) as server:
        url = f"{server.url}/sparql"
        for query in (
            "SELECT * WHERE " + "{" * 5000 + "}" * 5000,
            "ASK { FILTER(" + "(" * 5000 + "1" + ")" * 5000 + ") }",
        ):
            response = requests.get(url, params={"query": query}, timeout=10)
            assert response.status_code == 400
            assert "more than 300 levels deep" in response.text
        nested = "ASK " + "{" * 100 + "}" * 100
        assert requests.get(url, params={"query": nested}, timeout=10).json()["boolean"] is True
        assert server.app.extensions[QUERIES].pool.kills == 0


def test_invalid_utf8_body(url):
    response = requests.post(
        url,
        data=b"SELECT * WHERE { ?s ?p \xff\xfe }",
        headers={"Content-Type": "application/sparql-query"},
        timeout=10,
    )
    assert 400 <= response.status_code < 500
    assert "Traceback" not in response.text


def test_a_query_whose_client_went_away_is_stopped_and_frees_its_worker(config, built):
    endless = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"  # flat memory
    # One worker per client: the same client's next query waits for the runaway's worker (the
    # same query as before, so no answer may be kept).
    with endpoint_server(
        config, query_timeout=30.0, query_workers=2, client_query_workers=1, answer_cache_mb=0
    ) as server:
        url = f"{server.url}/sparql"
        assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 200
        workers = server.app.extensions[QUERIES].pool
        before = set(workers.pids())
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(url, params={"query": endless}, timeout=1.0)
        started = time.monotonic()
        response = requests.get(url, params={"query": COUNT}, timeout=30)
        assert response.status_code == 200
        assert time.monotonic() - started < 10, "the client's only worker was still busy"
        assert len(before - set(workers.pids())) == 1, "the runaway's worker was stopped"
        assert workers.kills == 1
