"""The Vibe agent: a LangGraph graph from a chat request to a reported training run.

from vibe.agent import Agent, AgentSettings
with Agent.open(AgentSettings(workdir="runs")) as agent:
    outcome = agent.run("train a small model on the Python standard library", yes=True)
"""

from vibe.agent._agent import Agent, AgentSettings, Outcome
from vibe.agent._approval import continue_thread
from vibe.agent._draft import FEW_SHOT, SYSTEM_PROMPT, Draft, build_prompt, draft_of, intent_from_draft
from vibe.agent._followup import follow_up
from vibe.agent._gate import AllowAll, Gate, GateDecision, PolicyGate
from vibe.agent._goal import GoalDraft, TrainingGoal, parse_request
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
from vibe.agent._plan import Plan, PlanSettings, PlanStep, Proposal, apply_proposal, make_plan
from vibe.agent._read import ReadOutcome, read_request
from vibe.agent._rules import read_rules
from vibe.agent._validate import IntentError, validate_intent, validate_reading

__all__ = [
    "FEW_SHOT",
    "INTENT_KINDS",
    "SYSTEM_PROMPT",
    "Agent",
    "AgentSettings",
    "AllowAll",
    "Cluster",
    "ContinueIntent",
    "Draft",
    "EstimateIntent",
    "EvalIntent",
    "Gate",
    "GateDecision",
    "GoalDraft",
    "Intent",
    "IntentError",
    "Outcome",
    "Plan",
    "PlanSettings",
    "PlanStep",
    "PolicyGate",
    "PostTrainIntent",
    "Proposal",
    "ReadOutcome",
    "Reading",
    "Refusal",
    "RefuseIntent",
    "ReleaseIntent",
    "StatusIntent",
    "SynthIntent",
    "TrainIntent",
    "TrainingGoal",
    "TuneIntent",
    "UnclearIntent",
    "apply_proposal",
    "build_prompt",
    "continue_thread",
    "draft_of",
    "follow_up",
    "intent_from_draft",
    "make_plan",
    "parse_request",
    "read_request",
    "read_rules",
    "validate_intent",
    "validate_reading",
]
