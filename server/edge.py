"""The edge of the server: each client's whole request is read here before the app sees any of it.

A connection is held by an event loop, not by a thread: a client that sends its request a byte at a
time costs a few kilobytes here and no application thread. The head must arrive within
`head_timeout` seconds and the body within `body_timeout` more, both capped in size; past them the
client gets 408, 431 or 413 from here. A malformed request, or an HTTP/1.1 one without Host, gets
400 (h11 reads HTTP, not our code). Only a complete request goes to the app, on a connection of
its own to a private unix socket, the client's address first in a PROXY protocol line; the answer
is relayed back as it comes, and a client that goes away has that connection closed, so the app
sees it go. Answers up to RESPONSE_BUFFER bytes are taken from the app at once, whatever the
client's reading speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from http import HTTPStatus

import h11

log = logging.getLogger(__name__)

HEAD_TIMEOUT = 10.0  # seconds for a request's line and headers (also an idle keep-alive's wait)
BODY_TIMEOUT = 30.0  # seconds for its body, once the head is in
SEND_TIMEOUT = 30.0  # seconds a client may read nothing of its answer before it is dropped
LINGER_SECONDS = 2.0  # after a refusal, how long what the client still sends is read and dropped
MAX_HEAD_BYTES = 64 * 1024
READ_BYTES = 64 * 1024
RESPONSE_BUFFER = 1024 * 1024
# Hop-by-hop fields (RFC 9110, 7.6.1) and framing: this hop's business, redone on each side.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"content-length",
    }
)


@dataclass(frozen=True)
class Limits:
    """How long and how large a client's request may be."""

    max_body: int
    head_timeout: float = HEAD_TIMEOUT
    body_timeout: float = BODY_TIMEOUT


