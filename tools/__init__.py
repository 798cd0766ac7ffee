"""What the agent calls. Each tool has typed arguments and results (see :mod:`tools._registry`);
importing this package registers the built-in tools: profile, estimate, ingest, train, eval."""

from tools import _builtin  # noqa: F401  (registers the built-in tools)
from tools._registry import Tool, ToolContext, ToolError, register, registered

__all__ = ["Tool", "ToolContext", "ToolError", "register", "registered"]
