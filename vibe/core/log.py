"""One logging setup and one progress-bar factory for every Vibe command and worker.

Every module logs through ``log = logging.getLogger(__name__)``. The house's top-level packages
(:data:`ROOTS`: ``vibe``, ``tools``, ``trainers``, ``sandbox``, ``policies``) are Vibe's root loggers, and
:func:`setup_logging` (the one place) gives them all the same level and handlers.
"""

from __future__ import annotations

import logging
import os
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

__all__ = ["ROOTS", "console", "progress", "setup_logging"]

ROOTS = ("vibe", "tools", "trainers", "sandbox", "policies")  # the loggers of every Vibe module
console = Console(stderr=True)
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | int | None = None, *, log_file: Path | None = None) -> None:
    """Configure Vibe's loggers (:data:`ROOTS`): rich output to stderr, and plain text to ``log_file`` if given."""
    level = level or os.environ.get("VIBE_LOG_LEVEL", "INFO")
    for name in ROOTS:
        root = logging.getLogger(name)
        root.setLevel(level)
        if not any(isinstance(h, RichHandler) for h in root.handlers):
            root.addHandler(_rich_handler())
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            target = str(log_file.resolve())
            if not any(getattr(h, "baseFilename", None) == target for h in root.handlers):
                root.addHandler(_file_handler(target))
        root.propagate = False


_HANDLERS: dict[str, logging.Handler] = {}  # one handler per target, shared by the roots


def _rich_handler() -> logging.Handler:
    if "rich" not in _HANDLERS:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        _HANDLERS["rich"] = handler
    return _HANDLERS["rich"]


def _file_handler(target: str) -> logging.Handler:
    if target not in _HANDLERS:
        handler = logging.FileHandler(target, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT))
        _HANDLERS[target] = handler
    return _HANDLERS[target]


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
