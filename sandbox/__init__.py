"""Run untrusted commands and Python snippets in a bubblewrap sandbox, under hard resource limits.

Use :func:`run` for a command line and :func:`run_python` for Python source run with this interpreter (its
venv, numpy, pytest... importable). Both wait for the command and return a :class:`SandboxResult`: exit
status or signal, stdout/stderr (capped, with a ``*_truncated`` flag), wall/CPU seconds, peak memory, and
``stopped``/``reason`` naming the limit that ended the run. :func:`check_available` raises
:class:`SandboxUnavailable` (a :class:`vibe.core.errors.UserError`) naming what is missing -- the ``bubblewrap``
Debian package (``scripts/setup.sh`` installs it), ``util-linux`` (setpriv, prlimit), or the right to create
namespaces -- and how to fix it.

What is isolated, and how (bubblewrap, ``bwrap``)
    * network: a new network namespace with only a loopback device and no route out: connecting to any
      non-loopback address fails at once with "network unreachable"; there is no /etc/resolv.conf, so DNS
      fails too. Nothing leaves the machine.
    * processes: new pid, ipc and uts namespaces (hostname ``sandbox``); only the sandbox's own processes
      are visible. ``--die-with-parent``: the sandbox dies if the caller does. ``--new-session``: no access
      to the caller's terminal.
    * files: a fresh root with read-only binds of /usr and /bin, /sbin, /lib* (or their symlinks), a minimal
      /etc (dynamic linker config, alternatives, localtime, nsswitch.conf; generated passwd/group/hosts
      naming only the sandbox user and localhost -- no shadow, no credentials), a new /proc and /dev, and
      read-only binds of exactly the ``ro_binds`` given. Writable: only a private tmpfs /scratch (size
      ``scratch_mb``, the working directory and $HOME) and a tmpfs /tmp of the same size; both vanish with
      the run. The host's /root, /home, /work, $HOME... are absent unless bound.
    * identity (when the caller is root, the normal case here): bwrap runs without a user namespace and
      ``setpriv`` drops to a fresh uid/gid drawn per run from [0x60000000, 0x61000000) that no process has,
      with no capabilities, an empty bounding set and no_new_privs. Running as a plain user, bwrap creates a
      user namespace and the command keeps that user's uid.
    * environment: cleared, then PATH, LANG=C.UTF-8, HOME=/scratch, PYTHONDONTWRITEBYTECODE=1, plus ``env``.

Limits (:class:`Limits`) and how each is enforced; first available wins, the rest stay as backstops
    * ``processes`` (processes and threads): (1) a per-run cgroup's ``pids.max`` -- cgroup v2 when our
      cgroup has the pids controller delegated, else cgroup v1's pids hierarchy; the run is stopped the
      moment ``pids.events`` counts a refused fork; (2) RLIMIT_NPROC under the per-run uid: root ignores
      RLIMIT_NPROC, which is why the command never runs as root; the uid has no other process, so the count
      is exactly the sandbox's; the run is stopped when the watcher sees the uid at the limit (or, if it
      ended first, when the command reported a refused fork). As a plain user without a cgroup the limit is
      raised by the user's own process count (best effort: the count is per user).
    * ``memory_mb``: (1) the cgroup's memory limit (v2 ``memory.max``, swap 0; v1
      ``memory.limit_in_bytes`` and ``memsw``) counting every process of the sandbox and its tmpfs; the
      kernel kills the hog and ``oom_kill`` says so; (2) RLIMIT_AS per process: allocations fail, and the
      stop is named from the command's own report (MemoryError, "Cannot allocate memory", ...).
    * ``cpu_seconds``: RLIMIT_CPU per process (rounded up to whole seconds): SIGXCPU, then SIGKILL one
      second later. Many processes each get their own budget; ``wall_seconds`` bounds the total.
    * ``file_size_mb``: RLIMIT_FSIZE: SIGXFSZ (or EFBIG where the signal is ignored, as in Python).
    * ``wall_seconds``: the caller kills the whole tree when it passes: the process group of the launcher
      (sh -> prlimit -> bwrap), hence bwrap's pid 1 and with it every process of the pid namespace; then the
      cgroup and every process of the per-run uid as belt and braces. After every run no process of the
      uid is left (checked, and killed if any).
    * ``output_bytes``: stdout and stderr are read incrementally; at most ``output_bytes`` of each is kept,
      and the run is stopped as soon as either stream goes past it (nothing unbounded is buffered).
    * core dumps are off (RLIMIT_CORE 0).

Resource use: ``cpu_s`` and ``max_rss_mb`` come from the cgroup (cpuacct / ``cpu.stat``; the cgroup's peak
memory) when there is one; otherwise from sampling the per-run uid's processes every 0.1 s together with
wait4's rusage (both lower bounds). Setting ``VIBE_SANDBOX_CGROUP=0`` turns the cgroup layer off; the
rlimits and the per-run uid remain.

Exit status: bwrap reports a command killed by signal N as exit status 128 + N; such statuses are
reported as ``signal=N, exit_code=None`` (a command that itself exits with 128 + N looks the same).
"""

from sandbox._available import SandboxUnavailable, check_available
from sandbox._config import Limits, SandboxResult
from sandbox._run import run, run_python

__all__ = ["Limits", "SandboxResult", "SandboxUnavailable", "check_available", "run", "run_python"]
