"""One logging setup and one progress-bar factory for every Vibe command and worker.

Every module logs through ``log = logging.getLogger(__name__)``. The house's top-level packages
(:data:`ROOTS`: ``vibe``, ``tools``, ``trainers``, ``sandbox``, ``policies``) are Vibe's root loggers, and
:func:`setup_logging` (the one place) gives them all the same level and handlers. A run's own log file
(``logs/driver.log``, ``hpo.log``, ...) is scoped by :func:`run_log`: its handler is added for the run and
removed when the run ends, so one long process (the agent, a test session) never writes a later run's
lines into an earlier run's file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["ROOTS", "console", "progress", "run_log", "setup_logging"]

ROOTS = ("vibe", "tools", "trainers", "sandbox", "policies")  # the loggers of every Vibe module
console = Console(stderr=True)
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | int | None = None) -> None:
    """Configure Vibe's loggers (:data:`ROOTS`): their level, and rich output to stderr (once)."""
    level = level or os.environ.get("VIBE_LOG_LEVEL", "INFO")
    for name in ROOTS:
        root = logging.getLogger(name)
        root.setLevel(level)
        if not any(isinstance(h, RichHandler) for h in root.handlers):
            root.addHandler(_RICH)
        root.propagate = False


@contextmanager
def run_log(path: Path, level: str | int | None = None) -> Iterator[Path]:
    """Log every Vibe logger's lines to ``path`` (plain text) for the block, as :func:`setup_logging` sets up.

    The file handler is added on entry and removed and closed on exit, an exception included. A run nested in
    another (an HPO trial in the search's process) gets its own file, and the outer run's file keeps receiving
    the nested run's lines while it runs (they are part of the outer run). A path already being logged to by
    an enclosing block is not opened twice.
    """
    setup_logging(level)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path.resolve())
    roots = [logging.getLogger(name) for name in ROOTS]
    if any(getattr(h, "baseFilename", None) == target for root in roots for h in root.handlers):
        yield path
        return
    handler = logging.FileHandler(target, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    for root in roots:
        root.addHandler(handler)
    try:
        yield path
    finally:
        for root in roots:
            root.removeHandler(handler)
        handler.close()


_RICH = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
_RICH.setFormatter(logging.Formatter("%(message)s"))


def progress(*, transient: bool = False) -> Progress:
    """The progress bar every long step uses: description, bar, count, elapsed and remaining time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=os.environ.get("VIBE_NO_PROGRESS") == "1",
    )
