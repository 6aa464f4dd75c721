"""The query workers' sandbox: no network of their own, and every request out made for them.

A worker evaluates whatever text reaches it with Oxigraph, whose parser may read a query
differently from the endpoint's reader (`SERVICE:x{…}` was one such text: one prefixed name to
the reader, the SERVICE keyword and `:x` to Oxigraph, which then called out by itself). So the
worker cannot open an Internet socket at all (a seccomp filter on socket(2) for AF_INET, AF_INET6
and AF_PACKET, and on io_uring, which can open sockets too), and the only requests that leave it
are those it asks its web process to make down its pipe: SPARQLWrapper's opener is replaced by
`RelayOpener`, and the web process (`relay`) makes a request only to an address it allows for
this job (an allowlisted SERVICE endpoint or its mirror, the release's remote store), without
following redirects.
"""

from __future__ import annotations

import errno
import http.client
import io
import socket
import urllib.error
import urllib.request
import urllib.response

# Families whose sockets reach other machines (or raw frames); Unix sockets stay allowed.
DENIED_FAMILIES = (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET)


class SandboxUnavailable(RuntimeError):
    """The filter could not be installed: the worker must not run queries without it."""


def deny_network() -> None:
    """Forbid this process (and any it starts) to open an Internet socket, for good."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        denied = seccomp.ERRNO(errno.EACCES)
        for family in DENIED_FAMILIES:
            rules.add_rule(denied, "socket", seccomp.Arg(0, seccomp.EQ, family))
        rules.add_rule(denied, "io_uring_setup")
        rules.load()
    except (ImportError, OSError, RuntimeError, ValueError) as err:
        raise SandboxUnavailable(
            f"the query workers' network sandbox could not be installed ({err}); it needs "
            "Linux with seccomp and libseccomp2 (Debian: apt-get install libseccomp2)"
        ) from None


class RelayOpener:
    """Stands in for urllib's `urlopen` in a worker: the request goes down the pipe instead."""

    def __init__(self, conn):
        self.conn = conn
        self.requests = 0

    def __call__(self, request: urllib.request.Request, timeout: float | None = None):
        self.requests += 1
        body = request.data
        if body is not None and not isinstance(body, bytes):
            body = bytes(body)
        self.conn.send(
            (
                "relay",
                {
                    "method": request.get_method(),
                    "url": request.full_url,
                    "headers": sorted(request.header_items()),
                    "body": body,
                    "timeout": timeout,
                },
            )
        )
        kind, answer = self.conn.recv()
        if kind != "relayed":
            raise urllib.error.URLError(f"unexpected answer from the web process: {kind}")
        if "error" in answer:
            reason = TimeoutError("timed out") if answer.get("timed_out") else answer["error"]
            raise urllib.error.URLError(reason)
        headers = http.client.HTTPMessage()
        for name, value in answer["headers"]:
            headers[name] = value
        status = answer["status"]
        if status >= 400:
            raise urllib.error.HTTPError(
                request.full_url, status, answer["reason"], headers, io.BytesIO(answer["body"])
            )
        return urllib.response.addinfourl(
            io.BytesIO(answer["body"]), headers, request.full_url, status
        )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is the answer: never a second address the allowlist did not name


_OPENER = urllib.request.build_opener(_NoRedirects)


def relay(payload: dict, allowed: frozenset[str], timeout: float, max_bytes: int) -> dict:
    """Make a worker's request if its URL is one this job may reach; the answer as plain data."""
    url = payload.get("url")
    if url not in allowed:
        return {"error": f"{url} is not an address this query may reach"}
    wanted = payload.get("timeout")
    seconds = max(0.1, min(timeout, wanted) if wanted else timeout)
    request = urllib.request.Request(
        url,
        data=payload.get("body"),
        headers=dict(payload.get("headers", ())),
        method=payload.get("method", "GET"),
    )
    try:
        with _OPENER.open(request, timeout=seconds) as response:
            return _answer(response.status, response.reason, response.headers, response, max_bytes)
    except urllib.error.HTTPError as err:
        return _answer(err.code, err.reason, err.headers, err, max_bytes)
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        return {"error": str(reason), "timed_out": isinstance(reason, TimeoutError)}


def _answer(status: int, reason, headers, stream, max_bytes: int) -> dict:
    body = stream.read(max_bytes + 1) if stream is not None else b""
    if len(body) > max_bytes:
        return {"error": f"the answer was larger than {max_bytes // (1024 * 1024)} MiB"}
    return {
        "status": status,
        "reason": str(reason),
        "headers": list(headers.items()) if headers is not None else [],
        "body": body,
    }
