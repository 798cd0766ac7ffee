"""What the engine judges: a typed :class:`Action` the agent proposes, and the :class:`Usage` it is judged against.

An action is data, not behaviour: its kind (one of :data:`ACTION_KINDS`) and the attributes the rules read.
Attributes a kind does not use stay ``None``/empty. Usage is a snapshot of today's consumption by team, passed
in by the caller so that evaluation stays a pure function of (policy set, action, usage).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, field_validator

from vibe.core.config import VibeConfig

__all__ = ["ACTION_KINDS", "TRAINING_KINDS", "Action", "TeamUsage", "Usage", "parse_count"]

# Every kind of action the agent proposes. A new kind is added here (and, where a section should govern it,
# to that section's kinds in ``_engine.py``); policy files are checked against this list to catch typos.
ACTION_KINDS: tuple[str, ...] = (
    "data.profile",  # read files to count and classify them (nothing is written)
    "data.ingest",  # read raw files into a dataset
    "data.tokenize",  # turn a dataset into training shards
    "data.export",  # copy data out of its root
    "train.run",  # one training run
    "hpo.search",  # a hyper-parameter search (many runs)
    "eval.run",  # evaluate a checkpoint
    "llm.call",  # call an LLM endpoint
    "synth.generate",  # generate synthetic training data
    "model.release",  # mark a model releasable
    "model.export",  # copy weights out of the run directory (out of the network)
    "model.import",  # convert a base model (HF directory / GGUF) from a model root into a run directory
    "model.convert",  # convert a run into an HF directory inside the network (vibe model export)
    "run.delete",  # delete a run's outputs
    "ledger.prune",  # drop old ledger entries (archival)
    "approvals.prune",  # drop old approval records
)
# Kinds whose data ends up in a model: labels forbidden in training are checked for these.
TRAINING_KINDS: frozenset[str] = frozenset({"data.tokenize", "train.run", "hpo.search", "synth.generate"})

_SCALE = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmbgt]?)\s*$", re.I)


def parse_count(value: Any) -> Any:
    """``"1.3B"`` -> 1_300_000_000, ``"350M"``, ``"7e9"`` and plain integers too; other values pass through."""
    if isinstance(value, str):
        match = _COUNT.match(value.replace("_", ""))
        if not match:
            raise ValueError(f"{value!r} is not a count; write e.g. 350M, 1.3B or 125000000")
        return round(float(match[1]) * _SCALE[match[2].lower()])
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(parse_count), Field(ge=0)]
Hours = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finding = Literal["secrets", "personal_data"]


class Action(VibeConfig):
    """One proposed action. ``kind`` picks the rules; the other fields are what they read."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="one of ACTION_KINDS, e.g. train.run")
    team: str | None = Field(None, description="the team on whose behalf (and budget) it runs")
    requester: str | None = Field(None, description="who asked for it (may not approve it)")
    paths: tuple[str, ...] = Field((), description="absolute paths of the data it reads or writes")
    labels: tuple[str, ...] = Field(
        (), description="classification labels known to apply, besides the paths'"
    )
    findings: tuple[Finding, ...] = Field(
        (), description="what a scan found in the data: secrets, personal_data"
    )
    gpu_hours: Hours | None = None
    cpu_hours: Hours | None = None
    parameters: Count | None = Field(None, description="model size in parameters (e.g. 350M)")
    architecture: Literal["dense", "moe"] | None = None
    source_architecture: str | None = Field(
        None, description="model.import: the HF architecture, e.g. LlamaForCausalLM"
    )
    url: str | None = Field(None, description="the endpoint an llm.call goes to")
    generator: str | None = Field(None, description="the synthetic-data generator")
    volume: Count | None = Field(None, description="synthetic records to generate")
    metrics: dict[str, float] = Field(default_factory=dict, description="evaluation results, e.g. val_bpb")
    age_days: Hours | None = Field(None, description="age of what a delete/prune removes")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in ACTION_KINDS:
            raise ValueError(f"unknown action kind; allowed: {', '.join(ACTION_KINDS)}")
        return kind

    @field_validator("paths")
    @classmethod
    def _absolute(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"path {path!r} must be absolute (resolve it before proposing the action)")
        return paths


class TeamUsage(VibeConfig):
    """What one team used today."""

    gpu_hours: Hours = 0.0
    cpu_hours: Hours = 0.0
    synthetic_volume: Count = 0


class Usage(VibeConfig):
    """Today's usage by team: the input per-day and per-team limits are checked against."""

    day: date | None = Field(None, description="the day this snapshot is for (informative)")
    teams: dict[str, TeamUsage] = Field(default_factory=dict)

    def team(self, name: str) -> TeamUsage:
        return self.teams.get(name) or _ZERO

    def total(self) -> TeamUsage:
        return TeamUsage(
            gpu_hours=sum(u.gpu_hours for u in self.teams.values()),
            cpu_hours=sum(u.cpu_hours for u in self.teams.values()),
            synthetic_volume=sum(u.synthetic_volume for u in self.teams.values()),
        )


_ZERO = TeamUsage()
