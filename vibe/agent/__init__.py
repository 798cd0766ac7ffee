"""The Vibe agent: a LangGraph graph from a chat request to a reported training run.

from vibe.agent import Agent, AgentSettings
with Agent.open(AgentSettings(workdir="runs")) as agent:
    outcome = agent.run("train a small model on the Python standard library", yes=True)
"""

from vibe.agent._actions import STEP_KINDS, describe_plan, describe_step
from vibe.agent._agent import Agent, AgentSettings, Outcome
from vibe.agent._approval import continue_thread
from vibe.agent._goal import GoalDraft, TrainingGoal, parse_request
from vibe.agent._plan import Plan, PlanSettings, PlanStep, Proposal, apply_proposal, make_plan

__all__ = [
    "STEP_KINDS",
    "Agent",
    "AgentSettings",
    "GoalDraft",
    "Outcome",
    "Plan",
    "PlanSettings",
    "PlanStep",
    "Proposal",
    "TrainingGoal",
    "apply_proposal",
    "continue_thread",
    "describe_plan",
    "describe_step",
    "make_plan",
    "parse_request",
]
