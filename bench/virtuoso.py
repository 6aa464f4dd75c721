"""A private Virtuoso for the tests and the benchmarks: Debian's virtuoso-t with its own database
folder and ports on 127.0.0.1, a user allowed SPARQL updates and a new dba password (both random),
always stopped and removed.

Every setting that matters is written into its virtuoso.ini here (Debian's defaults, in
/usr/share/virtuoso-opensource-7/virtuoso.ini, listen on every address and load plugins).
"""

from __future__ import annotations

import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

VIRTUOSO = "virtuoso-t"
ISQL = "isql-vt"
UPDATE_USER = "treatygraph"
INI = """\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
MaxClientConnections = 20
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = {db}, {load_dir}
NumberOfBuffers = {buffers}
MaxDirtyBuffers = {dirty_buffers}
TransactionAfterImageLimit = {transaction_bytes}
ThreadsPerQuery = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {db}
MaxClientConnections = 20
ServerThreads = 20
EnabledDavVSP = 0
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = {result_rows}
MaxQueryExecutionTime = 0
"""


def installed() -> bool:
    return shutil.which(VIRTUOSO) is not None and shutil.which(ISQL) is not None


class PrivateVirtuoso:
    """One virtuoso-t process over a database of its own in `folder`.

    `url` is its HTTP server; `load_dir` a folder its bulk loader may read; `user`/`password`
    the update user (SPARQL_UPDATE role), `dba_password` the administrator's."""

    def __init__(
        self,
        folder: Path,
        *,
        buffers: int = 10_000,
        result_rows: int = 1_000_000,
        transaction_bytes: int = 50_000_000,
    ):
        from .servers import free_port

        self.folder = folder
        self.db = folder / "db"
        self.load_dir = folder / "load"
        self.db.mkdir(parents=True)
        self.load_dir.mkdir()
        self.sql_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.graph_store = f"{self.url}/sparql-graph-crud-auth"
        self.user = UPDATE_USER
        self.password = secrets.token_urlsafe(16)
        self.dba_password = secrets.token_urlsafe(16)
        (self.db / "virtuoso.ini").write_text(
            INI.format(
                db=self.db,
                load_dir=self.load_dir,
                sql_port=self.sql_port,
                http_port=self.http_port,
                buffers=buffers,
                dirty_buffers=buffers * 3 // 4,
                transaction_bytes=transaction_bytes,
                result_rows=result_rows,
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateVirtuoso:
        """Start the process (answering takes a few seconds more: see wait_ready)."""
        self.process = subprocess.Popen(
            [VIRTUOSO, "+foreground", "+configfile", str(self.db / "virtuoso.ini")],
            cwd=self.db,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> PrivateVirtuoso:
        """Wait until it answers SPARQL, then create the update user and change the dba
        password from Virtuoso's well-known default."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/sparql?query=ASK%7B%7D", timeout=5):
                    break
            except (urllib.error.URLError, OSError) as err:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"virtuoso-t did not answer within {timeout:.0f} s ({err}): "
                        f"{self.log_tail()}"
                    ) from None
                time.sleep(0.25)
        self.sql(
            f"DB.DBA.USER_CREATE ('{self.user}', '{self.password}');\n"
            f'GRANT SPARQL_UPDATE TO "{self.user}";\n'
            f'SET PASSWORD "dba" "{self.dba_password}";\n',
            password="dba",
        )
        return self

    def sql(self, script: str, password: str | None = None) -> str:
        """Run SQL as dba with isql (statements on its standard input, never its arguments)."""
        done = subprocess.run(
            [ISQL, f"127.0.0.1:{self.sql_port}", "dba", password or self.dba_password],
            input=script,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0 or "*** Error" in done.stdout:
            raise RuntimeError(f"isql failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        return done.stdout

    def log_tail(self, lines: int = 15) -> str:
        log = self.db / "virtuoso.log"
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def stop(self) -> None:
        """Stop the process (killed: the database is thrown away) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PrivateVirtuoso:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
