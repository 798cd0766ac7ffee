"""The per-run uid: drawn fresh for every sandbox (as root), watched through /proc, swept after the run."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import time

__all__ = ["UID_BASE", "UidWatch", "pick_uid", "pids_of_uid", "sweep"]

log = logging.getLogger(__name__)

UID_BASE = 0x60000000  # per-run uids are drawn from [UID_BASE, UID_BASE + 2**24): no real account lives there


def pick_uid() -> int:
    """A uid no process uses now: the sandbox's processes are then the only ones RLIMIT_NPROC counts."""
    busy = _uids_in_use()
    while True:
        uid = UID_BASE + secrets.randbelow(1 << 24)
        if uid not in busy:
            return uid


def sweep(uid: int, *, wait_s: float = 2.0) -> None:
    """SIGKILL every process of the per-run uid until none is left (or ``wait_s`` passed)."""
    deadline = time.monotonic() + wait_s
    while True:
        left = pids_of_uid(uid)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not left or time.monotonic() >= deadline:
            if left and wait_s > 0:
                log.warning("sandbox uid %d still has processes %s after the run", uid, left[:10])
            return
        time.sleep(0.02)


class UidWatch:
    """Samples the processes of one uid: how many, their CPU seconds, the largest peak RSS."""

    def __init__(self, uid: int) -> None:
        self.uid = uid
        self.cpu_s = 0.0
        self.max_rss_kb = 0
        self._ticks = os.sysconf("SC_CLK_TCK")

    def poll(self) -> int:
        """Sample now; return how many processes the uid has."""
        count, ticks = 0, 0
        for e in os.scandir("/proc"):
            if not e.name.isdigit():
                continue
            try:
                with open(f"/proc/{e.name}/status", "rb") as f:
                    status = f.read()
                uid_line = status.split(b"\nUid:", 1)[1]
                if int(uid_line.split()[0]) != self.uid:
                    continue
                count += 1
                if b"\nVmHWM:" in status:
                    self.max_rss_kb = max(self.max_rss_kb, int(status.split(b"\nVmHWM:", 1)[1].split()[0]))
                with open(f"/proc/{e.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            except (OSError, IndexError, ValueError):
                continue
        self.cpu_s = max(self.cpu_s, ticks / self._ticks)
        return count


def _proc_uid(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def pids_of_uid(uid: int) -> list[int]:
    """Processes (thread-group leaders) whose real uid is ``uid``."""
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and _proc_uid(e.name) == uid]


def _uids_in_use() -> set[int]:
    uids = (_proc_uid(e.name) for e in os.scandir("/proc") if e.name.isdigit())
    return {u for u in uids if u is not None}
