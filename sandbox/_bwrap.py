"""The bubblewrap command line: what a sandbox sees (binds, /etc, scratch, environment) and who it runs as."""

from __future__ import annotations

import os
import site
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sandbox._config import Limits
from sandbox._uid import pick_uid

__all__ = [
    "BASE_ENV",
    "CODE_PATH",
    "SCRATCH",
    "Backend",
    "Spec",
    "etc_files",
    "memfd",
    "probe_argv",
    "python_binds",
    "scratch_path",
]

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


@dataclass(frozen=True)
class Backend:
    """How sandboxes are started on this host (found by :func:`require`)."""

    bwrap: str
    """Absolute path of the bwrap binary."""
    privileged: bool
    """True when we are root: bwrap runs without a user namespace and ``setpriv`` drops to a per-run uid."""
    setpriv: str | None
    prlimit: str


def probe_argv(backend: Backend) -> list[str]:
    """A minimal sandbox that prints "sandbox-ok": proves bwrap can build what a run needs."""
    spec = Spec(backend=backend, uid=pick_uid() if backend.privileged else os.getuid(), limits=Limits())
    return spec.bwrap_argv(["/bin/sh", "-c", "echo sandbox-ok"])


@dataclass
class Spec:
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


def python_binds() -> list[Path]:
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


def etc_files(uid: int) -> dict[str, str]:
    """passwd/group naming the sandbox user (home /scratch) and a hosts file with only localhost."""
    return {
        "/etc/passwd": f"sandbox:x:{uid}:{uid}:sandbox:{SCRATCH}:/bin/sh\n",
        "/etc/group": f"sandbox:x:{uid}:\n",
        "/etc/hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    }


def scratch_path(name: str) -> str:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or str(rel) in ("", "."):
        raise ValueError(f"sandbox.run: files: {name!r} must be a relative path inside /scratch without '..'")
    return f"{SCRATCH}/{rel}"


def memfd(name: str, content: str | bytes) -> int:
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    fd = os.memfd_create(f"sandbox-{PurePosixPath(name).name}", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
