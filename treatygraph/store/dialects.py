"""Where a kind of SPARQL store departs from SPARQL 1.1, and what the remote store does about it.

Everything store-specific is here, so the rest of the remote-store code speaks plain SPARQL 1.1
and the Graph Store Protocol. Oxigraph and Fuseki need nothing. Virtuoso (7.2, as Debian ships
it) needs what follows; each point was seen on a real Virtuoso, and tests/store/test_virtuoso.py
checks it there.

Its SPARQL, reworded so it answers as the standard says (each rewording has the same value):

- BASE must come before any PREFIX (SPARQL 1.0's order): every store gets one normalized
  prologue anyway (`sparql_text.with_prologue`).
- FILTER: every constraint is asked as `(IF(constraint, true, false))`. As written, Virtuoso
  may move a filter into its index lookups and get it wrong there: `?since <= ?date` over
  xsd:date values kept 13 of 115 dates (query 10), and a FILTER beside a transitive path and
  an OPTIONAL emptied the answer (query 12), depending on the plan it picked for the data.
- EXISTS: every `[NOT] EXISTS { … }` is asked as `(IF([NOT] EXISTS { … }, true, false))`. As
  written, NOT EXISTS over a transitive path kept every row (query 13: 21 bodies, not 8), and
  an EXISTS joined with || in a BIND failed to compile (error SQ074).
- Transitive paths (`p*`, `p+`) with a constant end: each such triple is moved into a subquery
  of its own, `{ SELECT * WHERE { ?s p+ <o> } }`. Beside a FILTER and an OPTIONAL over four
  default graphs or more it otherwise answered no rows (queries 12 and 35); a plain `{ … }`
  group did too, and broke a NOT EXISTS using the group's variables (error SQ200).
  A path that is one `*` or `+` closure as a whole is asked `SELECT DISTINCT` there: SPARQL
  defines its solutions as a set, and Virtuoso repeated nodes reached twice (W3C pp12, pp21,
  pp23, pp25, pp37).
- Negated property sets with inverse members: `!^p` and `!(p|^q)` are a syntax error to it
  (SP030); asked as `(^!(p))` and `(!(p)|^!(q))`, the same path.
- GROUP_CONCAT without a SEPARATOR fails (SR183: "required argument delim"); asked with
  `SEPARATOR=" "`, SPARQL's default.
- AVG of an empty group is unbound to it, 0 to SPARQL: asked as `COALESCE(AVG(…), 0)` (where
  the values are not numbers it fails the query, so nothing else becomes 0).
- SELECT DISTINCT: it gave duplicates (query 37: 42 rows with ORDER BY, 26 without, of 25;
  rows with unbound OPTIONAL values). Asked as `SELECT DISTINCT * WHERE { { SELECT DISTINCT …
  } } ORDER BY …`, it gives 25; when ORDER BY uses a variable the query does not select, the
  query is sent as written.
- Booleans: it computes them as integers (`BIND(EXISTS {…} AS ?x)` gives 1; so does
  `IF(…, true, false)`). A bound boolean expression (an IF whose values are booleans too) is
  asked as `STRDT(IF(…, "true", "false"), xsd:boolean)`: its own `xsd:boolean()`
  writes the right value, but a later || or && reads that false as true.
- Decimals: a query's `"5"^^xsd:decimal` comes back as an xsd:integer (the VALUES a SERVICE
  call is answered with are full of them); written "5.0" it stays a decimal.
- DESCRIBE: it adds the triples whose object is the resource; `sql:describe-mode "CBD"` asks
  for the concise bounded description, as Oxigraph gives.

Its answers, corrected before they are parsed:

- SELECT and ASK answers are asked for in XML: its JSON writes stored booleans as 1 and 0.
- Blank nodes come back labelled `nodeID://b…`; the prefix is dropped.
- `SELECT *` over a pattern with no variables answers a variable `_star_fake` of its own
  (W3C pp36); it is dropped.
- Durations: it keeps a purely year-month or day-time duration as a number of months or
  seconds and writes that number back ("P5Y" as "60"); rewritten to the canonical form Oxigraph
  writes. Inside a query, STR() and comparisons still see the number.
- Fractions of a second in an xsd:dateTime come back padded to three digits (".5" as ".500").
- Time limits: each read carries the server's own query timeout (`timeout`, in ms), so a query
  the server gave up on stops in Virtuoso too; MaxQueryExecutionTime in virtuoso.ini would
  also stop the swap and the bulk loader, which run through the same service. Past its limit
  it either fails (SR171, "Transaction timed out") or answers 200 with what it found and
  `X-SQL-State: S1TAT`: both are a timeout (504), never an answer.
- Past ResultSetMaxRows it cuts an answer, saying so only in `X-SPARQL-MaxRows`: refused
  rather than served as whole.

Left as they are (README, "Virtuoso"):

- Doubles and floats come back with 6 significant digits in every result format (C's %g:
  3.141592653589793 as "3.14159"). The build's data has none.
- GROUP_CONCAT: SPARQL leaves the order of the parts open, and Virtuoso gives a plain string
  where Oxigraph keeps a language tag all the parts share.
- A boolean it can work out without the data (`true`, or `!BOUND(?o)` where ?o is always
  bound) comes back as the integer 1 or 0, wrapping or not: it folds the expression first.
- Literals equal in value are one literal to it ("01" and "1" as xsd:integer; true and "1" as
  xsd:boolean): the build counts each graph once loaded and fails if the store kept fewer.

Loading: a large PUT can fail with "Transaction deadlocked" (SR172), so uploads are chunked and
a deadlocked chunk sent again; the update services want a user, by HTTP digest authentication.
Its bulk loader (what its users run for large data) reads files from a folder it may read
(DirsAllowed): ld_dir registers them, rdf_loader_run loads them, and a checkpoint makes them
last, since the loader writes no transaction log; all three called from SPARQL as functions.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pyoxigraph as ox

_INTEGRAL = re.compile(r"[+-]?[0-9]+")
RESULTS_JSON = "application/sparql-results+json"
RESULTS_XML = "application/sparql-results+xml"
XSD = "http://www.w3.org/2001/XMLSchema#"


class Dialect:
    """A store that follows SPARQL 1.1 (Oxigraph, Fuseki): nothing to adapt."""

    name = "sparql"
    results_type = RESULTS_JSON
    results_format = ox.QueryResultsFormat.JSON
    auth = "basic"  # how the update services authenticate, when a user is configured

    def query_text(self, text: str, form: str | None) -> str:
        """The query as this store should read it (prologue already normalized)."""
        return text

    def solutions(self, body: bytes) -> bytes:
        """A SELECT or ASK answer, corrected before it is parsed."""
        return body

    def triples(self, body: bytes) -> bytes:
        """A CONSTRUCT or DESCRIBE answer (N-Triples), corrected before it is parsed."""
        return body

    def read_parameters(self, timeout: float) -> dict[str, str]:
        """Request parameters of a read: a store that takes its own time limit per request is
        given ours, so a query the server gave up on does not run on in the store."""
        return {}

    def incomplete(self, headers) -> str | None:
        """Why an answer with these HTTP headers is not the whole answer, if it is not."""
        return None

    def timed_out(self, message: str) -> bool:
        """Whether the store's error (or `incomplete` reason) says it stopped at a time limit."""
        return False

    def retryable(self, status: int, body: str) -> bool:
        """Whether a failed upload request may simply be sent again."""
        return False

    def advice(self, message: str) -> str:
        """What to change in the store, for an error message it sent (or nothing)."""
        return ""

    def drop(self, graph: str) -> str:
        """The update that drops a graph nobody reads, without one large transaction."""
        return f"DROP SILENT GRAPH <{graph}>"


