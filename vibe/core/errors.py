"""The one exception type for errors a user can fix. Its message names the file or field and what to do."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """An error the user can fix; the message says what is wrong and how to fix it."""
