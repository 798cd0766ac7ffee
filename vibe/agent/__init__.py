"""The Vibe agent: a LangGraph graph from a chat request to a reported training run.

from vibe.agent import Agent, AgentSettings
with Agent.open(AgentSettings(workdir="runs")) as agent:
    outcome = agent.run("train a small model on the Python standard library", yes=True)
"""

from tools.eval import find_export
from tools.release import ReleaseDenied, ReleaseResult
from vibe.agent._actions import STEP_KINDS, describe_plan, describe_step
from vibe.agent._agent import Agent, AgentSettings, Outcome, continue_thread
from vibe.agent._approval import gate_node
from vibe.agent._draft import (
    EMPTY_DRAFT,
    FEW_SHOT,
    SYSTEM_PROMPT,
    Draft,
    build_prompt,
    draft_of,
    intent_from_draft,
    prompt_examples,
)
from vibe.agent._followup import follow_up
from vibe.agent._goal import GoalDraft, TrainingGoal, goal_from_draft, parse_request
from vibe.agent._grammar import DraftExample, destinations, grammar_examples, intake_dataset, skeleton
from vibe.agent._hpo import ClearedGate, ClearedSearchGate
from vibe.agent._intent import (
    INTENT_KINDS,
    Cluster,
    ContinueIntent,
    EstimateIntent,
    EvalIntent,
    Intent,
    PostTrainIntent,
    Reading,
    Refusal,
    RefuseIntent,
    ReleaseIntent,
    StatusIntent,
    SynthIntent,
    TrainIntent,
    TuneIntent,
    UnclearIntent,
)
from vibe.agent._nodes import MAX_ATTEMPTS, AgentDeps, diagnose, execute, observe
from vibe.agent._plan import Plan, PlanSettings, PlanStep, Proposal, apply_proposal, make_plan, summarize_plan
from vibe.agent._read import ReadOutcome, read_request
from vibe.agent._record import Recorder
from vibe.agent._release import release_model
from vibe.agent._rules import read_rules
from vibe.agent._search import SearchSettings, transfer_into
from vibe.agent._text import parse_size
from vibe.agent._tune import REWARD_WEIGHTS, default_held_out, draft_reward, intake_task, paraphrase_examples
from vibe.agent._validate import IntentError, validate_intent, validate_reading

__all__ = [
    "EMPTY_DRAFT",
    "FEW_SHOT",
    "INTENT_KINDS",
    "MAX_ATTEMPTS",
    "REWARD_WEIGHTS",
    "STEP_KINDS",
    "SYSTEM_PROMPT",
    "Agent",
    "AgentDeps",
    "AgentSettings",
    "ClearedGate",
    "ClearedSearchGate",
    "Cluster",
    "ContinueIntent",
    "Draft",
    "DraftExample",
    "EstimateIntent",
    "EvalIntent",
    "GoalDraft",
    "Intent",
    "IntentError",
    "Outcome",
    "Plan",
    "PlanSettings",
    "PlanStep",
    "PostTrainIntent",
    "Proposal",
    "ReadOutcome",
    "Reading",
    "Recorder",
    "Refusal",
    "RefuseIntent",
    "ReleaseDenied",
    "ReleaseIntent",
    "ReleaseResult",
    "SearchSettings",
    "StatusIntent",
    "SynthIntent",
    "TrainIntent",
    "TrainingGoal",
    "TuneIntent",
    "UnclearIntent",
    "apply_proposal",
    "build_prompt",
    "continue_thread",
    "default_held_out",
    "describe_plan",
    "describe_step",
    "destinations",
    "diagnose",
    "draft_of",
    "draft_reward",
    "execute",
    "find_export",
    "follow_up",
    "gate_node",
    "goal_from_draft",
    "grammar_examples",
    "intake_dataset",
    "intake_task",
    "intent_from_draft",
    "make_plan",
    "observe",
    "paraphrase_examples",
    "parse_request",
    "parse_size",
    "prompt_examples",
    "read_request",
    "read_rules",
    "release_model",
    "skeleton",
    "summarize_plan",
    "transfer_into",
    "validate_intent",
    "validate_reading",
]
