"""The agent's own model: an open base model post-trained here, with Vibe's own pipeline, for one of its tasks.

:func:`tune_model` imports the base (``tools.model``), writes the task's data, runs SFT and then RL against
the task's reward (``tools.posttrain``), exports and verifies the result and registers it as the agent's
model (``vibe.llm``); each stage's output is kept and reused, so a killed run continues where it stopped.
A :class:`TuneTask` says what the model is for: ``vibe.agent.intake_task`` is the request reader's.

    from tools.agentmodel import TuneConfig, tune_model
    from vibe.agent import intake_task
    tune_model(TuneConfig(out="runs/agent-model"), task=intake_task())
"""

from tools.agentmodel._config import RLStage, SFTStage, TuneConfig
from tools.agentmodel._generate import TransformersGenerator
from tools.agentmodel._pipeline import STAGES, TaskData, TuneResult, TuneTask, tune_model

__all__ = [
    "STAGES",
    "RLStage",
    "SFTStage",
    "TaskData",
    "TransformersGenerator",
    "TuneConfig",
    "TuneResult",
    "TuneTask",
    "tune_model",
]
