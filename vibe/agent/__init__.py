"""The Vibe agent: a LangGraph graph from a chat request to a reported training run.

from vibe.agent import Agent, AgentSettings
with Agent.open(AgentSettings(workdir="runs")) as agent:
    outcome = agent.run("train a small model on the Python standard library", yes=True)
"""

from vibe.agent._actions import STEP_KINDS, describe_plan, describe_step
from vibe.agent._agent import Agent, AgentSettings, Outcome, continue_thread
from vibe.agent._approval import gate_node
from vibe.agent._goal import GoalDraft, TrainingGoal, goal_from_draft, parse_request, parse_size
from vibe.agent._hpo import ClearedSearchGate
from vibe.agent._nodes import MAX_ATTEMPTS, AgentDeps, diagnose, execute, observe
from vibe.agent._plan import Plan, PlanSettings, PlanStep, Proposal, apply_proposal, make_plan
from vibe.agent._record import Recorder
from vibe.agent._search import SearchSettings, transfer_into

__all__ = [
    "MAX_ATTEMPTS",
    "STEP_KINDS",
    "Agent",
    "AgentDeps",
    "AgentSettings",
    "ClearedSearchGate",
    "GoalDraft",
    "Outcome",
    "Plan",
    "PlanSettings",
    "PlanStep",
    "Proposal",
    "Recorder",
    "SearchSettings",
    "TrainingGoal",
    "apply_proposal",
    "continue_thread",
    "describe_plan",
    "describe_step",
    "diagnose",
    "execute",
    "gate_node",
    "goal_from_draft",
    "make_plan",
    "observe",
    "parse_request",
    "parse_size",
    "transfer_into",
]
