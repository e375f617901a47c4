"""What the benchmarks share: a process's CPU and memory from /proc, a free port, a server
subprocess's start and stop, the bare servers' event loop, and the figures' format."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Coroutine
from typing import Any

from hub.loops import loop_factory

CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the bare servers' event loop ----------------------------------------------------------------


def run_on_loop(main: Coroutine[Any, Any, None], loop: str | None) -> None:
    """Run ``main`` on the loop ``loop`` names ("uvloop" or "asyncio"), or, when None, on the one
    ``rps-hub serve`` runs on by default (``hub.loops``: uvloop when installed)."""
    with asyncio.Runner(loop_factory=loop_factory(loop or "auto")) as runner:
        runner.run(main)


# -- /proc --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- client worker processes --------------------------------------------------------------------


def die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


async def wait_listening(proc: subprocess.Popen[bytes], port: int, patience: float = 20) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        w.close()
        return
    raise TimeoutError(f"server not listening on {port}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def percentile(sorted_xs: list[float], q: float) -> float:
    if not sorted_xs:
        return math.nan
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if math.isnan(x) else f"{x:,.{digits}f}"


def no_nan(d: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- what a process spent (/proc) ------------------------------------------------------------


def main_thread_seconds(pid: int) -> float:
    """utime + stime of a process's main thread (the server's event loop), in seconds."""
    return sum(times(f"{pid}/task/{pid}"))


def times(path: str) -> tuple[float, float]:
    """utime and stime of ``/proc/PATH`` (a process, or one of its threads), in seconds."""
    with open(f"/proc/{path}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def postgres_seconds() -> dict[int, float]:
    """utime + stime so far of each PostgreSQL server process on this machine (``postgres``)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() != "postgres":
                    continue
            out[int(pid)] = cpu_seconds(int(pid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def switches(pid: int) -> int:
    """Context switches so far of every thread of a process (``/proc/PID/task/*/status``)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if "ctxt_switches:" in line:
                        total += int(line.split()[1])
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
    return total


def io(pid: int) -> tuple[int, int]:
    """Bytes a process has written with write()/pwrite() (not send()), and how many calls."""
    with open(f"/proc/{pid}/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["wchar"]), int(fields["syscw"])
