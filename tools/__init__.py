"""What the agent calls. Each tool has typed arguments and results (see :mod:`tools._registry`);
importing this package registers the built-in tools: profile, estimate, ingest, train, eval, and the
``hpo`` (hyper-parameter search), ``synth`` (verified synthetic data) and ``posttrain`` (SFT, DPO, RL)
tools."""

from tools import _builtin  # noqa: F401  (registers the built-in tools)
from tools._registry import Gatekeeper, Tool, ToolContext, ToolError, register, registered
from tools.hpo import _tool as _hpo_tool  # noqa: F401  (registers the hpo tool)
from tools.posttrain import _tool as _posttrain_tool  # noqa: F401  (registers the posttrain tool)
from tools.synth import _tool as _synth_tool  # noqa: F401  (registers the synth tool)

__all__ = ["Gatekeeper", "Tool", "ToolContext", "ToolError", "register", "registered"]
