"""The query worker: a separate process that runs one query at a time and streams its answer.

pyoxigraph cannot be interrupted from inside its process, so queries run here, where the web
process can kill them. A worker says ("ready",) once it has started; then, for each job, it opens
the release it is told to read-only, runs the query, and writes the serialized result down its
pipe: ("complete", meta, bytes) when it fits in the first chunk, else ("start", meta),
("data", bytes)…, ("end", meta); or ("error", status, message) before anything was started; or
("abort", message) when a result already under way cannot be finished honestly.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from treatygraph.sparql.federation import ServiceFailed, resolve_services
from treatygraph.sparql.text import QueryText, blank_out
from treatygraph.store.opening import open_store
from treatygraph.store.remote import RemoteStoreError

from ..formats import BY_KEY
from .sandbox import RelayOpener, deny_network

# A worker ends itself this long after its job's budget, should nobody be left to stop it (its web
# process and broker killed): SIGALRM's default action ends the process wherever it is.
ALARM_GRACE_SECONDS = 10
QUERY_NICENESS = 5
HOLD_BYTES = 256 * 1024  # kept before the first byte goes out, so small answers get exact headers
CHUNK_BYTES = 64 * 1024
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to answer one query."""

    release: str
    query: QueryText
    format_key: str
    prefixes: dict[str, str]
    default_graphs: tuple[str, ...] | None
    named_graphs: tuple[str, ...] | None
    max_rows: int
    mirrors: dict[str, str]
    base_iri: str  # what relative IRIs in the query resolve against
    federation_timeout: float
    budget: float  # seconds from receipt


# XML 1.0 cannot carry these characters at all, not even as character references. They are single
# bytes in UTF-8 (never part of a multi-byte sequence), so they can be replaced in the byte stream.
XML_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
REPLACEMENT = "\ufffd".encode()
XML_FORMATS = {"srx", "rdf"}


class Sink:
    """A binary file for the serializers that sends what is written down the pipe, in chunks.

    For the XML formats, characters XML cannot represent are written as U+FFFD, so the answer is
    always well-formed; JSON and the other formats carry them as they are.
    """

    def __init__(self, conn, xml: bool = False):
        self.conn = conn
        self.buffer = bytearray()
        self.started = False
        self.xml = xml

    def write(self, data) -> int:
        if self.xml:
            self.buffer += XML_FORBIDDEN.sub(REPLACEMENT, bytes(data))
        else:
            self.buffer += data
        if len(self.buffer) >= (CHUNK_BYTES if self.started else HOLD_BYTES):
            self._send()
        return len(data)

    def flush(self) -> None:
        """Serializers call this; chunks go out by size, not on every flush."""

    def _send(self, meta: dict | None = None) -> None:
        if not self.started:
            self.conn.send(("start", meta or {}))
            self.started = True
        if self.buffer:
            self.conn.send(("data", bytes(self.buffer)))
            self.buffer.clear()

    def finish(self, cut: int | None) -> None:
        if not self.started:
            # The whole answer in one message: one write, one wake-up of the web process.
            self.conn.send(("complete", {"cut": cut}, bytes(self.buffer)))
            return
        self._send()
        self.conn.send(("end", {"cut": cut}))


def run(fd: int) -> None:
    """Entry point of a worker process, given its end of the socket pair."""
    from multiprocessing.connection import Connection

    main(Connection(fd))