class Virtuoso(Dialect):
    """OpenLink Virtuoso 7."""

    name = "virtuoso"
    results_type = RESULTS_XML
    results_format = ox.QueryResultsFormat.XML
    auth = "digest"

    def query_text(self, text: str, form: str | None) -> str:
        from treatygraph.sparql.shapes import (
            averages,
            bound_expressions,
            distinct_select,
            exists_clauses,
            filter_constraints,
            group_concats_without_separator,
            inverse_negated_sets,
            transitive_path_statements,
            typed_literals,
        )

        for start, end, path in reversed(inverse_negated_sets(text)):
            text = text[:start] + path + text[end:]
        for statement in reversed(transitive_path_statements(text)):
            alone = " ".join(
                f"{{ SELECT {'DISTINCT ' if closure else ''}* WHERE {{ {path} }} }}"
                for path, closure in zip(statement.paths, statement.closures, strict=True)
            )
            moved = f"{statement.rest} . {alone}" if statement.rest else alone
            text = text[: statement.start] + moved + text[statement.end :]
        parts = distinct_select(text)
        if parts is not None:
            head = text[: parts.projection[0]]
            dataset = text[parts.dataset[0] : parts.dataset[1]]
            selected = text[parts.projection[0] : parts.projection[1]]
            where = text[parts.where[0] : parts.where[1]]
            text = (
                f"{head}* {dataset} WHERE {{ {{ SELECT DISTINCT {selected} {where} }} }}"
                f"{text[parts.modifiers[0] :]}"
            )
        # (position, order, piece): at one position, pieces of a lower order end up first, so
        # a wrapping that starts or ends where another does goes outside (0) or inside (2) it.
        edits = []
        for start, end in filter_constraints(text):
            edits += [(start, 0, "(IF("), (end, 2, ", true, false))")]
        for start, end, boolean in bound_expressions(text):
            if boolean:
                edits += [(start, 0, "STRDT(IF("), (end, 2, f', "true", "false"), <{XSD}boolean>)')]
        for start, end in exists_clauses(text):
            edits += [(start, 1, "(IF("), (end, 1, ", true, false))")]
        for start, end, datatype in typed_literals(text):
            if datatype == f"{XSD}decimal" and _INTEGRAL.fullmatch(text[start + 1 : end - 1]):
                edits.append((end - 1, 0, ".0"))
        for start, end in averages(text):
            edits += [(start, 0, "COALESCE("), (end, 2, ", 0)")]
        for end in group_concats_without_separator(text):
            edits.append((end, 0, ' ; SEPARATOR=" "'))
        for position, _, piece in sorted(edits, reverse=True):
            text = text[:position] + piece + text[position:]
        if form == "DESCRIBE":
            text = f'define sql:describe-mode "CBD"\n{text}'
        return text

    def solutions(self, body: bytes) -> bytes:
        body = body.replace(b"<bnode>nodeID://", b"<bnode>")
        if b'"_star_fake"' in body:
            body = _STAR_FAKE.sub(b"", body)
        return _XML_LITERAL.sub(_fix_literal, body) if _fixable(body) else body

    def triples(self, body: bytes) -> bytes:
        return _NT_LITERAL.sub(_fix_literal, body) if _fixable(body) else body

    def read_parameters(self, timeout: float) -> dict[str, str]:
        # In milliseconds. Unlike MaxQueryExecutionTime in virtuoso.ini, which also stops the
        # updates and the bulk loader sent through the same service.
        return {"timeout": str(max(1000, round(timeout * 1000)))}

    def incomplete(self, headers) -> str | None:
        if headers.get("X-SQL-State") == "S1TAT":
            return (
                "it stopped the query at its time limit (the request's, or MaxQueryExecutionTime "
                "in virtuoso.ini) and sent only what it had found"
            )
        if headers.get("X-SPARQL-MaxRows"):
            return (
                f"the answer reached its row limit ({headers['X-SPARQL-MaxRows']} rows, "
                "ResultSetMaxRows in virtuoso.ini) and may have been cut there"
            )
        return None

    def timed_out(self, message: str) -> bool:
        return "SR171" in message or "stopped the query at its time limit" in message

    def retryable(self, status: int, body: str) -> bool:
        return status == 500 and ("SR172" in body or "40001" in body)

    def advice(self, message: str) -> str:
        if "SR325" in message:
            return (
                " (the swap into place is one transaction, larger than Virtuoso's "
                "TransactionAfterImageLimit: raise it in virtuoso.ini, [Parameters], or give a "
                "second store to load in turn; see the README)"
            )
        if "SECURITY" in message or "SR186" in message:
            return (
                " (the user needs the SPARQL_UPDATE role; bulk loading needs dba, for ld_dir, "
                "rdf_loader_run and checkpoint)"
            )
        if "DirsAllowed" in message or "FA003" in message or "FA112" in message:
            return " (add the load folder to DirsAllowed in virtuoso.ini)"
        return ""

    def drop(self, graph: str) -> str:
        # Row by row (log-enable 3: logged, committed as it goes): a graph of millions of
        # triples dropped in one transaction would pass TransactionAfterImageLimit.
        return f"define sql:log-enable 3 DROP SILENT GRAPH <{graph}>"

    def bulk_load(self, folder: str, files: list[tuple[str, str]]) -> list[str]:
        """The queries that load each (graph, file name in folder) with the bulk loader."""
        queries = [
            f"SELECT (sql:ld_dir({_string(folder)}, {_string(name)}, {_string(graph)}) AS ?done) {{}}"
            for graph, name in files
        ]
        queries.append("SELECT (sql:rdf_loader_run() AS ?done) {}")
        queries.append('SELECT (bif:exec("checkpoint") AS ?done) {}')
        return queries


