"""What the agent calls. Each tool has typed arguments and results (see :mod:`tools.registry`);
importing this package registers the built-in tools: profile, estimate, ingest, train, eval, and the
``hpo`` (hyper-parameter search), ``synth`` (verified synthetic data), ``model_import`` / ``model_export``
(Hugging Face models in and out), ``posttrain`` (SFT, DPO, RL) and ``release`` / ``release_check``
(the policy's release gates, the model registry) tools."""

import tools.hpo
import tools.model
import tools.posttrain
import tools.release
import tools.synth  # noqa: F401  (registers the hpo, model, posttrain, release and synth tools)
from tools import _builtin  # noqa: F401  (registers the built-in tools)
from tools._ahead import start_training_ahead, stop_training_ahead
from tools._builtin import EstimateArgs, EvalArgs, IngestArgs, TrainArgs
from tools._profile import profile
from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register, registered

__all__ = [
    "EstimateArgs",
    "EvalArgs",
    "IngestArgs",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "TrainArgs",
    "profile",
    "register",
    "registered",
    "start_training_ahead",
    "stop_training_ahead",
]
