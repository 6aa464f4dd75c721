"""Curated YAML files: loading with line numbers, and the canonical (sorted) form the lint checks."""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.representer import RoundTripRepresenter

from treatygraph.core.errors import DataError, Problem
from treatygraph.core.files import read_text

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class DateText(str):
    """A YAML date kept as its text, so an impossible date is reported by us, with its line."""


class _Constructor(RoundTripConstructor):
    pass


class _Representer(RoundTripRepresenter):
    pass


_Constructor.add_constructor(TIMESTAMP_TAG, lambda self, node: DateText(node.value))
_Representer.add_representer(
    DateText, lambda self, data: self.represent_scalar(TIMESTAMP_TAG, str(data))
)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Representer = _Representer
    yaml.width = 4096  # no folding: ruamel leaves trailing spaces where it folds
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.preserve_quotes = True
    return yaml


def load_yaml(path: Path):
    """Parse a YAML file; a syntax error becomes a DataError with its line."""
    text = read_text(path)
    try:
        return _yaml().load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        message = err.problem or err.context
        if err.problem and err.context and err.context_mark:
            message = f"{err.context} (line {err.context_mark.line + 1}): {err.problem}"
        raise DataError(Problem(path, line, f"malformed YAML: {message}")) from None


def load_records(path: Path) -> CommentedSeq:
    """Load a curated file: a YAML list of mappings, each remembering its line numbers."""
    records = load_yaml(path)
    if records is None:
        return CommentedSeq()
    if not isinstance(records, CommentedSeq):
        raise DataError(Problem(path, 1, "expected a list of records at the top level"))
    for index, record in enumerate(records):
        if not isinstance(record, CommentedMap):
            raise DataError(
                Problem(path, item_line(records, index), "each record must be a mapping")
            )
    return records


def item_line(seq: CommentedSeq, index: int) -> int:
    return seq.lc.item(index)[0] + 1


def key_line(mapping: CommentedMap, key: str) -> int:
    """The 1-based line of a key in a mapping (the mapping's own line if unknown)."""
    try:
        return mapping.lc.key(key)[0] + 1
    except (KeyError, TypeError):
        return mapping.lc.line + 1


def record_line(mapping: CommentedMap) -> int:
    return mapping.lc.line + 1


def canonical_text(path: Path, sort_key: str = "id") -> str:
    """The file as it should be: records sorted by `sort_key`, dumped in one style."""
    records = load_records(path)
    head = records.ca.comment
    ordered = CommentedSeq(sorted(records, key=lambda r: str(r.get(sort_key, ""))))
    if head:
        ordered.ca.comment = head
    out = io.StringIO()
    _yaml().dump(ordered, out)
    return out.getvalue().rstrip("\n") + "\n"
