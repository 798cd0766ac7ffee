"""The typed goal a request turns into, and the deterministic parser that backs up the LLM.

The LLM fills a :class:`GoalDraft` (plain strings a small model can produce under a JSON schema);
:func:`goal_from_draft` validates it into a :class:`TrainingGoal`. :func:`parse_request` is the rules reader
(:func:`vibe.agent._rules.read_rules`) with its train, estimate or tune intent as a goal. Sizes and paths are
read by :mod:`vibe.agent._text`, as everywhere.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from vibe.agent._rules import normalize, read_rules, wants_tuning
from vibe.agent._text import experts_named, find_paths, parse_size, stdlib_path
from vibe.core.config import VibeConfig

__all__ = ["GoalDraft", "TrainingGoal", "goal_from_draft", "parse_request", "parse_size", "search_wanted"]


class TrainingGoal(VibeConfig):
    """What the user wants, in numbers the planner can work with."""

    request: str
    objective: Literal["train", "estimate"] = "train"
    parameters: float | None = Field(default=None, gt=0, description="total parameters; None = fit the data")
    architecture: Literal["dense", "moe"] = "dense"
    num_experts: int | None = Field(default=None, ge=2)
    data_sources: list[str] = Field(default_factory=list)
    gpu_hour_budget: float | None = Field(default=None, gt=0)
    deadline_hours: float | None = Field(default=None, gt=0)
    target_cluster: str | None = None
    search: bool = Field(default=False, description="tune the settings on the proxy before the local run")
    search_objective: Literal["val_bpb", "val_loss"] = Field(
        default="val_bpb", description="what a search minimises: validation bits per byte, or loss"
    )

    @field_validator("data_sources")
    @classmethod
    def _paths_are_absolute(cls, sources: list[str]) -> list[str]:
        for source in sources:
            if not source.startswith("/") or source.startswith("//") or "://" in source:
                raise ValueError(f"data source {source!r} must be an absolute filesystem path, not a URL")
        return sources


class GoalDraft(VibeConfig):
    """What the LLM is asked to fill. Strings, so a small model has an easy schema to follow."""

    objective: Literal["train", "estimate"] = Field(
        description="'estimate' if the user only asks about cost/time"
    )
    model_size: str = Field(max_length=16, description="e.g. '7B', '125M', or '' if not given")
    architecture: Literal["dense", "moe"] = "dense"
    data_paths: list[Annotated[str, Field(max_length=256)]] = Field(
        max_length=8, description="filesystem paths named in the request"
    )
    gpu_hour_budget: float | None = None
    deadline_hours: float | None = None
    search: bool = Field(
        default=False, description="true if the user asks to tune, search or find the best settings"
    )


def _paths(text: str) -> list[str]:
    return find_paths(text)[0]


def search_wanted(request: str) -> tuple[bool, Literal["val_bpb", "val_loss"]]:
    """Whether the request asks for a hyperparameter search ("don't tune" is none), and what it should
    minimise (bits per byte unless the request names the validation loss)."""
    reading = read_rules(request)
    objective = getattr(reading.intent, "objective", "val_bpb")
    return reading.intent.kind == "tune" or wants_tuning(normalize(request)), objective


def parse_request(request: str) -> TrainingGoal:
    """Rules-only reading of a request. Raises ``ValueError`` when it names nothing to train or estimate."""
    intent = read_rules(request).intent
    if intent.kind not in ("train", "estimate", "tune"):
        raise ValueError(
            "the request names no model, size or data; say for example "
            "'train a 125M model on /data/code' or 'how much would a 7B on /data/docs cost?'"
        )
    return TrainingGoal(
        request=request,
        objective="estimate" if intent.kind == "estimate" else "train",
        parameters=intent.parameters,
        architecture=intent.architecture,
        num_experts=intent.num_experts,
        data_sources=intent.data,
        gpu_hour_budget=intent.gpu_hours,
        deadline_hours=intent.hours,
        search=intent.kind == "tune" or bool(getattr(intent, "search", False)),
        search_objective=intent.objective if intent.kind != "estimate" else "val_bpb",
    )


def goal_from_draft(request: str, draft: GoalDraft) -> TrainingGoal:
    """Validate what the LLM drafted. Raises ``ValueError`` with what is wrong (fed back to the LLM)."""
    size = parse_size(draft.model_size) if draft.model_size.strip() else None
    if draft.model_size.strip() and size is None:
        raise ValueError(f"model_size {draft.model_size!r} is not a size like '7B' or '125M'")
    named = parse_size(request)
    if size != named:
        raise ValueError(
            f"model_size {draft.model_size!r} does not match the request, which names "
            + (f"{named:g} parameters" if named else "no size (answer '')")
        )
    paths = _paths(" ".join(draft.data_paths)) or [p for p in draft.data_paths if p.startswith("/")]
    for path in paths:
        if path not in request and path != stdlib_path():
            raise ValueError(f"data path {path!r} does not appear in the request")
    missing = [p for p in _paths(request) if p not in paths]
    if missing:
        raise ValueError(f"data_paths must list every path the request names; missing: {', '.join(missing)}")
    experts = experts_named(request)
    search, search_objective = search_wanted(request)
    return TrainingGoal(
        request=request,
        objective=draft.objective,
        parameters=size,
        architecture=draft.architecture,
        num_experts=(experts or 8) if draft.architecture == "moe" else None,
        data_sources=paths,
        gpu_hour_budget=draft.gpu_hour_budget,
        deadline_hours=draft.deadline_hours,
        search=draft.search or search,  # the rules back the draft up: a named search is never dropped
        search_objective=search_objective,
    )
