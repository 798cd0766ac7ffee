"""One logging setup and one progress-bar factory for every Vibe command and worker."""

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

__all__ = ["console", "get_logger", "progress", "setup_logging"]

console = Console(stderr=True)
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | int | None = None, *, log_file: Path | None = None) -> None:
    """Configure the ``vibe`` logger: rich output to stderr, and plain text to ``log_file`` if given."""
    level = level or os.environ.get("VIBE_LOG_LEVEL", "INFO")
    root = logging.getLogger("vibe")
    root.setLevel(level)
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        target = str(log_file.resolve())
        if not any(getattr(h, "baseFilename", None) == target for h in root.handlers):
            file_handler = logging.FileHandler(target, encoding="utf-8")
            file_handler.setFormatter(logging.Formatter(_FORMAT))
            root.addHandler(file_handler)
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    """A child of the ``vibe`` logger, so one setup governs every module."""
    return logging.getLogger(name if name.startswith("vibe") else f"vibe.{name}")


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
