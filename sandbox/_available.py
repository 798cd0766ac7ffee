"""Is bubblewrap here and can it build a sandbox? One probe per process, cached."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

from sandbox._bwrap import Backend, probe_argv
from vibe.core.errors import UserError

__all__ = ["SandboxUnavailable", "check_available", "require"]

INSTALL_HINT = "install it with `apt-get install bubblewrap` (scripts/setup.sh does this when run as root)"
NAMESPACE_HINT = (
    "bubblewrap needs Linux namespaces: as root it needs the right to unshare (in a container: "
    "`docker run --privileged` or a seccomp profile allowing unshare/mount); as another user it also needs "
    "unprivileged user namespaces (`sysctl -w user.max_user_namespaces=15000`, and on older Debian/Ubuntu "
    "`sysctl -w kernel.unprivileged_userns_clone=1`; on Ubuntu >= 23.10 also "
    "`sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`)"
)


class SandboxUnavailable(UserError):
    """The sandbox cannot run here; the message names what is missing and how to install or enable it."""


def check_available() -> None:
    """Raise :class:`SandboxUnavailable` unless a sandbox can be started here (bubblewrap installed, the
    namespaces it needs allowed). Cheap after the first call (the probe's result is cached per bwrap path)."""
    require()


def require() -> Backend:
    """Like :func:`check_available` but return how to start sandboxes."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(
            f"the sandbox needs bubblewrap (`bwrap`), which is not on PATH ({os.environ.get('PATH', '')}); "
            f"{INSTALL_HINT}"
        )
    return _probe(os.path.realpath(bwrap), os.geteuid() == 0)


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str, privileged: bool) -> Backend:
    prlimit = shutil.which("prlimit") or _missing("prlimit")
    setpriv = (shutil.which("setpriv") or _missing("setpriv")) if privileged else None
    backend = Backend(bwrap=bwrap, privileged=privileged, setpriv=setpriv, prlimit=prlimit)
    try:
        done = subprocess.run(probe_argv(backend), capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) could not be started: {exc}; {INSTALL_HINT}") from exc
    if done.returncode != 0 or done.stdout.strip() != b"sandbox-ok":
        said = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-500:]
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap}) is installed but could not build a sandbox (exit {done.returncode}: "
            f"{said or 'no message'}); {NAMESPACE_HINT}"
        )
    return backend


def _missing(tool: str) -> str:
    raise SandboxUnavailable(
        f"the sandbox needs `{tool}` (Debian package util-linux), which is not on PATH; "
        "install it with `apt-get install util-linux`"
    )