def main(conn) -> None:
    """Serve jobs from the pipe until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    deny_network()
    import SPARQLWrapper.Wrapper

    # Every HTTP request the worker makes (SERVICE calls, a remote store) goes down its pipe.
    SPARQLWrapper.Wrapper.urlopener = RelayOpener(conn)
    stores: dict[str, ox.Store] = {}
    # Queries yield the CPU to the web processes, the front and a worker still starting (at full
    # priority until here), so a busy pool slows neither pages nor a stopped worker's replacement.
    os.nice(QUERY_NICENESS)
    conn.send(("ready",))  # imports done: the pool hands this worker out from now on
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        signal.alarm(math.ceil(job.budget) + ALARM_GRACE_SECONDS)
        try:
            answer(job, conn, stores)
        except (BrokenPipeError, ConnectionResetError):
            return
        signal.alarm(0)


def _store(stores: dict[str, ox.Store], release: str) -> ox.Store:
    if release not in stores:
        stores.clear()
        stores[release] = open_store(Path(release))
    return stores[release]


def answer(job: Job, conn, stores: dict[str, ox.Store]) -> None:
    deadline = time.monotonic() + job.budget
    options = _dataset_options(job)
    text = job.query.text
    try:
        store = _store(stores, job.release)
        if job.query.services:
            # Check the rest of the query before asking anyone else anything.
            _check_syntax(blank_out(text, job.query.services), job.prefixes, options)
            text = resolve_services(
                job.query,
                job.prefixes,
                job.mirrors,
                job.federation_timeout,
                deadline,
                run_local=lambda sparql: store.query(sparql, prefixes=job.prefixes, **options),
            )
        results = store.query(text, prefixes=job.prefixes, **options)

        def again():
            return store.query(text, prefixes=job.prefixes, **options)
    except SyntaxError as err:
        conn.send(("error", 400, syntax_message(text, err)))
        return
    except ServiceFailed as err:
        conn.send(("error", 504 if err.timed_out else 502, str(err)))
        return
    except RemoteStoreError as err:
        conn.send(("error", err.status, str(err)))
        return
    except PermissionError as err:
        conn.send(_refused_or_unreadable(stores, job, err))
        return
    except OSError as err:
        conn.send(("error", 500, f"the store could not be read: {err}"))
        return
    except (ValueError, RuntimeError) as err:
        conn.send(("error", 400, f"the query cannot be evaluated: {err}"))
        return
    sink = Sink(conn, xml=job.format_key in XML_FORMATS)
    try:
        cut = write_results(results, job, sink, again)
    except ResultAborted as err:
        conn.send(("abort", str(err)))
        return
    except PermissionError as err:
        if sink.started:
            conn.send(("abort", NETWORK_REFUSED))
        else:
            conn.send(_refused_or_unreadable(stores, job, err))
        return
    except SyntaxError as err:  # read lazily: a remote store's answer that does not parse
        message = f"the remote store sent an answer that cannot be read: {err}"
        conn.send(("abort", message) if sink.started else ("error", 502, message))
        return
    except (OSError, ValueError, RuntimeError) as err:
        if sink.started:
            conn.send(("abort", f"evaluation failed midway: {err}"))
        else:
            conn.send(("error", 500, f"the query could not be evaluated: {err}"))
        return
    sink.finish(cut)


NETWORK_REFUSED = (
    "the query asked Oxigraph to call a SERVICE itself, which this endpoint never lets it do "
    "(SERVICE calls are made by the endpoint, to allowlisted endpoints, written as "
    "`SERVICE <iri> { … }`)"
)


def _refused_or_unreadable(stores: dict, job: Job, err: PermissionError) -> tuple:
    """A PermissionError with the store open is the sandbox refusing a socket (a 502, as any
    SERVICE failure); before that, the store's files could not be read."""
    if job.release in stores:
        return ("error", 502, NETWORK_REFUSED)
    return ("error", 500, f"the store could not be read: {err}")


def _dataset_options(job: Job) -> dict:
    return {"base_iri": job.base_iri, **_dataset(job)}


def _dataset(job: Job) -> dict:
    if job.default_graphs is not None or job.named_graphs is not None:
        options: dict = {"default_graph": [ox.NamedNode(g) for g in job.default_graphs or ()]}
        if job.named_graphs is not None:
            options["named_graphs"] = [ox.NamedNode(g) for g in job.named_graphs]
        return options
    if job.query.has_dataset_clause:
        return {}
    return {"use_default_graph_as_union": True}


def _check_syntax(text: str, prefixes: dict[str, str], options: dict) -> None:
    ox.Store().query(text, prefixes=prefixes, **options)


