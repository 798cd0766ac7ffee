"""Start a sandbox under limits, pump its input and output until it ends, report what happened.

The command line is :mod:`sandbox._bwrap`'s, the per-run uid :mod:`sandbox._uid`'s, the cgroup
:mod:`sandbox._cgroup`'s.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import resource
import secrets
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox import _cgroup
from sandbox._available import require
from sandbox._bwrap import CODE_PATH, SCRATCH, Spec, etc_files, memfd, python_binds, scratch_path
from sandbox._config import Limits, SandboxResult, StopReason
from sandbox._seccomp import no_userns_filter
from sandbox._uid import UidWatch, pick_uid, pids_of_uid, sweep

__all__ = ["run", "run_python"]

log = logging.getLogger(__name__)

POLL_S = 0.05
DRAIN_S = 1.0
ENV_CGROUP = "VIBE_SANDBOX_CGROUP"  # "0" turns the cgroup layer off (rlimits and the per-run uid remain)
JOIN_FAILED = 125
JOIN_MARK = "vibe-sandbox: cannot join cgroup"
_CGROUP_BROKEN: list[bool] = []  # non-empty once joining a cgroup failed in this process

_MEMORY_WORDS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
_FORK_WORDS = ("Cannot fork", "fork: retry", "Resource temporarily unavailable", "BlockingIOError")
_FSIZE_WORDS = ("File too large",)


def run(
    argv: Sequence[str],
    *,
    limits: Limits | None = None,
    ro_binds: Sequence[Path] = (),
    files: Mapping[str, str | bytes] | None = None,
    cwd: str = SCRATCH,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> SandboxResult:
    """Run ``argv`` in a fresh sandbox (see the package docstring) and wait for it.

    ``ro_binds`` are host paths bound read-only at the same path; ``files`` (name relative to /scratch ->
    content) are written into /scratch before the command starts; ``env`` is added to the clean environment.
    Raises :class:`~sandbox.SandboxUnavailable` when no sandbox can be built here, ValueError for bad
    arguments; everything the command does (including failing) is in the result.
    """
    return _run(argv, limits=limits, ro_binds=ro_binds, files=files, cwd=cwd, env=env, stdin=stdin)


def run_python(
    code: str,
    *,
    limits: Limits | None = None,
    ro_binds: Sequence[Path] = (),
    files: Mapping[str, str | bytes] | None = None,
    args: Sequence[str] = (),
) -> SandboxResult:
    """Run Python ``code`` with this interpreter in a sandbox, cwd /scratch, ``files`` placed in /scratch.

    The interpreter's prefixes and site-packages are bound read-only, so whatever this venv has installed
    (numpy, pytest, ...) imports. The code runs as ``__main__`` from /.sandbox/main.py with ``args`` as
    ``sys.argv[1:]``; /scratch is on ``sys.path`` so modules placed there import.
    """
    binds = [*python_binds(), *ro_binds]
    return _run(
        [sys.executable, "-B", CODE_PATH, *args],
        limits=limits,
        ro_binds=binds,
        files=files,
        cwd=SCRATCH,
        env={"PYTHONPATH": SCRATCH, **_ONE_THREAD},
        stdin=None,
        code=code,
    )


# BLAS/OpenMP start one thread per core at import: on a big machine that alone would exceed `processes`
# and, under RLIMIT_AS, the address space. Snippets that want threads can set these themselves.
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


# --- running and supervising -----------------------------------------------------------------------------


def _run(
    argv: Sequence[str],
    *,
    limits: Limits | None,
    ro_binds: Sequence[Path],
    files: Mapping[str, str | bytes] | None,
    cwd: str,
    env: Mapping[str, str] | None,
    stdin: bytes | None,
    code: str | None = None,
) -> SandboxResult:
    limits = limits if limits is not None else Limits()
    argv = list(argv)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"sandbox.run: argv must be a non-empty list of strings, got {argv!r}")
    if not cwd.startswith("/"):
        raise ValueError(f"sandbox.run: cwd must be an absolute path inside the sandbox, got {cwd!r}")
    backend = require()
    uid = pick_uid() if backend.privileged else os.getuid()
    spec = Spec(backend=backend, uid=uid, limits=limits, cwd=cwd)
    for key, value in (env or {}).items():
        if not key or "=" in key or "\0" in key + value:
            raise ValueError(f"sandbox.run: env: bad variable {key!r}")
        spec.env[key] = value
    for p in ro_binds:
        path = Path(p).absolute()
        if not path.exists():
            raise ValueError(f"sandbox.run: ro_binds: {path} does not exist; bind only existing paths")
        spec.ro_binds.append(str(path))
    fds: list[int] = []
    group: _cgroup.Cgroup | None = None
    try:
        for name, content in (files or {}).items():
            dest = scratch_path(name)
            fds.append(memfd(name, content))
            spec.files[dest] = fds[-1]
        for dest, text in etc_files(uid).items():
            fds.append(memfd(dest, text))
            spec.etc_fds[dest] = fds[-1]
        if code is not None:
            fds.append(memfd("main.py", code))
            spec.code_fd = fds[-1]
        fds.append(memfd("seccomp", no_userns_filter()))  # no user namespaces inside (unshare -U)
        spec.seccomp_fd = fds[-1]
        if os.environ.get(ENV_CGROUP, "1") != "0" and not _CGROUP_BROKEN:
            group = _cgroup.create(
                name=f"{_cgroup.PREFIX}{os.getpid()}-{secrets.token_hex(4)}",
                memory_bytes=limits.memory_mb * 1024 * 1024,
                pids=limits.processes + 2,  # + bwrap outside and bwrap's pid 1 inside
            )
        result = _supervise(spec, argv, group=group, fds=fds, stdin=stdin)
        if group is not None and result.exit_code == JOIN_FAILED and JOIN_MARK in result.stderr:
            # We could make the cgroup but not join it (e.g. a foreign hierarchy): nothing ran yet, so run
            # again on rlimits alone, and stop trying cgroups in this process.
            log.warning(
                "sandbox: cannot join a cgroup (%s); using rlimits only", result.stderr.strip()[-200:]
            )
            _CGROUP_BROKEN.append(True)
            group.remove()
            group = None
            for fd in fds:
                os.lseek(fd, 0, os.SEEK_SET)
            result = _supervise(spec, argv, group=None, fds=fds, stdin=stdin)
        return result
    finally:
        for fd in fds:
            os.close(fd)
        if group is not None:
            group.remove()


def _supervise(
    spec: Spec, argv: list[str], *, group: _cgroup.Cgroup | None, fds: list[int], stdin: bytes | None
) -> SandboxResult:
    """Start the sandbox, pump its streams until it ends (or a limit stops it), and say what happened."""
    start = time.monotonic()
    proc = _start(spec, argv, group=group, fds=fds, stdin=stdin)
    pump = _Pump(proc, spec, group=group, stdin=stdin)
    try:
        pump.run(deadline=start + spec.limits.wall_seconds)
    finally:
        pump.close()
    return _result(pump, spec, group=group, wall=time.monotonic() - start)


def _start(
    spec: Spec, argv: list[str], *, group: _cgroup.Cgroup | None, fds: list[int], stdin: bytes | None
) -> subprocess.Popen[bytes]:
    """sh (joins the cgroup) -> prlimit (sets the rlimits) -> bwrap -> the command, in a session of its own."""
    limits, backend = spec.limits, spec.backend
    cpu = max(1, math.ceil(limits.cpu_seconds))
    fsize = limits.file_size_mb * 1024 * 1024
    # processes: cgroup pids.max when we have one; RLIMIT_NPROC under the per-run uid always when root
    # (the uid has no other process, so the count is exactly the sandbox's); as a plain user the count
    # includes the user's other processes, so the limit is raised by that many (best effort).
    nproc = limits.processes if backend.privileged else limits.processes + len(pids_of_uid(spec.uid)) + 4
    if group is not None and group.pids is not None:
        nproc += 2  # a backstop: the cgroup is hit first, and its counter says so without guessing
    prlimit = [backend.prlimit, f"--cpu={cpu}:{cpu + 1}", f"--fsize={fsize}", "--core=0", f"--nproc={nproc}"]
    if group is None or group.memory is None:
        prlimit.append(f"--as={limits.memory_mb * 1024 * 1024}")
    joins = [str(p) for p in group.procs_files] if group is not None else []
    # The shell joins the cgroup(s) before anything else runs, then becomes prlimit, which becomes bwrap.
    join = (
        'for f; do [ "$f" = -- ] && break; echo $$ 2>/dev/null > "$f" || '
        f'{{ echo "{JOIN_MARK} $f" >&2; exit {JOIN_FAILED}; }}; shift; done; shift; exec "$@"'
    )
    cmd = ["/bin/sh", "-c", join, "sh", *joins, "--", *prlimit, "--", *spec.bwrap_argv(argv)]
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=fds,
        start_new_session=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )


class _Pump:
    """Feeds stdin, drains stdout/stderr (capped), reaps the launcher and stops the run at a limit."""

    def __init__(
        self, proc: subprocess.Popen[bytes], spec: Spec, *, group: _cgroup.Cgroup | None, stdin: bytes | None
    ) -> None:
        self.proc, self.spec, self.group = proc, spec, group
        limits = spec.limits
        self.out = _Capture(limit=limits.output_bytes)
        self.err = _Capture(limit=limits.output_bytes)
        self.stopped: StopReason | None = None
        self.reason = ""
        self.status: int | None = None
        self.usage: resource.struct_rusage | None = None
        self.exited_at: float | None = None
        self.sel = selectors.DefaultSelector()
        assert proc.stdout is not None and proc.stderr is not None
        for stream, cap in ((proc.stdout, self.out), (proc.stderr, self.err)):
            os.set_blocking(stream.fileno(), False)
            self.sel.register(stream.fileno(), selectors.EVENT_READ, cap)
        self.pending = memoryview(stdin or b"")
        if proc.stdin is not None:
            os.set_blocking(proc.stdin.fileno(), False)
            if self.pending:
                self.sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, None)
            else:
                proc.stdin.close()
        # Without cgroup accounting, watch the per-run uid's processes: their count (the process limit), CPU
        # time and peak memory (wait4's rusage misses what bwrap's pid 1 reaps and includes our own fork's RSS).
        needs_watch = group is None or group.pids is None or group.cpu is None or group.memory is None
        self.watch = UidWatch(spec.uid) if spec.backend.privileged and needs_watch else None
        self.next_count = time.monotonic()

    def run(self, *, deadline: float) -> None:
        while not self._drained():
            for key, _ in self.sel.select(max(0.0, min(POLL_S, deadline - time.monotonic()))):
                if key.data is None:
                    self._feed(key.fd)
                else:
                    self._drain(key.fd, key.data)
            self._reap()
            self._check_limits(deadline)

    def _drained(self) -> bool:
        """Done once the launcher exited and its output is drained (EOF, or DRAIN_S passed). A command that
        closed its stdout/stderr keeps running until it exits or a limit stops it."""
        if self.exited_at is None:
            return False
        return not self.sel.get_map() or time.monotonic() - self.exited_at > DRAIN_S

    def _feed(self, fd: int) -> None:
        try:
            n = os.write(fd, self.pending[:65536])
            self.pending = self.pending[n:]
        except BlockingIOError:
            return
        except BrokenPipeError:  # the command does not read (all of) its input
            self.pending = self.pending[:0]
        if not self.pending:
            self.sel.unregister(fd)
            assert self.proc.stdin is not None
            self.proc.stdin.close()

    def _drain(self, fd: int, capture: _Capture) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self.sel.unregister(fd)
        elif not capture.add(chunk):
            name = "stdout" if capture is self.out else "stderr"
            self.stop("output", f"{name} went past output_bytes={self.spec.limits.output_bytes}")

    def _reap(self) -> None:
        if self.status is not None:
            return
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid:
            self.status, self.usage, self.exited_at = status, usage, time.monotonic()
            for fd in list(self.sel.get_map()):
                if self.sel.get_map()[fd].data is None:  # stdin: nobody reads it any more
                    self.sel.unregister(fd)

    def _check_limits(self, deadline: float) -> None:
        if self.status is not None or self.stopped is not None:
            return
        limits, group, now = self.spec.limits, self.group, time.monotonic()
        if now >= deadline:
            self.stop("timeout", f"still running after wall_seconds={limits.wall_seconds:g}")
        elif group is not None and group.pids_limit_hit():
            self.stop("processes", f"reached processes={limits.processes} (cgroup pids.max)")
        elif self.watch is not None and now >= self.next_count:
            self.next_count = now + 2 * POLL_S
            if self.watch.poll() >= limits.processes and (group is None or group.pids is None):
                self.stop("processes", f"reached processes={limits.processes} (RLIMIT_NPROC)")

    def stop(self, why: StopReason, text: str) -> None:
        if self.stopped is None:
            self.stopped, self.reason = why, text
            _kill(self.proc.pid, self.group, self.spec)

    def close(self) -> None:
        """Reap the launcher (killing the tree if it still runs), close the pipes, sweep the per-run uid."""
        self.sel.close()
        if self.status is None:
            if self.stopped is None:
                _kill(self.proc.pid, self.group, self.spec)
            _, self.status, self.usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = self.status  # we reaped it; keep Popen from waiting again
        for f in (self.proc.stdout, self.proc.stdin, self.proc.stderr):
            if f is not None:
                f.close()
        if self.spec.backend.privileged:
            sweep(self.spec.uid)


def _result(pump: _Pump, spec: Spec, *, group: _cgroup.Cgroup | None, wall: float) -> SandboxResult:
    """The exit status or signal, resource use and the limit that stopped the run, from what the pump saw."""
    limits, status, usage, watch = spec.limits, pump.status, pump.usage, pump.watch
    assert status is not None
    exit_code: int | None
    sig: int | None = None
    if os.WIFSIGNALED(status):
        exit_code, sig = None, os.WTERMSIG(status)
    else:
        exit_code = os.WEXITSTATUS(status)
        if exit_code > 128 and exit_code - 128 in _SIGNALS:  # bwrap reports a signalled command as 128 + sig
            exit_code, sig = None, exit_code - 128
    cpu_s = group.cpu_seconds() if group is not None else None
    if cpu_s is None:  # lower bounds: what bwrap's pid 1 reaped never reaches wait4; the watch samples
        cpu_s = max(
            usage.ru_utime + usage.ru_stime if usage is not None else 0.0, watch.cpu_s if watch else 0.0
        )
    peak = group.memory_peak() if group is not None else None
    if peak is not None:
        max_rss_mb = peak / 2**20
    elif watch is not None:  # sampled every 0.1 s: a lower bound (0 for a run shorter than that)
        max_rss_mb = watch.max_rss_kb / 1024
    else:  # includes the launcher's footprint (the fork of this process): an upper bound
        max_rss_mb = (usage.ru_maxrss / 1024) if usage is not None else 0.0
    stderr_text = pump.err.text()
    stopped, reason = pump.stopped, pump.reason
    if stopped is None:
        stopped, reason = _why(
            exit_code=exit_code, sig=sig, cpu_s=cpu_s, limits=limits, group=group, stderr=stderr_text
        )
    return SandboxResult(
        exit_code=exit_code,
        signal=sig,
        stdout=pump.out.text(),
        stderr=stderr_text,
        stdout_truncated=pump.out.truncated,
        stderr_truncated=pump.err.truncated,
        wall_s=round(wall, 4),
        cpu_s=round(cpu_s, 4),
        max_rss_mb=round(max_rss_mb, 2),
        stopped=stopped,
        reason=reason,
    )


_SIGNALS = {int(s) for s in signal.valid_signals()}


def _why(
    *,
    exit_code: int | None,
    sig: int | None,
    cpu_s: float,
    limits: Limits,
    group: _cgroup.Cgroup | None,
    stderr: str,
) -> tuple[StopReason | None, str]:
    """Which limit ended a run that ended by itself (kills we did ourselves are already named)."""
    if group is not None and group.oom_kills() > 0:
        return "memory", f"went over memory_mb={limits.memory_mb} (killed by the kernel, cgroup memory limit)"
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= math.ceil(limits.cpu_seconds)):
        return "cpu", f"used more than cpu_seconds={limits.cpu_seconds:g} (RLIMIT_CPU)"
    if sig == signal.SIGXFSZ:
        return "file_size", f"wrote a file larger than file_size_mb={limits.file_size_mb} (RLIMIT_FSIZE)"
    if group is not None and group.pids_limit_hit():
        return "processes", f"reached processes={limits.processes} (cgroup pids.max)"
    if exit_code == 0:
        return None, ""
    # The command handled the failed call and exited on its own: name the limit from what it said.
    if (group is None or group.memory is None) and any(w in stderr for w in _MEMORY_WORDS):
        return "memory", f"ran out of memory_mb={limits.memory_mb} (RLIMIT_AS; the command reported it)"
    if any(w in stderr for w in _FSIZE_WORDS):
        return "file_size", f"wrote a file larger than file_size_mb={limits.file_size_mb} (RLIMIT_FSIZE)"
    if any(w in stderr for w in _FORK_WORDS):
        return "processes", f"could not start more than processes={limits.processes} (RLIMIT_NPROC)"
    return None, ""


class _Capture:
    """Keeps at most ``limit`` bytes of a stream; remembers whether more came."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False

    def add(self, chunk: bytes) -> bool:
        """Keep what fits; False once the stream went past the limit."""
        room = self.limit - self.size
        if len(chunk) > room:
            self.chunks.append(chunk[: max(room, 0)])
            self.size = self.limit
            self.truncated = True
            return False
        self.chunks.append(chunk)
        self.size += len(chunk)
        return True

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def _kill(pid: int, group: _cgroup.Cgroup | None, spec: Spec) -> None:
    """Kill the whole tree: the process group outside (sh/prlimit/bwrap), the cgroup, the per-run uid.

    Killing bwrap is already enough: its pid 1 inside dies with it (--die-with-parent) and the kernel then
    kills every process of the pid namespace. The rest is belt and braces.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if group is not None:
        group.kill()
    if spec.backend.privileged:
        sweep(spec.uid, wait_s=0.0)
