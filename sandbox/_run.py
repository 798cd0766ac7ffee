"""Build the bubblewrap command line, start it under limits, supervise it, report what happened."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import secrets
import selectors
import signal
import site
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sandbox import _cgroup
from sandbox._available import Backend, require
from sandbox._config import Limits, SandboxResult, StopReason
from sandbox._seccomp import no_userns_filter
from vibe.core.log import get_logger

__all__ = ["probe_argv", "run", "run_python"]

log = get_logger(__name__)

SCRATCH = "/scratch"
CODE_PATH = "/.sandbox/main.py"
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# The few files of /etc that dynamic linking, locales and Python need; nothing with credentials.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/mime.types",
)
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": SCRATCH,
    "PYTHONDONTWRITEBYTECODE": "1",
}
UID_BASE = 0x60000000  # per-run uids are drawn from [UID_BASE, UID_BASE + 2**24): no real account lives there
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
    binds = [*_python_binds(), *ro_binds]
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


def probe_argv(backend: Backend) -> list[str]:
    """A minimal sandbox that prints "sandbox-ok": proves bwrap can build what :func:`run` needs."""
    spec = _Spec(backend=backend, uid=_pick_uid() if backend.privileged else os.getuid(), limits=Limits())
    return spec.bwrap_argv(["/bin/sh", "-c", "echo sandbox-ok"])


# --- building the command line ------------------------------------------------------------------------


@dataclass
class _Spec:
    backend: Backend
    uid: int
    limits: Limits
    ro_binds: list[str] = field(default_factory=list)
    files: dict[str, int] = field(default_factory=dict)  # path in sandbox -> fd holding the content
    code_fd: int | None = None
    seccomp_fd: int | None = None  # the no-user-namespace filter (sandbox._seccomp)
    etc_fds: dict[str, int] = field(default_factory=dict)  # generated /etc/passwd, /etc/group, /etc/hosts
    cwd: str = SCRATCH
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_ENV))

    def bwrap_argv(self, argv: Sequence[str]) -> list[str]:
        b = self.backend
        out = [
            b.bwrap,
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if not b.privileged:
            out += ["--unshare-user"]
        out += ["--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
        for key, value in self.env.items():
            out += ["--setenv", key, value]
        out += ["--ro-bind", "/usr", "/usr"]
        for d in SYSTEM_DIRS:
            if os.path.islink(d):
                out += ["--symlink", os.readlink(d), d]
            elif os.path.isdir(d):
                out += ["--ro-bind", d, d]
        out += ["--dir", "/etc"]
        for f in ETC_FILES:
            if os.path.exists(f):
                out += ["--ro-bind", f, f]
        out += ["--proc", "/proc", "--dev", "/dev"]
        size = str(self.limits.scratch_mb * 1024 * 1024)
        out += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
        out += ["--perms", "1777", "--size", size, "--tmpfs", SCRATCH]
        made: set[str] = set()
        for path in self.ro_binds:
            # bwrap would create missing parents mode 0700 (root's): make them traversable first.
            for parent in reversed(PurePosixPath(path).parents):
                p = str(parent)
                if p != "/" and p not in made and not any(parent.is_relative_to(b) for b in self.ro_binds):
                    out += ["--perms", "0755", "--dir", p]
                    made.add(p)
            out += ["--ro-bind", path, path]
        for dest, fd in self.files.items():
            for parent in reversed(PurePosixPath(dest).parents):
                p = str(parent)
                if p.startswith(SCRATCH + "/") and p not in made:
                    out += ["--perms", "0777", "--dir", p]
                    made.add(p)
            out += ["--perms", "0666", "--file", str(fd), dest]
        for dest, fd in self.etc_fds.items():
            out += ["--perms", "0444", "--ro-bind-data", str(fd), dest]
        if self.code_fd is not None:
            out += ["--perms", "0444", "--ro-bind-data", str(self.code_fd), CODE_PATH]
        out += ["--chdir", self.cwd]
        if self.seccomp_fd is not None:
            out += ["--seccomp", str(self.seccomp_fd)]
        if b.privileged:
            # bwrap runs as root without a user namespace; keep only what setpriv needs to become self.uid.
            out += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            out += [
                str(b.setpriv),
                f"--reuid={self.uid}",
                f"--regid={self.uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        else:
            out += ["--"]
        return [*out, *argv]


def _python_binds() -> list[Path]:
    """The directories this interpreter needs: prefixes, site-packages, the real executable's home."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    roots |= set(site.getsitepackages())
    roots.add(str(Path(os.path.realpath(sys.executable)).parent.parent))
    keep: list[Path] = []
    for r in sorted(roots, key=len):
        p = Path(r)
        if not p.exists() or any(p.is_relative_to(k) for k in keep) or p.is_relative_to("/usr"):
            continue
        keep.append(p)
    return keep


