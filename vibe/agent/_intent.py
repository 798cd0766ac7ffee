"""What a request asks for, as one typed intent: a pydantic discriminated union on ``kind``.

    train      train from scratch, or fine-tune a base model; dense or MoE; size, data, budgets, deadline
    estimate   the cost question, on the cluster the request names (else the configured one)
    tune       a hyperparameter search (which parameters, until when), or the overnight loop
    synth      synthetic samples (how many, which templates, from which data), blended into a mix or not
    eval       evaluate a run (id, path or "last"), on extra data, with or without the release gates
    continue   an earlier run with changes (lr x factor, more steps, more data), resumed or branched
    status     what is going on: runs, approvals, last night's loop; answered, nothing run
    post_train SFT / DPO / RL on a run            release   a run into the registry
    refuse     sending data or models out of the network: refused with the reason, recorded
    unclear    a request the readers cannot read: a question back, never a guessed plan

A :class:`Reading` wraps the intent with what was refused or noted on the side (an upload refused while the
training it came with goes on; a request to ignore the policy, recorded and changing nothing; system
directories that need an explicit confirmation; URLs named, which are never data sources).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vibe.core.config import VibeConfig

__all__ = [
    "INTENT_KINDS",
    "Cluster",
    "ContinueIntent",
    "EstimateIntent",
    "EvalIntent",
    "Intent",
    "PostTrainIntent",
    "Reading",
    "Refusal",
    "RefuseIntent",
    "ReleaseIntent",
    "StatusIntent",
    "SynthIntent",
    "TrainIntent",
    "TuneIntent",
    "UnclearIntent",
]

INTENT_KINDS = (
    "train",
    "estimate",
    "tune",
    "synth",
    "eval",
    "continue",
    "status",
    "post_train",
    "release",
    "refuse",
    "unclear",
)

SOVEREIGNTY = (
    "Vibe keeps data and models inside the organisation's network: nothing is uploaded, mailed or sent to "
    "an outside address"
)


class Cluster(VibeConfig):
    """The cluster a request names ("on 256 H100s", "with 8 nodes of 8 GPUs"); None fields: the configured."""

    gpu: str | None = Field(default=None, description="a tools.estimate.GPU_SPECS name; None: the configured")
    gpus: int = Field(ge=1, description="GPUs in all")
    gpus_per_node: int | None = Field(default=None, ge=1)


class _Budgets(VibeConfig):
    parameters: float | None = Field(default=None, gt=0, description="total parameters; None: fit the data")
    architecture: Literal["dense", "moe"] = "dense"
    num_experts: int | None = Field(default=None, ge=2)
    data: list[str] = Field(default_factory=list, description="absolute paths to read")
    gpu_hours: float | None = Field(default=None, gt=0)
    money: float | None = Field(default=None, gt=0, description="a cost ceiling, in the cluster's currency")
    hours: float | None = Field(default=None, gt=0, description="a wall-clock limit")
    until: str | None = Field(default=None, pattern=r"^\d\d:\d\d$", description="a clock-time deadline HH:MM")
    cluster: Cluster | None = None


class TrainIntent(_Budgets):
    kind: Literal["train"] = "train"
    base_model: str | None = Field(default=None, description="fine-tune this model; None: from scratch")
    search: bool = Field(default=False, description="a hyperparameter search before the run")
    objective: Literal["val_bpb", "val_loss"] = "val_bpb"
    lr_factor: float | None = Field(default=None, gt=0, description="scale the planned learning rate")


class EstimateIntent(_Budgets):
    kind: Literal["estimate"] = "estimate"


class TuneIntent(_Budgets):
    kind: Literal["tune"] = "tune"
    params: list[Literal["lr", "warmup", "batch", "weight_decay", "width", "depth"]] = Field(
        default_factory=list, description="what to search; empty: the default space"
    )
    overnight: bool = Field(default=False, description="a night's work: the overnight loop")
    objective: Literal["val_bpb", "val_loss"] = "val_bpb"


class SynthIntent(VibeConfig):
    kind: Literal["synth"] = "synth"
    samples: int | None = Field(default=None, ge=1)
    templates: list[str] = Field(default_factory=list, description="tools.synth template names; empty: all")
    data: list[str] = Field(default_factory=list)
    blend: bool = Field(default=False, description="blend the kept samples into a training mix")
    share: float | None = Field(default=None, gt=0, lt=1, description="the samples' share of the mix")


class EvalIntent(VibeConfig):
    kind: Literal["eval"] = "eval"
    run: str = Field(description="a thread or run id, a path, or 'last'")
    data: list[str] = Field(default_factory=list, description="extra data to evaluate on")
    gates: bool = Field(default=False, description="judge the result against the policy's release gates")


class ContinueIntent(VibeConfig):
    kind: Literal["continue"] = "continue"
    run: str = Field(description="a thread or run id, a path, 'last' or 'yesterday'")
    lr_factor: float | None = Field(default=None, gt=0, description="multiply the learning rate")
    more_steps: int | None = Field(default=None, ge=1, description="train this many steps more")
    steps_factor: float | None = Field(default=None, gt=1, description="train this many times the steps")
    data: list[str] = Field(default_factory=list, description="more data to add")
    branch: bool = Field(default=False, description="a new run from the checkpoint; False: resume in place")


class StatusIntent(VibeConfig):
    kind: Literal["status"] = "status"
    topic: Literal["runs", "run", "approvals", "loop"] = "runs"
    run: str | None = None


class PostTrainIntent(VibeConfig):
    kind: Literal["post_train"] = "post_train"
    method: Literal["sft", "dpo", "rl"] = "sft"
    run: str | None = None
    data: list[str] = Field(default_factory=list)


class ReleaseIntent(VibeConfig):
    kind: Literal["release"] = "release"
    run: str = "last"


class RefuseIntent(VibeConfig):
    kind: Literal["refuse"] = "refuse"
    destinations: list[str] = Field(min_length=1, description="where the request wanted things sent")
    reason: str = SOVEREIGNTY


class UnclearIntent(VibeConfig):
    kind: Literal["unclear"] = "unclear"
    question: str = Field(description="what to ask the user")


Intent = Annotated[
    TrainIntent
    | EstimateIntent
    | TuneIntent
    | SynthIntent
    | EvalIntent
    | ContinueIntent
    | StatusIntent
    | PostTrainIntent
    | ReleaseIntent
    | RefuseIntent
    | UnclearIntent,
    Field(discriminator="kind"),
]


class Refusal(VibeConfig):
    destination: str
    reason: str = SOVEREIGNTY


class Reading(VibeConfig):
    """What the intake made of one request: the intent, and what was refused or noted beside it."""

    request: str
    intent: Intent
    refused: list[Refusal] = Field(default_factory=list, description="sends out of the network, refused")
    policy_override: bool = Field(
        default=False, description="asked to ignore the policy: recorded, no effect"
    )
    confirm_dirs: list[str] = Field(
        default_factory=list, description="system directories to ingest: need a confirmation naming them"
    )
    urls: list[str] = Field(default_factory=list, description="URLs named: never data sources")
    reader: Literal["rules", "llm", "llm+rules", "tools"] = "rules"
