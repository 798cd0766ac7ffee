"""The loop's configuration: the goal, when to stop, where to work, and how each round is sized."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from vibe.agent import AgentSettings
from vibe.core.config import VibeConfig

__all__ = ["LoopConfig", "RoundSettings", "parse_until"]


class RoundSettings(VibeConfig):
    """How a round is sized from the time left (every number here is an estimate the loop plans with)."""

    max_trials: int = Field(default=8, ge=1, description="trials per search round")
    max_rounds: int | None = Field(default=None, ge=1, description="None: rounds until the deadline")
    full_run_share: float = Field(
        default=0.3, gt=0, lt=1, description="share of a round's time the full-size (local) run may train"
    )
    full_run_max_s: float = Field(default=1800, gt=0, description="the most one full-size run trains")
    run_overhead_s: float = Field(
        default=45, ge=0, description="start-up of the full-size run and its evaluation, on top of training"
    )
    report_reserve_s: float = Field(default=20, ge=0, description="kept free at the end for the report")
    search_max_s: float | None = Field(
        default=None, gt=0, description="the most one round searches; None: all the time the round has"
    )
    min_round_s: float = Field(
        default=60, gt=0, description="no round starts with less search time than this left"
    )
    narrow_factor: float = Field(default=0.5, gt=0, le=1, description="refinement: width kept of each range")
    trial_fraction: float = Field(
        default=0.25, gt=0, le=1, description="share of the full run's steps per trial"
    )


class LoopConfig(VibeConfig):
    """``vibe loop``: a goal pursued in rounds until ``until`` (or ``hours`` from the start), unattended."""

    goal: str = Field(
        min_length=1, description='e.g. "lowest validation bits per byte for a 20M on /data/code"'
    )
    until: datetime | None = Field(default=None, description="deadline (timezone-aware)")
    hours: float | None = Field(default=None, gt=0, description="deadline as hours from the loop's start")
    workdir: str = "runs"
    policies: list[str] = Field(default_factory=list, description="policy files, organisation first")
    team: str | None = None
    requester: str | None = None
    approvals: str | None = Field(default=None, description="approvals SQLite; None: the default store")
    cpu_hours: float | None = Field(default=None, gt=0, description="stop once the rounds used this many")
    gpu_hours: float | None = Field(default=None, gt=0)
    rounds: RoundSettings = Field(default_factory=RoundSettings)
    agent: AgentSettings = Field(
        default_factory=AgentSettings,
        description="the agent's settings (plan, cluster, ...); workdir, policies, team and unattended are the loop's",
    )

    @model_validator(mode="after")
    def _one_deadline(self) -> LoopConfig:
        if (self.until is None) == (self.hours is None):
            raise ValueError("give exactly one of until (a time) and hours (a duration)")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("until must be timezone-aware (e.g. 2026-11-30T07:00:00+00:00)")
        return self

    def deadline(self, started: datetime) -> datetime:
        return self.until if self.until is not None else started + timedelta(hours=self.hours or 0)

    def agent_settings(self) -> AgentSettings:
        update: dict[str, Any] = {"workdir": self.workdir, "policies": self.policies, "unattended": True}
        for name in ("team", "requester", "approvals"):
            if getattr(self, name) is not None:
                update[name] = getattr(self, name)
        return self.agent.model_copy(update=update)


_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_until(text: str, *, now: datetime | None = None) -> datetime:
    """'07:00' -> the next 07:00 local time; an ISO date-time as given (local time if it names no zone)."""
    now = now or datetime.now().astimezone()
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour > 23 or minute > 59:
            raise ValueError(f"--until {text!r} is not a time of day; use HH:MM, e.g. 07:00")
        local = now.astimezone()
        at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        return at if at > local else at + timedelta(days=1)
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--until {text!r} is neither HH:MM nor an ISO date-time (2026-11-30T07:00)"
        ) from None
    return at if at.tzinfo else at.astimezone()


def utcnow() -> datetime:
    return datetime.now(UTC)
