"""A throwaway cgroup per sandboxed run, when this host lets us make one (cgroup v2, else v1).

It gives limits that count the whole sandbox (memory of every process together, the number of tasks) and
counters that say which limit was hit (``oom_kill``, ``pids.events``). Nothing here is required: when no
writable hierarchy is found, :func:`create` returns None and the caller falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cgroup", "create"]

log = logging.getLogger(__name__)


@dataclass
class Cgroup:
    """One run's cgroup: ``memory``, ``pids`` and ``cpu`` (accounting) are the directories of each controller
    (the same one under v2), or None when that controller is not available."""

    version: int
    memory: Path | None
    pids: Path | None
    cpu: Path | None = None
    created: list[Path] = field(default_factory=list)

    @property
    def procs_files(self) -> list[Path]:
        """The ``cgroup.procs`` files a process writes its pid to, to join."""
        return sorted(d / "cgroup.procs" for d in self._dirs())

    def _dirs(self) -> set[Path]:
        return {d for d in (self.memory, self.pids, self.cpu) if d is not None}

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of every process that ran in the cgroup."""
        if self.cpu is None:
            return None
        if self.version == 2:
            usec = _keyed(self.cpu / "cpu.stat").get("usage_usec")
            return None if usec is None else usec / 1e6
        try:
            return int((self.cpu / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            return None

    def pids_limit_hit(self) -> bool:
        """True once a fork or clone failed because of ``pids.max``."""
        if self.pids is None:
            return False
        return _keyed(self.pids / "pids.events").get("max", 0) > 0

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the memory limit."""
        if self.memory is None:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _keyed(self.memory / name).get("oom_kill", 0)

    def memory_peak(self) -> int | None:
        """Peak memory of the whole cgroup in bytes (resident memory, tmpfs, page cache it caused)."""
        if self.memory is None:
            return None
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.memory / name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        for d in self._dirs():
            kill_file = d / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                    continue
                except OSError:
                    pass
            for pid in _pids_in(d):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self, *, wait_s: float = 5.0) -> None:
        """Kill what is left and delete the cgroup directories (retrying while the last tasks exit)."""
        deadline = time.monotonic() + wait_s
        for d in reversed(self.created):
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        log.warning("could not remove sandbox cgroup %s: %s", d, exc)
                        break
                    self.kill()
                    time.sleep(0.02)


PREFIX = "vibe-sandbox-"


def create(*, name: str, memory_bytes: int | None, pids: int | None) -> Cgroup | None:
    """Make a cgroup ``name`` (starting with ``vibe-sandbox-<pid>-``) below ours with the given limits;
    None when the host does not let us."""
    for make in (_create_v2, _create_v1):
        try:
            group = make(name, memory_bytes, pids)
        except OSError as exc:
            log.debug("sandbox cgroup (%s) not usable: %s", make.__name__, exc)
            continue
        if group is not None:
            return group
    return None


def _mounts() -> list[tuple[str, str, set[str]]]:
    """(mount point, fs type, options) of every cgroup mount."""
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in ("cgroup", "cgroup2"):
            out.append((parts[1].replace("\\040", " "), parts[2], set(parts[3].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """Our cgroup path per v1 controller, and under key "" the v2 path."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            paths[""] = path
        for c in controllers.split(","):
            paths[c] = path
    return paths


def _create_v2(name: str, memory_bytes: int | None, pids: int | None) -> Cgroup | None:
    own = _own_paths().get("")
    mount = next((m for m, kind, _ in _mounts() if kind == "cgroup2"), None)
    if own is None or mount is None:
        return None
    parent = Path(mount) / own.lstrip("/")
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    if not {"memory", "pids"} & enabled:
        return None
    _remove_stale(parent)
    child = parent / name
    child.mkdir()
    group = Cgroup(
        version=2,
        memory=child if "memory" in enabled else None,
        pids=child if "pids" in enabled else None,
        cpu=child,
        created=[child],
    )
    try:
        if memory_bytes is not None and group.memory is not None:
            (child / "memory.max").write_text(str(memory_bytes))
            if (child / "memory.swap.max").exists():
                (child / "memory.swap.max").write_text("0")
        if pids is not None and group.pids is not None:
            (child / "pids.max").write_text(str(pids))
    except OSError:
        group.remove()
        raise
    return group


def _create_v1(name: str, memory_bytes: int | None, pids: int | None) -> Cgroup | None:
    own = _own_paths()
    dirs: dict[str, Path] = {}
    for controller in ("memory", "pids", "cpuacct"):
        mount = next((m for m, kind, opts in _mounts() if kind == "cgroup" and controller in opts), None)
        if mount is None or controller not in own:
            continue
        d = Path(mount) / own[controller].lstrip("/") / name
        _remove_stale(d.parent)
        try:
            d.mkdir()
        except OSError as exc:
            log.debug("sandbox cgroup v1 %s not usable: %s", controller, exc)
            continue
        dirs[controller] = d
    if not {"memory", "pids"} & dirs.keys():
        for d in dirs.values():
            d.rmdir()
        return None
    group = Cgroup(
        version=1,
        memory=dirs.get("memory"),
        pids=dirs.get("pids"),
        cpu=dirs.get("cpuacct"),
        created=list(dirs.values()),
    )
    try:
        if memory_bytes is not None and group.memory is not None:
            (group.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
            swap = group.memory / "memory.memsw.limit_in_bytes"
            if swap.exists():
                swap.write_text(str(memory_bytes))
        if pids is not None and group.pids is not None:
            (group.pids / "pids.max").write_text(str(pids))
    except OSError:
        group.remove()
        raise
    return group


def _remove_stale(parent: Path) -> None:
    """Delete empty sandbox cgroups left by callers that died mid-run (their pid is gone)."""
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for d in entries:
        if not d.name.startswith(PREFIX):
            continue
        pid = d.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                d.rmdir()


def _keyed(path: Path) -> dict[str, int]:
    """Parse a flat "key value" cgroup file; {} when it cannot be read."""
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _pids_in(d: Path) -> list[int]:
    try:
        return [int(p) for p in (d / "cgroup.procs").read_text().split()]
    except OSError:
        return []
