"""A plan step: one gated tool call (its arguments are the tool's, validated by the tool when it runs)."""

from __future__ import annotations

from typing import Any

from vibe.core.config import VibeConfig

__all__ = ["PlanStep"]


class PlanStep(VibeConfig):
    """One gated tool call. ``id`` is stable, so a resumed thread finds the result of a step already done."""

    id: str
    tool: str
    args: dict[str, Any]
    why: str
