"""The Vibe agent: a LangGraph graph from a chat request to a reported training run.

from vibe.agent import Agent, AgentSettings
with Agent.open(AgentSettings(workdir="runs")) as agent:
    outcome = agent.run("train a small model on the Python standard library", yes=True)
"""

from vibe.agent._agent import Agent, AgentSettings, Outcome
from vibe.agent._approval import continue_thread
from vibe.agent._gate import AllowAll, Gate, GateDecision, PolicyGate
from vibe.agent._goal import GoalDraft, TrainingGoal, parse_request
from vibe.agent._plan import Plan, PlanSettings, PlanStep, Proposal, apply_proposal, make_plan
from vibe.agent._release import ReleaseDenied, ReleaseResult, find_export, release_model

__all__ = [
    "Agent",
    "AgentSettings",
    "AllowAll",
    "Gate",
    "GateDecision",
    "GoalDraft",
    "Outcome",
    "Plan",
    "PlanSettings",
    "PlanStep",
    "PolicyGate",
    "Proposal",
    "ReleaseDenied",
    "ReleaseResult",
    "TrainingGoal",
    "apply_proposal",
    "continue_thread",
    "find_export",
    "make_plan",
    "parse_request",
    "release_model",
]
