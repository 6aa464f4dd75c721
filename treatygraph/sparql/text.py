"""Reading a SPARQL request without running it: escapes, query form, dataset clauses, SERVICE calls.

The endpoint decides what a request may do from this reading, before Oxigraph sees the text, so it
works on the text exactly as Oxigraph will parse it: `\\u`/`\\U` escapes are decoded first (to a
fixed point, so an escaped backslash cannot smuggle in a second round of escapes), and the decoded
text is what runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")
UPDATE_VERBS = (
    "INSERT",
    "DELETE",
    "LOAD",
    "CLEAR",
    "DROP",
    "CREATE",
    "ADD",
    "MOVE",
    "COPY",
    "WITH",
)

# Functions whose value changes from one run of the same query to the next.
VOLATILE_FUNCTIONS = frozenset(("NOW", "RAND", "UUID", "STRUUID"))

# Deeper nesting than this overflows the parser's stack (in the worker; it is refused before).
MAX_NESTING = 300
MAX_SERVICES = 8  # each one is a call to a remote endpoint
# Long flat chains (a path of 20,000 steps, 50,000 `|`, 30,000 UNIONs …) overflow the parser's
# stack just as deep nesting does; no query anyone writes comes near these. Operators are counted
# as runs of operator characters other than the separators . ; , and as chaining keywords.
MAX_TOKENS = 20_000
MAX_OPERATORS = 2_000
_CHAINING_WORDS = frozenset(("UNION", "MINUS", "OPTIONAL", "FILTER", "BIND", "VALUES"))

_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

_PN_CHARS = r"A-Za-z0-9_\-\u00B7-\uFFFF"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_LOCAL = rf"(?:[{_PN_CHARS}:]|{_PLX})(?:(?:[{_PN_CHARS}.:]|{_PLX})*(?:[{_PN_CHARS}:]|{_PLX}))?"
_PREFIX = rf"[A-Za-z\u00C0-\uFFFF](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"

_TOKENS = re.compile(
    "|".join(
        (
            r"(?P<ws>\s+)",
            r"(?P<comment>#[^\r\n]*)",
            # Possessive (*+): the content never gives back, so an unterminated string costs O(n).
            r'(?P<string>"""(?:[^"\\]+|\\.|"(?!""))*+"""|\'\'\'(?:[^\'\\]+|\\.|\'(?!\'\'))*+\'\'\''
            r'|"(?:[^"\\\r\n]+|\\.)*+"|\'(?:[^\'\\\r\n]+|\\.)*+\')',
            r"(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)",
            r"(?P<punct><=?)",
            # Operators and stray characters never start a token that matters here, nor hide a
            # keyword (no letters): a run of them is one token.
            r"(?P<operators>[.;,*=!+\-/|^&>%~`\\]+)",
            r"(?P<bracket>[{}()\[\]])",
            r"(?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)",
            r"(?P<bnode>_:[A-Za-z0-9_\-.\u00B7-\uFFFF]+)",
            rf"(?P<pname>(?:{_PREFIX})?:(?:{_LOCAL})?)",
            r"(?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)",
            r"(?P<word>[A-Za-z_][A-Za-z0-9_]*)",
            r"(?P<number>[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))",
            r"(?P<other>.)",
        )
    ),
    re.DOTALL,
)


class QueryTextError(ValueError):
    """The request cannot be read as a query (bad escape, unterminated string …)."""


class QueryRefused(QueryTextError):
    """A well-formed request this endpoint will not run (an update, a SERVICE not allowed …)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def keyword(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


@dataclass(frozen=True)
class ServiceCall:
    """One `SERVICE [SILENT] <iri> { … }` clause: where it is and what it asks."""

    iri: str
    silent: bool
    start: int
    end: int
    body: str
    variables: frozenset[str] = frozenset()
    top_level: bool = False  # directly in the WHERE group, joined with the rest of it


@dataclass
class QueryText:
    """What the endpoint needs to know about a query before running it."""

    text: str
    form: str | None
    prefixes: dict[str, str] = field(default_factory=dict)
    base: str | None = None
    has_dataset_clause: bool = False
    services: list[ServiceCall] = field(default_factory=list)
    # The WHERE group without its SERVICE clauses and FILTERs, when it is only triple patterns
    # besides them (so its solutions bound what SERVICE answers can join), and its variables.
    local_pattern: str | None = None
    local_variables: frozenset[str] = frozenset()
    # It calls NOW(), RAND(), UUID() or STRUUID(): its answer is not the same from run to run.
    volatile: bool = False

    @property
    def prologue(self) -> str:
        lines = [f"BASE <{self.base}>"] if self.base else []
        lines += [f"PREFIX {name}: <{iri}>" for name, iri in self.prefixes.items()]
        return "\n".join(lines)


def decode_escapes(text: str) -> str:
    """Apply SPARQL's `\\u`/`\\U` code-point escapes until none is left."""
    while True:
        decoded = _ESCAPE.sub(_code_point, text)
        if decoded == text:
            return decoded
        text = decoded


def _code_point(match: re.Match) -> str:
    value = int(match.group(1) or match.group(2), 16)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        raise QueryTextError(f"{match.group(0)} is not a Unicode code point")
    return chr(value)


def tokenize(text: str, limit: int | None = None) -> list[Token]:
    """The significant tokens of a decoded query: no whitespace, no comments.

    With `limit`, reading stops (QueryTextError) at the first token past it, so an oversized
    text costs no more than a query at the limit."""
    tokens = []
    for match in _TOKENS.finditer(text):
        if limit is not None and len(tokens) >= limit:
            raise QueryTextError(
                f"the query has more than {limit:,} tokens (words, names, values, operators); "
                "send long lists of values in smaller queries"
            )
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            continue
        if kind == "other" and match.group() in "\"'":
            line = text.count("\n", 0, match.start()) + 1
            raise QueryTextError(f"unterminated string starting on line {line}")
        tokens.append(Token(kind, match.group(), match.start(), match.end()))
    return tokens


def read_query(
    raw: str, predeclared: dict[str, str] | None = None, *, allowlist: tuple[str, ...] = ()
) -> QueryText:
    """Decode and read a query; refuse updates and every SERVICE whose IRI is not allowlisted."""
    text = decode_escapes(raw)
    tokens = tokenize(text, limit=MAX_TOKENS)
    _check_operators(tokens)
    _check_nesting(tokens)
    prefixes, base, position = _prologue(tokens)
    form = tokens[position].keyword if position < len(tokens) else None
    if form in UPDATE_VERBS:
        raise QueryRefused(
            f"{form} is SPARQL Update; this endpoint is read-only and answers queries only"
        )
    names = {**(predeclared or {}), **prefixes}
    services = _services(text, tokens, names, base, allowlist)
    local_pattern, local_variables = _local_pattern(text, tokens, services)
    return QueryText(
        text=text,
        form=form if form in QUERY_FORMS else None,
        prefixes=prefixes,
        base=base,
        has_dataset_clause=any(t.keyword == "FROM" for t in tokens),
        services=services,
        local_pattern=local_pattern,
        local_variables=local_variables,
        volatile=any(t.keyword in VOLATILE_FUNCTIONS for t in tokens),
    )


def query_form(raw: str) -> tuple[str | None, bool]:
    """The query's form keyword (SELECT, ASK, CONSTRUCT, DESCRIBE; or an update verb), and
    whether it has a SERVICE clause: read from tokens, so words in comments and strings count
    for nothing."""
    tokens = tokenize(decode_escapes(raw))
    position = _prologue(tokens)[2]
    form = tokens[position].keyword if position < len(tokens) else None
    return form, any(_may_be_service(t) for t in tokens)


def _may_be_service(token: Token) -> bool:
    if token.kind not in ("word", "pname", "other", "operators"):
        return False
    head = token.text.partition(":")[0] if token.kind == "pname" else token.text
    return "SERVICE" in head.upper()


def with_prologue(text: str, predeclared: dict[str, str], base_iri: str | None = None) -> str:
    """The query with one prologue in front: its base (its own, resolved against `base_iri`, or
    `base_iri`) first, then the predeclared prefixes and its own (its own win). SPARQL 1.1 lets
    BASE and PREFIX come in any order; some stores (Virtuoso) read only BASE first."""
    tokens = tokenize(text)
    prefixes, base, position = _prologue(tokens)
    base = _resolve(base, base_iri) if base else base_iri
    lines = [f"BASE <{base}>"] if base else []
    lines += [f"PREFIX {name}: <{iri}>" for name, iri in {**predeclared, **prefixes}.items()]
    body = text[tokens[position].start :] if position < len(tokens) else ""
    return "\n".join([*lines, body])


def dataset_clause(
    text: str, predeclared: dict[str, str], base_iri: str | None = None
) -> tuple[list[str], list[str]] | None:
    """The graphs a query's own `FROM` and `FROM NAMED` clauses name (default, named), each IRI
    absolute; None when it has none. Run on text the store has parsed already."""
    tokens = tokenize(text)
    prefixes, base, _ = _prologue(tokens)
    base = _resolve(base, base_iri) if base else base_iri
    names = {**predeclared, **prefixes}
    default: list[str] = []
    named: list[str] = []
    found = False
    for i, token in enumerate(tokens[:-1]):
        if token.keyword != "FROM":
            continue
        found = True
        is_named = tokens[i + 1].keyword == "NAMED"
        target = tokens[i + 2] if is_named and i + 2 < len(tokens) else tokens[i + 1]
        if target.kind == "iri":
            iri = _resolve(target.text[1:-1], base)
        elif target.kind == "pname" and target.text.partition(":")[0] in names:
            iri = _expand(target.text, names, base)
        else:
            continue
        (named if is_named else default).append(iri)
    return (default, named) if found else None


def _check_operators(tokens: list[Token]) -> None:
    operators = sum(
        1
        for t in tokens
        if (t.kind == "operators" and t.text.strip(".;,")) or t.keyword in _CHAINING_WORDS
    )
    if operators > MAX_OPERATORS:
        raise QueryTextError(
            f"the query chains {operators:,} operators (/, |, &&, +, UNION …); at most "
            f"{MAX_OPERATORS:,} are read"
        )


def _check_nesting(tokens: list[Token]) -> None:
    depth = 0
    for token in tokens:
        if token.text in ("{", "(", "["):
            depth += 1
            if depth > MAX_NESTING:
                raise QueryTextError(
                    f"the query nests brackets more than {MAX_NESTING} levels deep "
                    f"(at character {token.start + 1})"
                )
        elif token.text in ("}", ")", "]"):
            depth -= 1


def _prologue(tokens: list[Token]) -> tuple[dict[str, str], str | None, int]:
    prefixes: dict[str, str] = {}
    base = None
    i = 0
    while i < len(tokens):
        word = tokens[i].keyword
        if word == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = _resolve(tokens[i + 1].text[1:-1], base)
            i += 2
        elif (
            word == "PREFIX"
            and i + 2 < len(tokens)
            and tokens[i + 1].kind == "pname"
            and tokens[i + 1].text.endswith(":")
            and tokens[i + 2].kind == "iri"
        ):
            prefixes[tokens[i + 1].text[:-1]] = _resolve(tokens[i + 2].text[1:-1], base)
            i += 3
        else:
            break
    return prefixes, base, i


def _expand(pname: str, prefixes: dict[str, str], base: str | None) -> str:
    """The absolute IRI of a prefixed name whose prefix is declared (local escapes undone)."""
    name, _, local = pname.partition(":")
    return _resolve(prefixes[name] + re.sub(r"\\(.)", r"\1", local), base)


def _resolve(iri: str, base: str | None) -> str:
    return urljoin(base, iri) if base and not urlsplit(iri).scheme else iri


def _services(
    text: str,
    tokens: list[Token],
    prefixes: dict[str, str],
    base: str | None,
    allowlist: tuple[str, ...],
) -> list[ServiceCall]:
    calls: list[ServiceCall] = []
    depths = _group_depths(tokens)
    for i, token in enumerate(tokens):
        if token.keyword != "SERVICE":
            _check_not_glued(token)
            continue
        if calls and token.start < calls[-1].end:
            raise QueryRefused("a SERVICE inside another SERVICE is not supported")
        if len(calls) == MAX_SERVICES:
            raise QueryRefused(f"at most {MAX_SERVICES} SERVICE clauses may be used in a query")
        j = i + 1
        silent = j < len(tokens) and tokens[j].keyword == "SILENT"
        j += silent
        if j >= len(tokens):
            raise QueryTextError("SERVICE without an endpoint IRI")
        iri = _service_iri(tokens[j], prefixes, base)
        if iri not in allowlist:
            allowed = ", ".join(f"<{a}>" for a in allowlist) or "none"
            raise QueryRefused(
                f"SERVICE <{_shown(iri)}> is not allowed; this endpoint federates only with: {allowed}"
            )
        if j + 1 >= len(tokens) or tokens[j + 1].text != "{":
            raise QueryTextError(
                f"SERVICE <{_shown(iri)}> must be followed by a group pattern {{ … }}"
            )
        close = _matching_brace(tokens, j + 1)
        calls.append(
            ServiceCall(
                iri=iri,
                silent=silent,
                start=token.start,
                end=tokens[close].end,
                body=text[tokens[j + 1].end : tokens[close].start],
                variables=frozenset(_name(t) for t in tokens[j + 2 : close] if t.kind == "var"),
                top_level=depths[i] == 1,
            )
        )
    return calls


def _check_not_glued(token: Token) -> None:
    """Refuse SERVICE run together with what follows it (`SERVICE:x`, `SERVICEex:y`,
    `SERVICESILENT`): Oxigraph matches keywords without a word boundary, so it reads these as
    SERVICE and an endpoint, where a tokenizer reads one name. Only a prefixed name's local part
    (after its first colon) may hold the word, since both read that part whole."""
    if _may_be_service(token):
        raise QueryRefused(
            f"{_shown(token.text)!r} at character {token.start + 1} runs the word SERVICE together "
            "with what follows; write SERVICE, a space, then the endpoint (or rename the prefix)"
        )


def _shown(text: str, limit: int = 80) -> str:
    """A piece of the query as an error message shows it: never the whole of a huge token."""
    return text if len(text) <= limit else text[:limit] + "…"


def _name(token: Token) -> str:
    return token.text[1:]


def _group_depths(tokens: list[Token]) -> list[int]:
    """For each token, how many `{` groups enclose it."""
    depths = []
    depth = 0
    for token in tokens:
        if token.text == "}":
            depth -= 1
        depths.append(depth)
        if token.text == "{":
            depth += 1
    return depths


# What may stand next to SERVICE in the WHERE group for its solutions to bound the SERVICE call.
_NOT_A_PLAIN_JOIN = frozenset(
    ("OPTIONAL", "MINUS", "UNION", "BIND", "VALUES", "GRAPH", "SELECT", "EXISTS", "NOT")
)


def _local_pattern(
    text: str, tokens: list[Token], calls: list[ServiceCall]
) -> tuple[str | None, frozenset[str]]:
    """The WHERE group's triple patterns, if everything else in it is SERVICE or FILTER."""
    top = [c for c in calls if c.top_level]
    if not top:
        return None, frozenset()
    depths = _group_depths(tokens)
    first = next(i for i, t in enumerate(tokens) if t.start == top[0].start)
    open_index = max(i for i in range(first) if tokens[i].text == "{" and depths[i] == 0)
    close_index = _matching_brace(tokens, open_index)
    spans = [(c.start, c.end) for c in top]
    names: set[str] = set()
    i = open_index + 1
    while i < close_index:
        token = tokens[i]
        if any(start <= token.start < end for start, end in spans):
            i += 1
            continue
        if token.keyword == "FILTER":
            end = _constraint_end(tokens, i + 1)
            if end is None:
                return None, frozenset()
            spans.append((token.start, tokens[end].end))
            i = end + 1
            continue
        if token.text in ("{", "}") or token.keyword in _NOT_A_PLAIN_JOIN:
            return None, frozenset()
        if token.kind == "var":
            names.add(_name(token))
        i += 1
    pattern = text[tokens[open_index].end : tokens[close_index].start]
    start = tokens[open_index].end
    for span_start, span_end in sorted(spans, reverse=True):
        a, b = span_start - start, span_end - start
        pattern = pattern[:a] + " " + pattern[b:]
    return pattern, frozenset(names)


def _constraint_end(tokens: list[Token], index: int) -> int | None:
    """Index of the last token of a FILTER's constraint: `( … )` or `name( … )`."""
    if index < len(tokens) and tokens[index].kind in ("word", "pname", "iri"):
        if tokens[index].keyword in ("EXISTS", "NOT"):
            return None
        index += 1
    if index >= len(tokens) or tokens[index].text != "(":
        return None
    depth = 0
    for k in range(index, len(tokens)):
        if tokens[k].text == "(":
            depth += 1
        elif tokens[k].text == ")":
            depth -= 1
            if depth == 0:
                return k
        elif tokens[k].text in ("{", "}"):
            return None
    return None


def _service_iri(token: Token, prefixes: dict[str, str], base: str | None) -> str:
    if token.kind == "var":
        raise QueryRefused(
            f"SERVICE {_shown(token.text)}: a variable as SERVICE endpoint is not allowed; name the endpoint"
        )
    if token.kind == "iri":
        iri = _resolve(token.text[1:-1], base)
    elif token.kind == "pname":
        name = token.text.partition(":")[0]
        if name not in prefixes:
            raise QueryTextError(
                f"SERVICE {_shown(token.text)}: prefix {_shown(name)}: is not declared"
            )
        iri = _expand(token.text, prefixes, base)
    else:
        raise QueryTextError(
            f"SERVICE must be followed by an endpoint IRI, not {_shown(token.text)!r}"
        )
    if not urlsplit(iri).scheme:
        raise QueryRefused(f"SERVICE <{_shown(iri)}>: the endpoint IRI must be absolute")
    return iri


def _matching_brace(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for k in range(open_index, len(tokens)):
        if tokens[k].text == "{":
            depth += 1
        elif tokens[k].text == "}":
            depth -= 1
            if depth == 0:
                return k
    raise QueryTextError("unbalanced braces: a { is never closed")


def blank_out(text: str, calls: list[ServiceCall]) -> str:
    """The text with each SERVICE clause replaced by an empty group of the same lines and columns.

    Parsing this tells whether the rest of the query is valid, with error positions that match
    what the client sent, before any remote endpoint is asked.
    """
    for call in reversed(calls):
        span = re.sub(r"[^\n]", " ", text[call.start : call.end])
        text = text[: call.start] + "{" + span[1:-1] + "}" + text[call.end :]
    return text


def splice(text: str, replacements: list[tuple[ServiceCall, str]]) -> str:
    """The text with each SERVICE clause replaced by the given group pattern."""
    for call, group in sorted(replacements, key=lambda item: item[0].start, reverse=True):
        text = text[: call.start] + group + text[call.end :]
    return text