def _etc_files(uid: int) -> dict[str, str]:
    """passwd/group naming the sandbox user (home /scratch) and a hosts file with only localhost."""
    return {
        "/etc/passwd": f"sandbox:x:{uid}:{uid}:sandbox:{SCRATCH}:/bin/sh\n",
        "/etc/group": f"sandbox:x:{uid}:\n",
        "/etc/hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    }


def _pick_uid() -> int:
    """A uid no process uses now: the sandbox's processes are then the only ones RLIMIT_NPROC counts."""
    busy = _uids_in_use()
    while True:
        uid = UID_BASE + secrets.randbelow(1 << 24)
        if uid not in busy:
            return uid


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
    uid = _pick_uid() if backend.privileged else os.getuid()
    spec = _Spec(backend=backend, uid=uid, limits=limits, cwd=cwd)
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
            dest = _scratch_path(name)
            fds.append(_memfd(name, content))
            spec.files[dest] = fds[-1]
        for dest, text in _etc_files(uid).items():
            fds.append(_memfd(dest, text))
            spec.etc_fds[dest] = fds[-1]
        if code is not None:
            fds.append(_memfd("main.py", code))
            spec.code_fd = fds[-1]
        fds.append(_memfd("seccomp", no_userns_filter()))  # no user namespaces inside (unshare -U)
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
    spec: _Spec, argv: list[str], *, group: _cgroup.Cgroup | None, fds: list[int], stdin: bytes | None
) -> SandboxResult:
    limits, backend = spec.limits, spec.backend
    cpu = max(1, math.ceil(limits.cpu_seconds))
    fsize = limits.file_size_mb * 1024 * 1024
    # processes: cgroup pids.max when we have one; RLIMIT_NPROC under the per-run uid always when root
    # (the uid has no other process, so the count is exactly the sandbox's); as a plain user the count
    # includes the user's other processes, so the limit is raised by that many (best effort).
    nproc = limits.processes if backend.privileged else limits.processes + len(_pids_of_uid(spec.uid)) + 4
    if group is not None and group.pids is not None:
        nproc += 2  # a backstop: the cgroup is hit first, and its counter says so without guessing
    prlimit = [backend.prlimit, f"--cpu={cpu}:{cpu + 1}", f"--fsize={fsize}", "--core=0", f"--nproc={nproc}"]
    memory_by_cgroup = group is not None and group.memory is not None
    if not memory_by_cgroup:
        mem = limits.memory_mb * 1024 * 1024
        prlimit.append(f"--as={mem}")
    joins = [str(p) for p in group.procs_files] if group is not None else []
    # The shell joins the cgroup(s) before anything else runs, then becomes prlimit, which becomes bwrap.
    join = (
        'for f; do [ "$f" = -- ] && break; echo $$ 2>/dev/null > "$f" || '
        f'{{ echo "{JOIN_MARK} $f" >&2; exit {JOIN_FAILED}; }}; shift; done; shift; exec "$@"'
    )
    cmd = ["/bin/sh", "-c", join, "sh", *joins, "--", *prlimit, "--", *spec.bwrap_argv(argv)]

    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=fds,
        start_new_session=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    out = _Capture(limit=limits.output_bytes)
    err = _Capture(limit=limits.output_bytes)
    stopped: StopReason | None = None
    reason = ""
    status: int | None = None
    usage: resource.struct_rusage | None = None
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    for stream, cap in ((proc.stdout, out), (proc.stderr, err)):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream.fileno(), selectors.EVENT_READ, cap)
    pending = memoryview(stdin or b"")
    if proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending:
            sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, None)
        else:
            proc.stdin.close()

    def stop(why: StopReason, text: str) -> None:
        nonlocal stopped, reason
        if stopped is None:
            stopped, reason = why, text
            _kill(proc.pid, group, spec)

    deadline = start + limits.wall_seconds
    exited_at: float | None = None
    next_count = start
    # Without cgroup accounting, watch the per-run uid's processes: their count (the process limit), CPU
    # time and peak memory (wait4's rusage misses what bwrap's pid 1 reaps and includes our own fork's RSS).
    needs_watch = group is None or group.pids is None or group.cpu is None or group.memory is None
    watch = _UidWatch(spec.uid) if backend.privileged and needs_watch else None
    try:
        while True:
            now = time.monotonic()
            # Done once the launcher exited and its output is drained (EOF, or DRAIN_S passed). A command
            # that closed its stdout/stderr keeps running until it exits or a limit stops it.
            if exited_at is not None and (not sel.get_map() or now - exited_at > DRAIN_S):
                break
            for key, _ in sel.select(max(0.0, min(POLL_S, deadline - now))):
                if key.data is None:  # stdin is writable
                    try:
                        n = os.write(key.fd, pending[:65536])
                        pending = pending[n:]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # the command does not read (all of) its input
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(key.fd)
                        assert proc.stdin is not None
                        proc.stdin.close()
                    continue
                try:
                    chunk = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                if not key.data.add(chunk):
                    name = "stdout" if key.data is out else "stderr"
                    stop("output", f"{name} went past output_bytes={limits.output_bytes}")
            if status is None:
                pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    status, usage, exited_at = st, ru, time.monotonic()
                    for fd in list(sel.get_map()):
                        if sel.get_map()[fd].data is None:
                            sel.unregister(fd)
            now = time.monotonic()
            if status is None and stopped is None:
                if now >= deadline:
                    stop("timeout", f"still running after wall_seconds={limits.wall_seconds:g}")
                elif group is not None and group.pids_limit_hit():
                    stop("processes", f"reached processes={limits.processes} (cgroup pids.max)")
                elif watch is not None and now >= next_count:
                    next_count = now + 2 * POLL_S
                    if watch.poll() >= limits.processes and (group is None or group.pids is None):
                        stop("processes", f"reached processes={limits.processes} (RLIMIT_NPROC)")
    finally:
        sel.close()
        if status is None:
            if stopped is None:
                _kill(proc.pid, group, spec)
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status  # we reaped it; keep Popen from waiting again
        for f in (proc.stdout, proc.stdin, proc.stderr):
            if f is not None:
                f.close()
        if backend.privileged:
            _sweep(spec.uid)
    wall = time.monotonic() - start

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
    stderr_text = err.text()
    if stopped is None:
        stopped, reason = _why(
            exit_code=exit_code, sig=sig, cpu_s=cpu_s, limits=limits, group=group, stderr=stderr_text
        )
    return SandboxResult(
        exit_code=exit_code,
        signal=sig,
        stdout=out.text(),
        stderr=stderr_text,
        stdout_truncated=out.truncated,
        stderr_truncated=err.truncated,
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


def _kill(pid: int, group: _cgroup.Cgroup | None, spec: _Spec) -> None:
    """Kill the whole tree: the process group outside (sh/prlimit/bwrap), the cgroup, the per-run uid.

    Killing bwrap is already enough: its pid 1 inside dies with it (--die-with-parent) and the kernel then
    kills every process of the pid namespace. The rest is belt and braces.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if group is not None:
        group.kill()
    if spec.backend.privileged:
        _sweep(spec.uid, wait_s=0.0)


def _sweep(uid: int, *, wait_s: float = 2.0) -> None:
    """SIGKILL every process of the per-run uid until none is left (or ``wait_s`` passed)."""
    deadline = time.monotonic() + wait_s
    while True:
        left = _pids_of_uid(uid)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not left or time.monotonic() >= deadline:
            if left and wait_s > 0:
                log.warning("sandbox uid %d still has processes %s after the run", uid, left[:10])
            return
        time.sleep(0.02)


class _UidWatch:
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


def _pids_of_uid(uid: int) -> list[int]:
    """Processes (thread-group leaders) whose real uid is ``uid``."""
    return [int(e.name) for e in os.scandir("/proc") if e.name.isdigit() and _proc_uid(e.name) == uid]


def _uids_in_use() -> set[int]:
    uids = (_proc_uid(e.name) for e in os.scandir("/proc") if e.name.isdigit())
    return {u for u in uids if u is not None}


def _scratch_path(name: str) -> str:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or str(rel) in ("", "."):
        raise ValueError(f"sandbox.run: files: {name!r} must be a relative path inside /scratch without '..'")
    return f"{SCRATCH}/{rel}"


def _memfd(name: str, content: str | bytes) -> int:
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    fd = os.memfd_create(f"sandbox-{PurePosixPath(name).name}", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
