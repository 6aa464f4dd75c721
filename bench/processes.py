"""The processes of a server under test, found by ancestry, with their role, memory and CPU time.

`treatygraph serve` runs web processes (gunicorn or granian), a query broker and the broker's
query workers. The broker and the workers start sessions of their own, so the server's process
group misses them, but they all descend from the process the bench started.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ROLES = ("web", "broker", "query worker", "oxigraph")


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    role: str
    rss_bytes: int
    cpu_seconds: float


def role_of(cmdline: str) -> str:
    """What a process of a server does, from its command line."""
    if "server.sparql.broker" in cmdline:
        return "broker"
    if "server.sparql.worker" in cmdline:
        return "query worker"
    if cmdline.split(" ", 1)[0].endswith("oxigraph"):
        return "oxigraph"
    return "web"  # gunicorn's or granian's processes, however they were started


def process_tree(root: int) -> list[ProcessSample]:
    """`root` and every process descending from it (Linux /proc), sampled now."""
    parents: dict[int, int] = {}
    fields: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; the fields after it are fixed.
        rest = text.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(rest[1])
        fields[int(entry.name)] = rest
    samples = []
    for pid, rest in fields.items():
        ancestor = pid
        while ancestor > 1 and ancestor != root:
            ancestor = parents.get(ancestor, 0)
        if ancestor != root:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        samples.append(
            ProcessSample(
                pid=pid,
                role=role_of(cmdline),
                rss_bytes=int(rest[21]) * PAGE_BYTES,
                cpu_seconds=(int(rest[11]) + int(rest[12])) / CLOCK_TICKS,
            )
        )
    return samples


def cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each role of the tree."""
    seconds: dict[str, float] = defaultdict(float)
    for sample in process_tree(root):
        seconds[sample.role] += sample.cpu_seconds
    return dict(seconds)


@dataclass
class PeakMemory:
    """The largest resident memory of a whole tree seen so far, and how it split between roles."""

    total_mib: float = 0.0
    roles: dict[str, tuple[int, float]] = field(default_factory=dict)  # role: (processes, MiB)

    def see(self, samples: list[ProcessSample]) -> None:
        total = sum(s.rss_bytes for s in samples) / (1 << 20)
        if total <= self.total_mib:
            return
        self.total_mib = total
        roles: dict[str, tuple[int, float]] = {}
        for sample in samples:
            count, mib = roles.get(sample.role, (0, 0.0))
            roles[sample.role] = (count + 1, mib + sample.rss_bytes / (1 << 20))
        self.roles = roles

    def merge(self, other: PeakMemory) -> None:
        """Keep the larger of two peaks (one server started several times)."""
        if other.total_mib > self.total_mib:
            self.total_mib, self.roles = other.total_mib, dict(other.roles)

    def describe(self) -> str:
        """'312 MiB: web 2 x 61 MiB, broker 45 MiB, query worker 4 x 36 MiB'."""
        parts = []
        for role in ROLES:
            if role not in self.roles:
                continue
            count, mib = self.roles[role]
            each = f"{count} x {mib / count:,.0f} MiB" if count > 1 else f"{mib:,.0f} MiB"
            parts.append(f"{role} {each}")
        return f"{self.total_mib:,.0f} MiB: " + ", ".join(parts)


class MemoryWatch:
    """Samples a process tree's resident memory a few times a second while it runs."""

    def __init__(self, root: int, interval: float = 0.25):
        self.root = root
        self.interval = interval
        self.peak = PeakMemory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak.see(process_tree(self.root))
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
