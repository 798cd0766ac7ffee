"""The gate: every plan and every tool call passes :meth:`Gate.check` before it runs.

The policy engine implements it (``policies``); :class:`AllowAll` stands in where no policy is loaded and
says so in the decision it returns, so the record shows that nothing was checked.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["AllowAll", "Gate", "GateDecision"]


class GateDecision(BaseModel):
    outcome: Literal["allow", "deny", "require_approval"]
    rule_ids: list[str] = Field(default_factory=list)
    reason: str
    policy_hashes: dict[str, str] = Field(default_factory=dict)


class Gate(ABC):
    @abstractmethod
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        """Decide on one proposed action (``kind`` such as ``train.run``, with its attributes)."""


class AllowAll(Gate):
    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        return GateDecision(outcome="allow", reason="no policy loaded: every action is allowed")