class _Refused(Exception):
    """Answered here with a status and a message; the connection is then closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Quiet(Exception):
    """The connection ends without an answer (the client left, or was idle)."""


class Edge:
    """Serves client connections (`asyncio.start_server`'s callback) in front of the app."""

    def __init__(self, upstream: str, limits: Limits, default_host: bytes):
        self.upstream = upstream
        self.limits = limits
        self.default_host = default_host  # for HTTP/1.0 requests without Host
        self.exchanges: set[asyncio.Task] = set()  # connections handing a request to the app

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        writer.transport.set_write_buffer_limits(high=RESPONSE_BUFFER)
        try:
            while True:
                request = await self._read_head(conn, reader)
                body = await self._read_body(conn, reader, writer, request)
                task = asyncio.current_task()
                self.exchanges.add(task)
                try:
                    await self._forward(conn, reader, writer, request, body)
                finally:
                    self.exchanges.discard(task)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except _Refused as refusal:
            await _answer_error(conn, writer, refusal.status, refusal.message)
            await _linger(reader, writer)
        except (_Quiet, ConnectionError, TimeoutError):
            pass
        except Exception:
            log.exception("front: connection failed")
        finally:
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), SEND_TIMEOUT)
            except (ConnectionError, TimeoutError):
                writer.transport.abort()  # a client that reads nothing holds no answer here

    async def _read_head(self, conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.head_timeout
        started = bool(conn.trailing_data[0])
        while True:
            event = _next(conn)
            if isinstance(event, h11.Request):
                return _checked(event)
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                raise _Quiet()
            try:
                data = await asyncio.wait_for(reader.read(READ_BYTES), deadline - loop.time())
            except TimeoutError:
                if not started:
                    raise _Quiet() from None  # an idle connection: closed without a word
                raise _Refused(
                    408, f"request head not received within {self.limits.head_timeout:g} s"
                ) from None
            started = True
            conn.receive_data(data)

    async def _read_body(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> bytes | None:
        """The whole body; None when the request has none."""
        declared = _header(request, b"content-length")
        chunked = _header(request, b"transfer-encoding") is not None
        if declared is None and not chunked:
            if not isinstance(_next(conn), h11.EndOfMessage):
                raise _Refused(400, "malformed request")
            return None
        too_large = f"request body too large: at most {self.limits.max_body} bytes are accepted"
        if declared is not None and int(declared) > self.limits.max_body:
            raise _Refused(413, too_large)
        if conn.client_is_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        parts: list[bytes] = []
        size = 0
        while True:
            event = _next(conn)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.limits.max_body:
                    raise _Refused(413, too_large)
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            elif isinstance(event, h11.ConnectionClosed):
                raise _Quiet()
            else:
                try:
                    data = await asyncio.wait_for(reader.read(READ_BYTES), deadline - loop.time())
                except TimeoutError:
                    raise _Refused(
                        408, f"request body not received within {self.limits.body_timeout:g} s"
                    ) from None
                conn.receive_data(data)

    async def _forward(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes | None,
    ) -> None:
        """Hand the request to the app and relay its answer, watching the client meanwhile."""
        try:
            up_reader, up_writer = await asyncio.open_unix_connection(self.upstream)
        except OSError as err:
            log.error("front: the app at %s is not answering: %s", self.upstream, err)
            raise _Refused(502, "the server's application is not answering; try again") from None
        app = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        up_writer.write(
            _proxy_line(writer)
            + app.send(self._upstream_request(request, body))
            + (app.send(h11.Data(data=body)) if body else b"")
            + app.send(h11.EndOfMessage())
        )
        watch: asyncio.Future | None = asyncio.ensure_future(reader.read(READ_BYTES))
        answered = False
        try:
            while True:
                event = app.next_event()
                if event is h11.NEED_DATA:
                    data, watch = await _read_watching(up_reader, reader, watch, conn)
                    app.receive_data(data)
                    continue
                if isinstance(event, h11.InformationalResponse):
                    continue
                if isinstance(event, h11.Response):
                    headers = [(n, v) for n, v in event.headers if n.lower() not in HOP_BY_HOP]
                    length = _header(event, b"content-length")
                    if length is not None:
                        headers.append((b"content-length", length))
                    writer.write(
                        conn.send(
                            h11.Response(
                                status_code=event.status_code, headers=headers, reason=event.reason
                            )
                        )
                    )
                    answered = True
                elif isinstance(event, h11.Data):
                    writer.write(conn.send(h11.Data(data=event.data)))
                elif isinstance(event, h11.EndOfMessage):
                    writer.write(conn.send(h11.EndOfMessage()))
                    await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
                    return
                else:
                    raise h11.RemoteProtocolError("the app closed the connection early")
                if writer.transport.get_write_buffer_size() > RESPONSE_BUFFER:
                    await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
        except h11.RemoteProtocolError as err:
            if answered:  # cut short: the client must not take it for a whole answer
                writer.transport.abort()
                raise _Quiet() from None
            log.error("front: the app's answer was unreadable: %s", err)
            raise _Refused(502, "the server's application gave no answer; try again") from None
        finally:
            if watch is not None and watch.done() and not watch.cancelled():
                conn.receive_data(watch.result())  # the client's next request, or its close
            elif watch is not None:
                watch.cancel()
            up_writer.transport.abort()

    def _upstream_request(self, request: h11.Request, body: bytes | None) -> h11.Request:
        headers = [(n, v) for n, v in request.headers if n not in HOP_BY_HOP]
        if _header(request, b"host") is None:
            headers.append((b"host", self.default_host))
        if body is not None:
            headers.append((b"content-length", str(len(body)).encode()))
        headers.append((b"connection", b"close"))
        return h11.Request(method=request.method, target=request.target, headers=headers)


async def _read_watching(
    up_reader: asyncio.StreamReader,
    reader: asyncio.StreamReader,
    watch: asyncio.Future | None,
    conn: h11.Connection,
) -> tuple[bytes, asyncio.Future | None]:
    """The app's next bytes; meanwhile a client that closes its connection ends the exchange.

    Bytes the client sends meanwhile (a pipelined request) are kept for the next cycle, up to
    MAX_HEAD_BYTES; past that the client is no longer watched until its answer is out.
    """
    read = asyncio.ensure_future(up_reader.read(READ_BYTES))
    try:
        while True:
            waiting = {read} if watch is None else {read, watch}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if watch is not None and watch.done():
                data = watch.result()
                if not data:
                    raise _Quiet()  # the client left: closing the app's connection tells the app
                conn.receive_data(data)
                watch = None
                if len(conn.trailing_data[0]) < MAX_HEAD_BYTES:
                    watch = asyncio.ensure_future(reader.read(READ_BYTES))
            if read.done():
                return read.result(), watch
    finally:
        if not read.done():
            read.cancel()


def _checked(request: h11.Request) -> h11.Request:
    """What h11 lets through and this server refuses: HTTP other than 1.0 and 1.1, and a body
    framed twice (Content-Length beside Transfer-Encoding, the stuff of request smuggling)."""
    if request.http_version not in (b"1.0", b"1.1"):
        raise _Refused(505, "HTTP version not supported: use HTTP/1.1 or HTTP/1.0")
    if _header(request, b"content-length") is not None and (
        _header(request, b"transfer-encoding") is not None
    ):
        raise _Refused(400, "bad request: both Content-Length and Transfer-Encoding are given")
    return request


def _next(conn: h11.Connection):
    try:
        return conn.next_event()
    except h11.RemoteProtocolError as err:
        raise _Refused(err.error_status_hint, f"bad request: {str(err)[:200]}") from None


def _header(event: h11.Request | h11.Response, name: bytes) -> bytes | None:
    for key, value in event.headers:
        if key == name:
            return value
    return None


def _proxy_line(writer: asyncio.StreamWriter) -> bytes:
    """The client's address for the app, in the PROXY protocol's text form (version 1)."""
    peer = writer.get_extra_info("peername")
    local = writer.get_extra_info("sockname")
    family = "TCP6" if ipaddress.ip_address(peer[0]).version == 6 else "TCP4"
    return f"PROXY {family} {peer[0]} {local[0]} {peer[1]} {local[1]}\r\n".encode()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After a refusal, say we are done sending and read what the client still sends, dropping
    it, until it closes or LINGER_SECONDS pass: closing with its request unread would reset the
    connection, and the reset can reach a client still sending before the answer does (nginx's
    lingering close)."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + LINGER_SECONDS
    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
        if writer.can_write_eof():
            writer.write_eof()
        while (left := ends - loop.time()) > 0:
            if not await asyncio.wait_for(reader.read(READ_BYTES), left):
                return


async def _answer_error(
    conn: h11.Connection, writer: asyncio.StreamWriter, status: int, message: str
) -> None:
    """A plain-text error answer, if the exchange is at a point where one can be given."""
    if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
        return
    body = (message + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    with contextlib.suppress(h11.LocalProtocolError, ConnectionError, TimeoutError):
        reason = HTTPStatus(status).phrase.encode()
        writer.write(conn.send(h11.Response(status_code=status, headers=headers, reason=reason)))
        writer.write(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
        await asyncio.wait_for(writer.drain(), SEND_TIMEOUT)
