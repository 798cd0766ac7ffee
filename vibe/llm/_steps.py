"""Run one long external command (pip, a conversion script) with a live progress line and a log file.

The spinner shows the step, the elapsed time and the command's latest meaningful line (for pip: the package
it is collecting, downloading or installing). Every output line also goes to the log file, which the error
names when the command fails. :func:`file_lock` keeps two processes from installing or starting at once.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from vibe.core.errors import UserError
from vibe.core.log import progress

__all__ = ["file_lock", "log_tail", "run_step"]

# pip lines worth showing as "the current step"; anything else only goes to the log
_PIP_STEPS = (
    "Collecting",
    "Downloading",
    "Processing",
    "Installing",
    "Building",
    "Uninstalling",
    "Successfully",
)


def run_step(
    argv: Sequence[str],
    *,
    description: str,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    hint: str = "",
) -> None:
    """Run ``argv`` to completion, appending its output to ``log_file``; raise UserError if it fails."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    last: deque[str] = deque(maxlen=20)
    started = time.monotonic()
    with log_file.open("a", encoding="utf-8") as log, progress() as bar:
        log.write(f"\n$ {' '.join(argv)}\n")
        log.flush()
        task = bar.add_task(description, total=None)
        try:
            proc = subprocess.Popen(
                list(argv),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                env={**os.environ, **(env or {})},
            )
        except OSError as error:
            raise UserError(f"{description}: cannot run {argv[0]}: {error}") from None
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            line = line.strip()
            if not line:
                continue
            last.append(line)
            if line.startswith(_PIP_STEPS) or not line.startswith((" ", "WARNING", "Requirement")):
                bar.update(task, description=f"{description}: {_short(line)}")
        rc = proc.wait()
        log.write(f"# exit {rc} after {time.monotonic() - started:.0f} s\n")
        bar.update(task, description=description)
    if rc != 0:
        tail = "\n  ".join(last)
        raise UserError(
            f"{description} failed (exit {rc}); full log: {log_file}. {hint}\nlast lines:\n  {tail}".rstrip()
        )


def log_tail(path: Path, *, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file (empty if it does not exist)."""
    if not path.exists():
        return ""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 64_000))
        text = f.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed): one installer or starter at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _short(text: str, limit: int = 70) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