DIALECTS = {dialect.name: dialect for dialect in (Dialect(), Virtuoso())}


def dialect_named(name: str | None) -> Dialect:
    """The dialect a release's build.json names (none: plain SPARQL 1.1)."""
    return DIALECTS.get(name or "sparql", DIALECTS["sparql"])


def detect(server_header: str | None) -> Dialect:
    """The dialect of a store, from the Server header of one of its answers."""
    if server_header and server_header.startswith("Virtuoso/"):
        return DIALECTS["virtuoso"]
    return DIALECTS["sparql"]


def _fixable(body: bytes) -> bool:
    return b"Duration" in body or b"#duration" in body or b"#dateTime" in body


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# What it answers `SELECT *` with when the pattern has no variables: a variable of its own.
_STAR_FAKE = re.compile(
    rb'<variable name="_star_fake"\s*/>|<binding name="_star_fake">.*?</binding>', re.DOTALL
)
_FIXED_TYPES = rb"(?P<type>duration|yearMonthDuration|dayTimeDuration|dateTime)"
_XML_LITERAL = re.compile(
    rb'(?P<head><literal datatype="http://www\.w3\.org/2001/XMLSchema#'
    + _FIXED_TYPES
    + rb'">)(?P<value>[^<]*)(?P<tail></literal>)'
)
_NT_LITERAL = re.compile(
    rb'(?P<head>(?<!\\)")(?P<value>[^"\\]*)(?P<tail>"\^\^<http://www\.w3\.org/2001/XMLSchema#'
    + _FIXED_TYPES
    + rb">)"
)
_NUMBER = re.compile(r"-?[0-9][0-9.eE+-]*")
_FRACTION = re.compile(r"\.([0-9]*?)0+(?=[^0-9]|$)")


