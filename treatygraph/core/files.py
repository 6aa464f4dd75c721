"""Reading the project's text inputs strictly as UTF-8, with the file and line of any fault."""

from __future__ import annotations

from pathlib import Path

from .errors import DataError, Problem


def read_text(path: Path) -> str:
    """Read a UTF-8 file, reporting the byte offset of any invalid sequence."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(Problem(path, None, f"cannot be read: {err.strerror}")) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise DataError(
            Problem(path, line, f"not valid UTF-8 ({err.reason} at byte {err.start})")
        ) from None
