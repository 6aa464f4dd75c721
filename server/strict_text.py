"""Request text decoded strictly as UTF-8.

Werkzeug decodes the query string and form bodies with replacement: a byte that is not UTF-8
becomes U+FFFD, and a different query runs without a word. Here the raw bytes are read and decoded
strictly, and a byte that is not UTF-8 is an error saying where it is (parameter, byte offset).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import MultiDict
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData


class UnreadableRequest(Exception):
    """Request text that cannot be read; the message says where, for a 400 answer."""


class NotUTF8(UnreadableRequest):
    """Text of a request that is not UTF-8."""


class MalformedForm(UnreadableRequest):
    """A form body that cannot be read at all (a broken multipart body)."""


def decode_utf8(data: bytes, where: str) -> str:
    """`data` as UTF-8, or NotUTF8 naming `where` and the byte offset of the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = " ".join(f"0x{byte:02X}" for byte in data[err.start : err.end])
        raise NotUTF8(
            f"{where} is not UTF-8: byte {bad} at byte offset {err.start} is not valid UTF-8 "
            f"({err.reason}); send the text encoded as UTF-8 (percent-encoded in a URL or form)"
        ) from None


def parse_urlencoded(raw: bytes, where: str) -> MultiDict:
    """The parameters of a query string or an application/x-www-form-urlencoded body.

    Offsets count bytes of the percent-decoded name or value, as the server reads it.
    """
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        name = decode_utf8(_unquote_plus(raw_name), f"a parameter name in {where}")
        value = decode_utf8(_unquote_plus(raw_value), f"parameter `{name}` in {where}")
        pairs.append((name, value))
    return MultiDict(pairs)


def _unquote_plus(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def raw_query_string(environ: dict) -> bytes:
    """The query string as the client sent it: WSGI carries it as latin-1 text (PEP 3333)."""
    return environ.get("QUERY_STRING", "").encode("latin-1", "replace")


def parse_multipart(body: bytes, boundary: str | None, where: str) -> MultiDict:
    """The fields of a multipart/form-data body, each value decoded strictly (files included:
    a query sent as a file part is still a query)."""
    if not boundary:
        raise MalformedForm("a multipart/form-data body needs a boundary parameter")
    decoder = MultipartDecoder(boundary.encode("latin-1", "replace"))
    try:
        decoder.receive_data(body)
        decoder.receive_data(None)
        pairs = []
        name, chunks = "", []
        while True:
            event = decoder.next_event()
            if isinstance(event, (Field, File)):
                name, chunks = event.name, []
            elif isinstance(event, Data):
                chunks.append(event.data)
                if not event.more_data:
                    value = decode_utf8(b"".join(chunks), f"field `{name}` of {where}")
                    pairs.append((name, value))
            elif isinstance(event, Epilogue):
                return MultiDict(pairs)
            elif isinstance(event, NeedData):
                raise MalformedForm("the multipart/form-data body ends before its last boundary")
    except ValueError as err:
        raise MalformedForm(f"malformed multipart/form-data body: {err}") from None