def _fix_literal(match: re.Match) -> bytes:
    kind, value = match["type"].decode(), match["value"].decode()
    if kind == "dateTime":
        # 10:00:00.5 comes back as 10:00:00.500.
        value = _FRACTION.sub(lambda m: f".{m[1]}" if m[1] else "", value, count=1)
    elif _NUMBER.fullmatch(value):
        in_months = kind == "yearMonthDuration" or (
            kind == "duration" and _INTEGRAL.fullmatch(value) is not None
        )
        value = (
            canonical_months(int(value), kind) if in_months else canonical_seconds(Decimal(value))
        )
    return match["head"] + value.encode() + match["tail"]


def canonical_months(months: int, kind: str = "duration") -> str:
    """A number of months as the canonical duration Oxigraph writes ("P1Y2M"; zero is "PT0S"
    as an xsd:duration, "P0M" as an xsd:yearMonthDuration)."""
    if months == 0:
        return "P0M" if kind == "yearMonthDuration" else "PT0S"
    sign = "-" if months < 0 else ""
    years, rest = divmod(abs(months), 12)
    return f"{sign}P" + (f"{years}Y" if years else "") + (f"{rest}M" if rest else "")


def canonical_seconds(seconds: Decimal) -> str:
    """A number of seconds as the canonical duration Oxigraph writes ("P1DT12H", "PT0S")."""
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    date = f"{int(days)}D" if days else ""
    clock = (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if rest:
        clock += format(rest.normalize(), "f") + "S"
    if not date and not clock:
        return "PT0S"
    return f"{sign}P{date}" + (f"T{clock}" if clock else "")
