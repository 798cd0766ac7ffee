"""The limits a sandboxed run gets and what it reports back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vibe.core.config import VibeConfig

__all__ = ["Limits", "SandboxResult", "StopReason"]

StopReason = Literal["timeout", "cpu", "memory", "processes", "file_size", "output"]


class Limits(VibeConfig):
    """Resource limits of one sandboxed run; every field must be > 0.

    See the package docstring for how each limit is enforced.
    """

    cpu_seconds: float = Field(10.0, gt=0, description="CPU seconds per process (RLIMIT_CPU, rounded up)")
    memory_mb: int = Field(
        512, gt=0, description="memory of the whole sandbox (cgroup) or per process (RLIMIT_AS)"
    )
    processes: int = Field(64, gt=0, description="processes and threads (cgroup pids.max and RLIMIT_NPROC)")
    file_size_mb: int = Field(16, gt=0, description="largest file a process may write (RLIMIT_FSIZE)")
    wall_seconds: float = Field(30.0, gt=0, description="the whole sandbox is killed after this")
    output_bytes: int = Field(
        65536, gt=0, description="per stream; past it output is truncated and the run stopped"
    )
    scratch_mb: int = Field(64, gt=0, description="size of the private tmpfs at /scratch (and of /tmp)")


class SandboxResult(BaseModel):
    """What a sandboxed run did: exit status, captured output, resource use, and why it was stopped."""

    exit_code: int | None
    """The exit status; None when the command was killed by a signal."""
    signal: int | None
    """The signal that killed the command, if any."""
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    wall_s: float
    cpu_s: float
    """User + system CPU seconds of every process of the sandbox."""
    max_rss_mb: float
    """Peak resident memory of the largest single process."""
    stopped: StopReason | None
    """Which limit stopped the run; None when it exited by itself."""
    reason: str
    """Why it stopped, for a person ("" when it exited by itself)."""

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0 and no limit stopped it."""
        return self.exit_code == 0 and self.stopped is None
