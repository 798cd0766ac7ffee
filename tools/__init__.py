"""What the agent calls. Each tool has typed arguments and results (see :mod:`tools.registry`);
importing this package registers the built-in tools: profile, estimate, ingest, train, eval, and the
``hpo`` (hyper-parameter search) and ``synth`` (verified synthetic data) tools."""

from tools import _builtin  # noqa: F401  (registers the built-in tools)
from tools._profile import profile
from tools.hpo import _tool as _hpo_tool  # noqa: F401  (registers the hpo tool)
from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register, registered
from tools.synth import _tool as _synth_tool  # noqa: F401  (registers the synth tool)

__all__ = [
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "profile",
    "register",
    "registered",
]
