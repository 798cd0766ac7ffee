"""What the agent's nodes need from the outside world: one object, injected when the graph is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from policies import AllowAll, Gate
from vibe.agent._plan import PlanSettings
from vibe.agent._record import Recorder
from vibe.approvals import ApprovalStore
from vibe.llm import ChatModel

__all__ = ["AgentDeps"]


@dataclass(kw_only=True)
class AgentDeps:
    """What the nodes need from the outside world; one object, injected when the graph is built."""

    record: Recorder
    llm: ChatModel | None = None
    gate: Gate = field(default_factory=AllowAll)
    settings: PlanSettings = field(default_factory=PlanSettings)
    auto_confirm: bool = False
    llm_proposals: bool = False
    on_event: Callable[[str], None] = lambda line: None
    approvals: ApprovalStore | None = None  # where require_approval files its requests (the source of truth)
    unattended: bool = False  # never pause for an approval: skip the step (and what needs it), go on
    approval_ttl_hours: float = 24.0  # a request expires this long after it is filed
    train_ahead: bool = True  # start a train step's child (imports, Ray) while the steps before it run

    def say(self, line: str) -> list[str]:
        self.on_event(line)
        return [line]
