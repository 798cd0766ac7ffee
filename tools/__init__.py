"""What the agent calls. Each tool has typed arguments and results (see :mod:`tools.registry`);
importing this package registers the built-in tools: profile, estimate, ingest, train, eval, and the
``hpo`` (hyper-parameter search) and ``synth`` (verified synthetic data) tools."""

import tools.hpo
import tools.synth  # noqa: F401  (registers the synth tool)
from tools import _builtin  # noqa: F401  (registers the built-in tools)
from tools._profile import profile
from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register, registered

__all__ = [
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "profile",
    "register",
    "registered",
]
