"""Shapes in a query's text that some stores need reworded (treatygraph.store.dialects).

Found on the tokens of `sparql_text`, so words in strings and comments count for nothing. Each
function answers with character spans of the text as given; a shape it cannot read with
certainty is left out, so a store then gets the query as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import Token, _matching_brace, _prologue, _resolve, tokenize

# Functions and forms whose value is always a boolean.
_BOOLEAN_FORMS = frozenset(
    (
        "EXISTS",
        "NOT",
        "BOUND",
        "ISIRI",
        "ISURI",
        "ISBLANK",
        "ISLITERAL",
        "ISNUMERIC",
        "REGEX",
        "SAMETERM",
        "LANGMATCHES",
        "CONTAINS",
        "STRSTARTS",
        "STRENDS",
        "TRUE",
        "FALSE",
    )
)


def bound_expressions(text: str) -> list[tuple[int, int, bool]]:
    """Every `(expression AS ?name)` of the query (in BIND, SELECT or GROUP BY): the character
    span of the expression, and whether its value is a boolean: its top level is a comparison,
    `&&`, `||`, `!`, IN, EXISTS, a function that returns one, or an IF both of whose values are
    booleans (COALESCE is not looked into)."""
    tokens = tokenize(text)
    found = []
    for i, token in enumerate(tokens):
        if token.keyword != "AS" or i + 2 >= len(tokens) or tokens[i + 2].text != ")":
            continue
        if tokens[i + 1].kind != "var":
            continue
        depth, j = 0, i - 1
        while j >= 0 and not (tokens[j].text in _OPENING and depth == 0):
            depth += (tokens[j].text in _CLOSING) - (tokens[j].text in _OPENING)
            j -= 1
        expression = tokens[j + 1 : i]
        if expression:
            found.append((expression[0].start, expression[-1].end, _is_boolean(expression)))
    return found


def typed_literals(text: str) -> list[tuple[int, int, str]]:
    """Every `"lexical form"^^datatype` of the query: the span of its quoted lexical form and its
    datatype IRI (prefixed names resolved with the query's prologue)."""
    tokens = tokenize(text)
    prefixes, base, _ = _prologue(tokens)
    found = []
    for i in range(len(tokens) - 2):
        string, hats, datatype = tokens[i : i + 3]
        if string.kind != "string" or hats.text != "^^":
            continue
        if datatype.kind == "iri":
            iri = _resolve(datatype.text[1:-1], base)
        elif datatype.kind == "pname" and datatype.text.partition(":")[0] in prefixes:
            name, _, local = datatype.text.partition(":")
            iri = prefixes[name] + local
        else:
            continue
        found.append((string.start, string.end, iri))
    return found


def filter_constraints(text: str) -> list[tuple[int, int]]:
    """The span of every FILTER's constraint: its bracketed expression, function call or
    `[NOT] EXISTS { … }`."""
    tokens = tokenize(text)
    spans = []
    for i, token in enumerate(tokens[:-1]):
        if token.keyword != "FILTER":
            continue
        k = i + 1
        if tokens[k].keyword in ("NOT", "EXISTS"):
            k += tokens[k].keyword == "NOT"
            end = _matching_brace(tokens, k + 1)
        else:
            k += tokens[k].text != "("  # a function's name
            end = _closing_paren(tokens, k)
        spans.append((tokens[i + 1].start, tokens[end].end))
    return spans


def _closing_paren(tokens: list[Token], k: int) -> int:
    depth = 0
    for j in range(k, len(tokens)):
        depth += (tokens[j].text == "(") - (tokens[j].text == ")")
        if depth == 0:
            return j
    raise IndexError("unbalanced parentheses")


def exists_clauses(text: str) -> list[tuple[int, int]]:
    """The character span of every `EXISTS { … }` and `NOT EXISTS { … }` in the query."""
    tokens = tokenize(text)
    spans = []
    for i, token in enumerate(tokens):
        if token.keyword != "EXISTS" or i + 1 >= len(tokens) or tokens[i + 1].text != "{":
            continue
        first = i - 1 if i > 0 and tokens[i - 1].keyword == "NOT" else i
        spans.append((tokens[first].start, tokens[_matching_brace(tokens, i + 1)].end))
    return spans


def group_concats_without_separator(text: str) -> list[int]:
    """Where the closing bracket of every `GROUP_CONCAT(…)` that names no SEPARATOR is."""
    tokens = tokenize(text)
    found = []
    for i, token in enumerate(tokens[:-1]):
        if token.keyword != "GROUP_CONCAT" or tokens[i + 1].text != "(":
            continue
        end = _closing_paren(tokens, i + 1)
        if not any(t.keyword == "SEPARATOR" for t in tokens[i + 2 : end]):
            found.append(tokens[end].start)
    return found


def averages(text: str) -> list[tuple[int, int]]:
    """The character span of every `AVG(…)` aggregate."""
    tokens = tokenize(text)
    return [
        (token.start, tokens[_closing_paren(tokens, i + 1)].end)
        for i, token in enumerate(tokens[:-1])
        if token.keyword == "AVG" and tokens[i + 1].text == "("
    ]


def inverse_negated_sets(text: str) -> list[tuple[int, int, str]]:
    """Every negated property set with inverse members (`!^p`, `!(p|^q)`), as (start, end, the
    same path without `^` inside the `!`): `!(p|^q)` is `(!(p)|^!(q))`, `!^p` is `(^!(p))`."""
    tokens = tokenize(text)
    found = []
    for i, token in enumerate(tokens[:-1]):
        bang = token.text.rfind("!")
        if token.kind != "operators" or bang < 0:
            continue
        after = token.text[bang + 1 :]
        if after == "" and tokens[i + 1].text == "(":
            end = _closing_paren(tokens, i + 1)
            inside = text[tokens[i + 1].end : tokens[end].start]
        elif after == "^":
            end = i + 1
            inside = "^" + tokens[end].text
        else:
            continue
        members = [m.strip() for m in inside.split("|")]
        if not all(_NEGATED_MEMBER.fullmatch(m) for m in members):
            continue
        inverse = [m[1:].strip() for m in members if m.startswith("^")]
        if not inverse:
            continue
        forward = [m for m in members if not m.startswith("^")]
        parts = [f"!({'|'.join(forward)})"] if forward else []
        parts.append(f"^!({'|'.join(inverse)})")
        found.append((token.start + bang, tokens[end].end, "(" + "|".join(parts) + ")"))
    return found


_NEGATED_MEMBER = re.compile(r"\^?\s*(?:<[^<>\s]*>|[A-Za-z_][\w.-]*:[^\s|()^]*|:[^\s|()^]*|a)")


_OPENING = frozenset("({[")
_CLOSING = frozenset(")}]")


def _is_boolean(expression: list[Token]) -> bool:
    top, depth = [], 0
    for token in expression:
        if token.text in _CLOSING:
            depth -= 1
        elif token.text in _OPENING:
            depth += 1
        elif depth == 0:
            top.append(token)
    if not top:  # the whole expression in brackets: look inside
        inner = expression[1:-1]
        return expression[0].text == "(" and bool(inner) and _is_boolean(inner)
    for token in top:
        if token.kind == "punct" or token.keyword == "IN":  # < or <=
            return True
        if token.kind == "operators" and any(op in token.text for op in ("=", ">", "&&", "||")):
            return True
    if top[0].text.startswith("!"):
        return True
    words = [t.keyword for t in top]
    if words == ["IF"] and expression[1].text == "(":
        arguments = _arguments(expression[2:-1])
        return len(arguments) == 3 and all(a and _is_boolean(a) for a in arguments[1:])
    return words[0] in _BOOLEAN_FORMS and words in (["NOT", "EXISTS"], [words[0]])


def _arguments(tokens: list[Token]) -> list[list[Token]]:
    """A call's arguments: its tokens between the brackets, cut at the top-level commas."""
    arguments: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        depth += (token.text in _OPENING) - (token.text in _CLOSING)
        if depth == 0 and token.text == ",":
            arguments.append([])
        else:
            arguments[-1].append(token)
    return arguments


@dataclass(frozen=True)
class DistinctSelect:
    """A `SELECT DISTINCT` query cut at its joints (character spans of the text): the
    projection, the dataset clauses, the WHERE group with its GROUP BY and HAVING, and the
    ORDER BY, LIMIT and OFFSET after them."""

    projection: tuple[int, int]
    dataset: tuple[int, int]
    where: tuple[int, int]
    modifiers: tuple[int, int]


def distinct_select(text: str) -> DistinctSelect | None:
    """The query's parts if it is a `SELECT DISTINCT` whose ORDER BY uses only what it selects
    (nothing else would be left to order by once the rest is a subquery), without trailing
    VALUES; None otherwise."""
    tokens = tokenize(text)
    _, _, i = _prologue(tokens)
    if i + 1 >= len(tokens) or tokens[i].keyword != "SELECT" or tokens[i + 1].keyword != "DISTINCT":
        return None
    first = i + 2
    k = first
    while k < len(tokens) and tokens[k].keyword not in ("FROM", "WHERE") and tokens[k].text != "{":
        k += 1
    projection = tokens[first:k]
    dataset_start = k
    while k < len(tokens) and tokens[k].keyword not in ("WHERE",) and tokens[k].text != "{":
        k += 1
    dataset_end = k
    brace = k + (tokens[k].keyword == "WHERE")
    if brace >= len(tokens) or tokens[brace].text != "{" or not projection:
        return None
    close = _matching_brace(tokens, brace)
    m = close + 1
    while m < len(tokens) and tokens[m].keyword not in ("ORDER", "LIMIT", "OFFSET", "VALUES"):
        m += 1  # GROUP BY and HAVING stay with the WHERE group
    later = tokens[m:]
    if any(t.keyword == "VALUES" for t in later):
        return None
    selected = {t.text[1:] for t in projection if t.kind == "var"}
    ordered = {t.text[1:] for t in later if t.kind == "var"}
    if projection[0].text != "*" and not ordered <= selected:
        return None
    where_end = tokens[m - 1].end
    return DistinctSelect(
        (projection[0].start, projection[-1].end),
        (tokens[dataset_start].start, tokens[dataset_start].start)
        if dataset_start == dataset_end
        else (tokens[dataset_start].start, tokens[dataset_end - 1].end),
        (tokens[dataset_end].start, where_end),
        (where_end, len(text)),
    )


@dataclass(frozen=True)
class PathStatement:
    """A triple statement (`subject verb objects ; verb objects …`) using a transitive property
    path (`*` or `+`): its span, the statement without those verbs (empty if nothing is left),
    and each of them as a statement of its own (`subject path objects`)."""

    start: int
    end: int
    rest: str
    paths: tuple[str, ...]
    # For each path: whether its verb is one closure as a whole (`p+`, `^p*`, `(p/q)+`), whose
    # solutions SPARQL defines as a set, so asking for them DISTINCT changes nothing.
    closures: tuple[bool, ...] = ()


class _Unreadable(Exception):
    """A shape this reader does not follow; nothing is reworded."""


def transitive_path_statements(text: str) -> list[PathStatement]:
    """Every statement of the query's WHERE group (and the groups in it) with a transitive path
    whose subject or an object is a constant (a path between two unknowns is left alone); none
    at all if any part of the group cannot be read."""
    tokens = tokenize(text)
    where = next((i for i, t in enumerate(tokens) if t.keyword == "WHERE"), None)
    if where is None:  # `ASK { … }`, `SELECT * { … }`: the first group
        where = next((i - 1 for i, t in enumerate(tokens) if t.text == "{"), None)
    if where is None:
        return []
    found: list[PathStatement] = []
    try:
        _Group(text, tokens, found).parse(where + 1)
    except (_Unreadable, IndexError):
        return []
    return found


def _whole_closure(verb: list[Token]) -> bool:
    """Whether a path's tokens are one `*` or `+` closure: `p+`, `^p*`, `(…)+`."""
    if len(verb) < 2 or verb[-1].text not in ("*", "+"):
        return False
    body = verb[:-1]
    if body[0].text == "^":
        body = body[1:]
    if len(body) == 1:
        return body[0].kind in ("iri", "pname") or body[0].keyword == "A"
    return body[0].text == "(" and _closing_paren(body, 0) == len(body) - 1


class _Group:
    """Follows group graph patterns, recording transitive path statements."""

    def __init__(self, text: str, tokens: list[Token], found: list[PathStatement]):
        self.text = text
        self.tokens = tokens
        self.found = found

    def parse(self, i: int) -> int:
        """The group opening at i; the index after its closing brace."""
        if self.tokens[i].text != "{":
            raise _Unreadable
        i += 1
        if self.tokens[i].keyword == "SELECT":  # a subquery: its own WHERE group, then past it
            where = next(k for k in range(i, len(self.tokens)) if self.tokens[k].text == "{")
            self.parse(where)
            return _matching_brace(self.tokens, i - 1) + 1
        while True:
            token = self.tokens[i]
            word = token.keyword
            if token.text == "}":
                return i + 1
            if token.text == "." or word == "UNION":
                i += 1
            elif word in ("OPTIONAL", "MINUS"):
                i = self.parse(i + 1)
            elif word in ("GRAPH", "SERVICE"):
                i += 2 + (self.tokens[i + 1].keyword == "SILENT")
                i = self.parse(i)
            elif token.text == "{":
                i = self.parse(i)
            elif word == "FILTER":
                i = self._constraint(i + 1)
            elif word == "BIND":
                i = self._expression(i + 1)
            elif word == "VALUES":
                i = self._values(i + 1)
            else:
                i = self._statement(i)

    def _constraint(self, i: int) -> int:
        word = self.tokens[i].keyword
        if word in ("NOT", "EXISTS"):
            return self.parse(i + 1 + (word == "NOT"))
        if self.tokens[i].text != "(":
            i += 1  # a function's name
        return self._expression(i)

    def _expression(self, i: int) -> int:
        """A bracketed expression at i (EXISTS groups in it followed); the index after it."""
        if self.tokens[i].text != "(":
            raise _Unreadable
        depth = 0
        while True:
            text = self.tokens[i].text
            if text == "{":
                i = self.parse(i)
                continue
            depth += (text == "(") - (text == ")")
            i += 1
            if depth == 0:
                return i

    def _values(self, i: int) -> int:
        while self.tokens[i].text != "{":
            i += 1
        return _matching_brace(self.tokens, i) + 1

    def _statement(self, i: int) -> int:
        subject = self.tokens[i]
        i = self._term(i)
        # (verb start, verb end, end of its objects, whether the verb is transitive)
        items: list[tuple[int, int, int, bool]] = []
        while True:
            verb_start = i
            verb_end, transitive = self._verb(i)
            i = self._term(verb_end)
            while self.tokens[i].text == ",":
                i = self._term(i + 1)
            items.append((verb_start, verb_end, i, transitive))
            if self.tokens[i].text != ";":
                break
            while self.tokens[i].text == ";":
                i += 1
            if not self._starts_verb(self.tokens[i]):
                break  # a trailing `;`
        self._record(subject, items)
        return i

    @staticmethod
    def _starts_verb(token: Token) -> bool:
        if token.kind in ("var", "iri", "pname") or token.keyword == "A" or token.text == "(":
            return True
        return token.kind == "operators" and token.text[0] in "^!"

    def _record(self, subject: Token, items) -> None:
        """Note the statement if it has a transitive verb to move out."""
        if subject.kind not in ("var", "iri", "pname") or not any(t for *_, t in items):
            return
        paths, rest, closures = [], [], []
        for verb_start, verb_end, end, transitive in items:
            piece = self.text[self.tokens[verb_start].start : self.tokens[end - 1].end]
            verb = self.tokens[verb_start:verb_end]
            objects = self.tokens[verb_end:end]
            constant = subject.kind != "var" or any(
                t.kind in ("iri", "pname", "string", "number") for t in objects
            )
            if transitive and constant:
                if any(t.kind == "bnode" for t in objects):
                    return  # a blank node label may not be used in two patterns
                paths.append(f"{subject.text} {piece}")
                closures.append(_whole_closure(verb))
            else:
                rest.append(piece)
        if paths:
            self.found.append(
                PathStatement(
                    subject.start,
                    self.tokens[items[-1][2] - 1].end,
                    f"{subject.text} {' ; '.join(rest)}" if rest else "",
                    tuple(paths),
                    tuple(closures),
                )
            )

    def _term(self, i: int) -> int:
        """A subject or object at i (a collection or blank node property list whole)."""
        token = self.tokens[i]
        if token.text in ("(", "["):
            closing = ")" if token.text == "(" else "]"
            depth = 0
            while True:
                depth += (self.tokens[i].text == token.text) - (self.tokens[i].text == closing)
                i += 1
                if depth == 0:
                    return i
        if token.kind == "string":
            if self.tokens[i + 1].kind == "lang":
                return i + 2
            if self.tokens[i + 1].text == "^^":
                return i + 3
            return i + 1
        if token.kind in ("var", "iri", "pname", "number", "bnode") or token.keyword in (
            "TRUE",
            "FALSE",
        ):
            return i + 1
        raise _Unreadable

    def _verb(self, i: int) -> tuple[int, bool]:
        """A verb at i: `a`, a variable or a property path; where it ends, and whether it has
        a `*` or `+`."""
        if self.tokens[i].kind == "var" or self.tokens[i].keyword == "A":
            return i + 1, False
        transitive = False
        while True:
            if self.tokens[i].kind == "operators" and set(self.tokens[i].text) <= set("^!"):
                i += 1
            if self.tokens[i].text == "(":
                depth = 0
                while True:
                    text = self.tokens[i].text
                    depth += (text == "(") - (text == ")")
                    transitive = transitive or (
                        self.tokens[i].kind == "operators" and bool(set(text) & set("*+"))
                    )
                    i += 1
                    if depth == 0:
                        break
            elif self.tokens[i].kind in ("iri", "pname") or self.tokens[i].keyword == "A":
                i += 1
            else:
                raise _Unreadable
            token = self.tokens[i]
            if token.text == "?" or (token.kind == "operators" and token.text[0] in "*+?/|"):
                modifiers = token.text.rstrip("/|^!") if token.text != "?" else "?"
                transitive = transitive or bool(set(modifiers) & set("*+"))
                i += 1
                if any(c in token.text for c in "/|"):
                    continue
                if self.tokens[i].kind == "operators" and self.tokens[i].text[0] in "/|":
                    i += 1
                    continue
            return i, transitive
