"""The typed goal a request turns into, and the deterministic parser that backs up the LLM.

The LLM fills a :class:`GoalDraft` (plain strings a small model can produce under a JSON schema);
:func:`goal_from_draft` validates it into a :class:`TrainingGoal`. When the LLM is unreachable or keeps
producing invalid drafts, :func:`parse_request` reads the request with rules alone.
"""

from __future__ import annotations

import re
import sysconfig
from typing import Annotated, Literal

from pydantic import Field, field_validator

from vibe.core.config import VibeConfig

__all__ = ["GoalDraft", "TrainingGoal", "goal_from_draft", "parse_request", "parse_size", "search_wanted"]

STDLIB_ALIASES = ("python standard library", "python stdlib", "standard library", "stdlib")


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


_SIZE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(k|m|b|t|thousand|million|billion|trillion)\b", re.I)
_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "million": 1e6,
    "b": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}
_PATH = re.compile(r"(?<![\w])(~?/[^\s,;'\"()]+)")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s,;'\"()]*", re.I)  # a URL is never a data source
_EXPERTS = re.compile(r"(\d+)\s*experts?", re.I)
_MOE = re.compile(r"\bmoe\b|mixture[- ]of[- ]experts|\bexperts?\b", re.I)
_ESTIMATE = re.compile(r"how much|how long|\bcost\b|estimate|what would it take|price|budget for", re.I)
_GPU_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:gpu[- ]?h(?:ours?)?|gpu-hours?)", re.I)
_DEADLINE = re.compile(r"(?:within|in|by)\s+(\d+(?:\.\d+)?)\s*(hours?|h|days?|d)\b", re.I)
_SEARCH = re.compile(
    r"(?<!fine-)(?<!fine )\btun(e|ing)\b|hyper-?param|\bsearch\b|best (settings|hyper|config|learning rate)|\boptimi[sz](e|ing)\b"
    r"|\b(lowest|minimi[sz]e|minimum|best)\s+(the\s+)?(validation|val|held-out|eval)",
    re.I,
)
_LOSS_OBJECTIVE = re.compile(r"\b(validation|val|held-out)[ _]loss\b", re.I)
_TRAIN_WORDS = re.compile(r"\b(train|pre-?train|fine-?tune|build|make|model|llm|gpt)\b", re.I)


def parse_size(text: str) -> float | None:
    """'7B' -> 7e9, '125M' -> 1.25e8, '1.3 billion' -> 1.3e9; None when no size is named."""
    match = _SIZE.search(text)
    if not match:
        return None
    return float(match.group(1)) * _SCALE[match.group(2).lower()]


def _stdlib() -> str:
    return sysconfig.get_paths()["stdlib"]


def _paths(text: str) -> list[str]:
    """The filesystem paths ``text`` names; URLs (``http://host/upload``) are cut out first, so the path-like
    part of one is never read as a data source."""
    text = _URL.sub(" ", text)
    paths = [p.rstrip(".:!?") for p in _PATH.findall(text) if not p.startswith("//")]
    lowered = text.lower()
    if any(alias in lowered for alias in STDLIB_ALIASES):
        paths.append(_stdlib())
    return list(dict.fromkeys(paths))


def search_wanted(request: str) -> tuple[bool, Literal["val_bpb", "val_loss"]]:
    """Whether the request asks for a hyperparameter search, and what it should minimise (bits per byte
    unless the request names the validation loss)."""
    objective: Literal["val_bpb", "val_loss"] = "val_loss" if _LOSS_OBJECTIVE.search(request) else "val_bpb"
    return bool(_SEARCH.search(request)), objective


def parse_request(request: str) -> TrainingGoal:
    """Rules-only reading of a request. Raises ``ValueError`` when it names nothing to train or estimate."""
    size = parse_size(request)
    paths = _paths(request)
    estimate = bool(_ESTIMATE.search(request))
    if size is None and not paths and not _TRAIN_WORDS.search(request):
        raise ValueError(
            "the request names no model, size or data; say for example "
            "'train a 125M model on /data/code' or 'how much would a 7B on /data/docs cost?'"
        )
    experts = _EXPERTS.search(request)
    moe = bool(_MOE.search(request))
    gpu_hours = _GPU_HOURS.search(request)
    deadline = _DEADLINE.search(request)
    search, search_objective = search_wanted(request)
    deadline_hours = None
    if deadline:
        amount, unit = float(deadline.group(1)), deadline.group(2).lower()
        deadline_hours = amount * (24 if unit.startswith("d") else 1)
    return TrainingGoal(
        request=request,
        objective="estimate" if estimate else "train",
        parameters=size,
        architecture="moe" if moe else "dense",
        num_experts=(int(experts.group(1)) if experts else 8) if moe else None,
        data_sources=[str(p) for p in paths],
        gpu_hour_budget=float(gpu_hours.group(1)) if gpu_hours else None,
        deadline_hours=deadline_hours,
        search=search,
        search_objective=search_objective,
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
        if path not in request and path != _stdlib():
            raise ValueError(f"data path {path!r} does not appear in the request")
    missing = [p for p in _paths(request) if p not in paths]
    if missing:
        raise ValueError(f"data_paths must list every path the request names; missing: {', '.join(missing)}")
    experts = _EXPERTS.search(request)
    search, search_objective = search_wanted(request)
    return TrainingGoal(
        request=request,
        objective=draft.objective,
        parameters=size,
        architecture=draft.architecture,
        num_experts=(int(experts.group(1)) if experts else 8) if draft.architecture == "moe" else None,
        data_sources=paths,
        gpu_hour_budget=draft.gpu_hour_budget,
        deadline_hours=draft.deadline_hours,
        search=draft.search or search,  # the rules back the draft up: a named search is never dropped
        search_objective=search_objective,
    )
