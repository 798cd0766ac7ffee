"""How every command reports a user error: one red line naming what is wrong and what to do, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from vibe.core.config import ConfigError
from vibe.core.errors import UserError
from vibe.core.log import console

__all__ = ["user_errors"]


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except (UserError, ConfigError) as error:
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
