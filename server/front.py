"""The server's front process: the public port on an event loop, the app's gunicorn behind it.

`treatygraph serve` becomes this process. It starts gunicorn (the command it is given) on a unix
socket in a private directory (0700: the query broker's, which removes it when the server ends,
however it ends), waits until it accepts connections, then listens on the public address and
serves every client connection through `edge.Edge`: the app's threads see only whole requests, so
slow clients never hold one. SIGTERM, SIGINT and SIGHUP are passed on to gunicorn (a graceful
stop, or a reload of its workers); on a stop the front stops listening at once, relays what
gunicorn still answers, and exits with gunicorn's status. gunicorn gets SIGKILL if the front dies
without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time

from .edge import Edge, Limits

START_TIMEOUT = 60.0  # seconds gunicorn may take to accept connections
PR_SET_PDEATHSIG = 1
LAST_ANSWERS_TIMEOUT = 10.0  # seconds to relay the answers gunicorn gave before it ended


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the front ends, however it ends (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _accepting(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def run(host: str, port: int, app_command: list[str], upstream: str, limits: Limits) -> int:
    """Serve until gunicorn ends; its exit status."""
    _raise_file_limit()
    app = subprocess.Popen(app_command, preexec_fn=_die_with_parent)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _accepting(upstream):
            if app.poll() is not None:
                return app.returncode
            if time.monotonic() > deadline:
                print(f"front: the app did not start within {START_TIMEOUT:g} s", file=sys.stderr)
                app.kill()
                return 1
            time.sleep(0.05)
        edge = Edge(upstream, limits, default_host=f"{host}:{port}".encode())
        return _loop_runner()(_serve(edge, host, port, app))
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(upstream)


def _loop_runner():
    """uvloop's runner where it is installed, asyncio's otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


async def _serve(edge: Edge, host: str, port: int, app: subprocess.Popen) -> int:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(
        edge.serve, host, port, backlog=1024, reuse_address=True, limit=64 * 1024
    )

    def stop(signum: int) -> None:
        server.close()  # new connections are refused, as gunicorn refuses them when stopping
        app.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signum)
    loop.add_signal_handler(signal.SIGHUP, app.send_signal, signal.SIGHUP)  # gunicorn's reload
    status = await loop.run_in_executor(None, app.wait)
    server.close()
    # What gunicorn answered before it ended still reaches its clients.
    if edge.exchanges:
        await asyncio.wait(edge.exchanges, timeout=LAST_ANSWERS_TIMEOUT)
    return status


def _raise_file_limit() -> None:
    """As many open connections as the system lets this user have (each is a descriptor)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
