"""Where Vibe keeps caches and state outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(*parts: str) -> Path:
    """``$VIBE_CACHE`` (default ``~/.cache/vibe``) joined with ``parts``, created on first use."""
    root = Path(os.environ.get("VIBE_CACHE", Path.home() / ".cache" / "vibe"))
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