def syntax_message(text: str, err: SyntaxError) -> str:
    """The parser's message, with the lines up to the position it names and a caret under it."""
    message = str(err)
    found = re.match(r"error at (\d+):(\d+)", message)
    if not found:
        return f"SPARQL syntax error: {message}"
    line_no, column = int(found.group(1)), int(found.group(2))
    lines = text.splitlines() or [""]
    line_no = min(line_no, len(lines))
    # Long lines are shown as a window around the column: an error never echoes the whole text.
    start = max(0, column - 1 - SHOWN_CHARACTERS // 2)
    shown = [
        f"  {n:>3} | {_window(lines[n - 1], start)}"
        for n in range(max(1, line_no - 2), line_no + 1)
    ]
    offset = 4 if start else 0  # the "... " in front of a window that does not start the line
    caret = " " * (8 + offset + max(0, min(column - 1, len(lines[line_no - 1])) - start)) + "^"
    return (
        f"SPARQL syntax error at line {line_no}, column {column}: "
        f"{_explained(message.split(': ', 1)[-1])}\n\n" + "\n".join(shown) + f"\n{caret}"
    )


SHOWN_CHARACTERS = 160
# The parser reports a malformed IRI as the only token it expected, in the middle of a list.
_BAD_IRI = re.compile(r"expected (?:one of )?(?:[^,]+, )*IRI parsing failed(?:, [^,]+)*")


def _explained(message: str) -> str:
    if "IRI parsing failed" not in message:
        return message
    return _BAD_IRI.sub(
        "this IRI is not valid (an IRI is absolute, or relative to the base IRI; "
        "see the service description's tg:queryBaseIRI)",
        message,
    )


def _window(line: str, start: int) -> str:
    part = line[start : start + SHOWN_CHARACTERS]
    return (
        ("... " if start else "") + part + (" ..." if start + SHOWN_CHARACTERS < len(line) else "")
    )


class ResultAborted(Exception):
    """A result already streaming cannot be ended honestly (a cut in a format with no marker)."""


def write_results(results, job: Job, sink: Sink, again=None) -> int | None:
    """Serialize into the sink; the number of rows or triples the result was cut at, if it was.

    `again` runs the query anew, for the rare SELECT answer too long for Oxigraph's own writer.
    """
    key = job.format_key
    if isinstance(results, ox.QueryBoolean):
        sink.write(results.serialize(format=BY_KEY[key].oxigraph))
        return None
    if isinstance(results, ox.QuerySolutions):
        if again is None:
            return _WRITERS[key](results, sink, job.max_rows)
        return _write_solutions(results, job, sink, again)
    return _write_graph(results, job, sink)


# A SELECT answer is written by Oxigraph (in Rust, several times faster than the writers below) into
# memory, and sent when it is within the row limit; one longer than this is written again, by the
# writers below, which cut it at the limit while streaming.
NATIVE_BYTES = 16 * 1024 * 1024
# The fewest bytes a row takes in each format: an answer shorter than limit x this is within it.
MIN_ROW_BYTES = {"srj": 3, "srx": 17, "csv": 2, "tsv": 1}


class _Full(Exception):
    """The answer outgrew NATIVE_BYTES."""


class _Memory:
    def __init__(self, limit: int):
        self.data = bytearray()
        self.limit = limit

    def write(self, data) -> int:
        self.data += data
        if len(self.data) > self.limit:
            raise _Full
        return len(data)

    def flush(self) -> None:
        pass


def _rows(data: bytes, key: str) -> int | None:
    """Rows in an answer Oxigraph wrote; None where they cannot be counted without a parser."""
    if key == "srx":
        return data.count(b"<result>")  # `<` is always escaped in XML text and attributes
    if key == "tsv":
        return data.count(b"\n") - 1  # values never hold a raw newline in TSV; one header line
    if key == "srj":
        return sum(1 for _ in ox.parse_query_results(data, format=ox.QueryResultsFormat.JSON))
    return None


def _write_solutions(solutions, job: Job, sink: Sink, again) -> int | None:
    key = job.format_key
    memory = _Memory(NATIVE_BYTES)
    try:
        solutions.serialize(memory, BY_KEY[key].oxigraph)
    except _Full:
        return _WRITERS[key](again(), sink, job.max_rows)
    data = bytes(memory.data)
    if len(data) < job.max_rows * MIN_ROW_BYTES[key]:
        sink.write(data)
        return None
    rows = _rows(data, key)
    if rows is not None and rows <= job.max_rows:
        sink.write(data)
        return None
    if rows is None:
        return _WRITERS[key](again(), sink, job.max_rows)
    written = ox.parse_query_results(data, format=BY_KEY[key].oxigraph)
    return _WRITERS[key](written, sink, job.max_rows)


def cut_note(limit: int, what: str) -> str:
    return (
        f"treatygraph: result cut at {limit} {what} (the endpoint's limit, "
        "TREATYGRAPH_MAX_RESULT_ROWS); page through it with ORDER BY, LIMIT and OFFSET"
    )


class _Limited:
    """Iterates at most `limit` items and remembers whether there were more."""

    def __init__(self, items, limit: int):
        self.items = iter(items)
        self.limit = limit
        self.cut = False

    def __iter__(self):
        yield from itertools.islice(self.items, self.limit)
        if next(self.items, None) is not None:
            self.cut = True


def _write_graph(triples, job: Job, sink: Sink) -> int | None:
    key = job.format_key
    limited = _Limited(triples, job.max_rows)
    items = iter(limited)
    if key in ("trig", "nq"):
        items = (ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in items)
    prefixes = job.prefixes if key in ("ttl", "trig", "rdf") else None
    ox.serialize(items, sink, BY_KEY[key].oxigraph, prefixes=prefixes)
    if not limited.cut:
        return None
    note = cut_note(job.max_rows, "triples")
    if key == "rdf":
        sink.write(f"<!-- {note} -->\n".encode())
    elif key == "jsonld":
        if sink.started:
            raise ResultAborted(note)
    else:
        sink.write(f"# {note}\n".encode())
    return job.max_rows


# SELECT writers that cut at the row limit, for answers longer than the limit or NATIVE_BYTES.


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {
        "type": "triple",
        "value": {
            "subject": _json_term(term.subject),
            "predicate": _json_term(term.predicate),
            "object": _json_term(term.object),
        },
    }


def _write_json(solutions, sink: Sink, limit: int) -> int | None:
    names = [v.value for v in solutions.variables]
    sink.write(b'{"head":{"vars":' + json.dumps(names).encode() + b'},"results":{"bindings":[')
    limited = _Limited(solutions, limit)
    for i, solution in enumerate(limited):
        row = {name: _json_term(solution[name]) for name in names if solution[name] is not None}
        sink.write((b",\n" if i else b"\n") + json.dumps(row, ensure_ascii=False).encode())
    sink.write(b"\n]}")
    if limited.cut:
        note = {"rows": limit, "message": cut_note(limit, "rows")}
        sink.write(b',"treatygraph:cut":' + json.dumps(note).encode())
    sink.write(b"}\n")
    return limit if limited.cut else None


def _xml_term(term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            dt = quoteattr(term.datatype.value)
            return f"<literal datatype={dt}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    return (
        f"<triple><subject>{_xml_term(term.subject)}</subject>"
        f"<predicate>{_xml_term(term.predicate)}</predicate>"
        f"<object>{_xml_term(term.object)}</object></triple>"
    )


def _write_xml(solutions, sink: Sink, limit: int) -> int | None:
    names = [v.value for v in solutions.variables]
    head = "".join(f"<variable name={quoteattr(n)}/>" for n in names)
    sink.write(
        (
            '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head>{head}</head><results>\n"
        ).encode()
    )
    limited = _Limited(solutions, limit)
    for solution in limited:
        cells = "".join(
            f"<binding name={quoteattr(n)}>{_xml_term(solution[n])}</binding>"
            for n in names
            if solution[n] is not None
        )
        sink.write(f"<result>{cells}</result>\n".encode())
    if limited.cut:
        sink.write(f"<!-- {escape(cut_note(limit, 'rows'))} -->\n".encode())
    sink.write(b"</results></sparql>\n")
    return limit if limited.cut else None


def _csv_cell(term) -> str:
    if term is None:
        return ""
    value = f"_:{term.value}" if isinstance(term, ox.BlankNode) else getattr(term, "value", None)
    if value is None:
        value = str(term)
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _write_csv(solutions, sink: Sink, limit: int) -> int | None:
    names = [v.value for v in solutions.variables]
    sink.write((",".join(names) + "\r\n").encode())
    limited = _Limited(solutions, limit)
    for solution in limited:
        sink.write((",".join(_csv_cell(solution[n]) for n in names) + "\r\n").encode())
    if limited.cut:
        sink.write(f"# {cut_note(limit, 'rows')}\r\n".encode())
    return limit if limited.cut else None


def _write_tsv(solutions, sink: Sink, limit: int) -> int | None:
    names = [v.value for v in solutions.variables]
    sink.write(("\t".join(f"?{n}" for n in names) + "\n").encode())
    limited = _Limited(solutions, limit)
    for solution in limited:
        cells = ("" if solution[n] is None else str(solution[n]) for n in names)
        sink.write(("\t".join(cells) + "\n").encode())
    if limited.cut:
        sink.write(f"# {cut_note(limit, 'rows')}\n".encode())
    return limit if limited.cut else None


_WRITERS = {"srj": _write_json, "srx": _write_xml, "csv": _write_csv, "tsv": _write_tsv}
