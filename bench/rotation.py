"""wrk over a rotation: the threads walk one list of requests between them, in order.

With a list of every entity, each request asks about a different one. A path may hold `__N__`,
replaced by a number counting up with the request's position in the walk: a number no other
request of the run gets, so a query text is never asked twice and no answer cache can serve it (a
cold path measured as cold).

`once=True` walks the list once and stops (first visits: nothing is asked twice), timed from the
first request sent to the last answer read; otherwise the walk wraps around for `seconds`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

UNIQUE = "__N__"
THREADS = 2  # wrk threads: the load generator shares the machine's 2 cores with the server

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
struct timespec { long tv_sec; long tv_nsec; };
int clock_gettime(int clock, struct timespec *ts);
]]
local timespec = ffi.new("struct timespec")
local function now_us()
  ffi.C.clock_gettime(1, timespec)  -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- Two flat arrays and one headers table per Accept value: a walk over every entity of a 10M
-- build is a million lines, held by every thread.
local paths, headers, by_accept = {}, {}, {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  local accept, path = line:match("^([^\t]*)\t(.*)$")
  by_accept[accept] = by_accept[accept] or { ["Accept"] = accept }
  paths[#paths + 1] = path
  headers[#headers + 1] = by_accept[accept]
end
local once = os.getenv("BENCH_ONCE") == "1"
local first_number = tonumber(os.getenv("BENCH_FIRST_NUMBER"))
local idle_path = os.getenv("BENCH_IDLE_PATH")
local walkers = tonumber(os.getenv("BENCH_THREADS"))
local threads = {}

setup = function(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

init = function(args)
  made, first_us, last_us, finished = 0, 0, 0, false
  statuses = {}
end

request = function()
  -- wrk 4.1 calls thread 0's request() once before it starts, to check the request, and
  -- throws the answer away: that call must not take a place in the walk.
  if index == 0 and not checked then
    checked = true
    return wrk.format("GET", idle_path)
  end
  -- Thread i takes positions i, i + T, i + 2T ...: between them, the list in order.
  local position = index + made * walkers
  made = made + 1
  if first_us == 0 then first_us = now_us() end
  if once and position >= #paths then
    if not finished then
      finished = true
      io.write("finished\n")
      io.flush()
    end
    wrk.thread:stop()
    -- The loop may still send this before it stops: a path outside the walk, never counted.
    return wrk.format("GET", idle_path)
  end
  local i = (position % #paths) + 1
  local path = paths[i]:gsub("__N__", tostring(first_number + position))
  return wrk.format("GET", path, headers[i])
end

if once or os.getenv("BENCH_STATUSES") == "1" then
  response = function(status, headers, body)
    if finished then return end
    statuses[status] = (statuses[status] or 0) + 1
    last_us = now_us()
  end
end

done = function(summary, latency, requests)
  local counts, first, last = {}, nil, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      counts[status] = (counts[status] or 0) + n
    end
    local f, l = thread:get("first_us"), thread:get("last_us")
    if f and f > 0 and (first == nil or f < first) then first = f end
    if l and l > last then last = l end
  end
  local parts = {}
  for status, n in pairs(counts) do parts[#parts + 1] = string.format('"%d": %d', status, n) end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "first_us": %d, ' ..
    '"last_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), first or 0, last, table.concat(parts, ", ")))
end
"""


@dataclass
class LoadRun:
    """What one wrk run measured."""

    connections: int
    seconds: float  # how long it ran
    answered: int  # answers with a status below 400
    errors: int  # status 400 and above, socket errors, timeouts
    rps: float  # answers (below 400) per second
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int] | None  # answers by status, when counted
    load_average: float  # one-minute load average as the run started

    @property
    def refused(self) -> int:
        return (self.statuses or {}).get(429, 0)


def lines(requests: list[tuple[str, str]]) -> str:
    """The list as the Lua script reads it: Accept, a tab, the path; one request a line."""
    return "".join(f"{accept}\t{path}\n" for path, accept in requests)


def run_wrk(
    url: str,
    requests: list[tuple[str, str]],
    connections: int,
    seconds: float,
    once: bool = False,
    count_statuses: bool = False,
    first_number: int = 1,
    idle_path: str = "/",
    timeout: float = 30,
) -> LoadRun:
    """Load `url` with (path, Accept) requests walked in order by `connections` connections.

    With `once`, the walk ends at the end of the list (or after `seconds`, whichever is first);
    requests still on their way then are not counted, and a connection whose thread has finished
    may ask `idle_path` (cheap, outside the walk) before it stops. `__N__` in a path counts up
    from `first_number`: give runs on one server numbers apart.
    """
    threads = min(THREADS, connections)
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script = Path(folder, "rotation.lua")
        script.write_text(LUA)
        listing = Path(folder, "requests.txt")
        listing.write_text(lines(requests))
        env = {
            **os.environ,
            "BENCH_PATHS": str(listing),
            "BENCH_THREADS": str(threads),
            "BENCH_ONCE": "1" if once else "0",
            "BENCH_STATUSES": "1" if count_statuses else "0",
            "BENCH_FIRST_NUMBER": str(first_number),
            "BENCH_IDLE_PATH": idle_path,
        }
        argv = ["wrk", "--threads", str(threads), "--connections", str(connections)]
        argv += ["--duration", f"{max(1, round(seconds))}s", "--timeout", f"{round(timeout)}s"]
        argv += ["--script", str(script), url]
        load = os.getloadavg()[0]
        output = _wrk(argv, env, threads if once else None, seconds + timeout + 60)
    summaries = [line for line in output if line.startswith("{")]
    if not summaries:
        raise RuntimeError("wrk failed: " + "\n".join(output)[-2000:])
    result = json.loads(summaries[-1])
    statuses = {int(status): n for status, n in result["statuses"].items()}
    if once:
        ran = max(1e-6, (result["last_us"] - result["first_us"]) / 1e6)
        answered = sum(n for status, n in statuses.items() if status < 400)
    else:
        ran = result["duration_us"] / 1e6
        answered = result["requests"] - result["status"]
    errors = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return LoadRun(
        connections=connections,
        seconds=ran,
        answered=answered,
        errors=errors,
        rps=answered / ran if ran else 0.0,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        statuses=statuses if (once or count_statuses) else None,
        load_average=load,
    )


def _wrk(argv: list[str], env: dict, finishing_threads: int | None, limit: float) -> list[str]:
    """wrk's output lines; with `finishing_threads`, wrk is stopped (SIGINT, which still reports)
    as soon as that many threads said they finished their walk, instead of sleeping on."""
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = []
    finished = 0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if line == "finished":
                finished += 1
                if finishing_threads is not None and finished == finishing_threads:
                    process.send_signal(signal.SIGINT)
                continue
            output.append(line)
        process.wait(limit)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return output
