"""The planner: deterministic code that works out what a goal implies.

From a :class:`TrainingGoal` and what the data holds it computes the full-size model, its compute-optimal
token count, FLOPs, time, GPU-hours and cost on the target cluster, a parallel layout that fits GPU memory,
the Megatron run config and Ray job spec for that cluster, and a local proxy run that fits this machine.
The LLM never decides these numbers; it may propose bounded changes that :func:`apply_proposal` checks.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools import EvalArgs, IngestArgs, TrainArgs
from tools.estimate import (
    MAX_USEFUL_EPOCHS,
    TOKENS_PER_PARAM,
    ClusterConfig,
    ComputeEstimate,
    ModelShape,
    ProxyPlan,
    estimate_compute,
    plan_proxy,
    shape_for_params,
)
from vibe.agent._goal import TrainingGoal
from vibe.agent._search import SearchSettings, search_step
from vibe.agent._step import PlanStep
from vibe.core.config import VibeConfig

__all__ = [
    "Plan",
    "PlanSettings",
    "PlanStep",
    "Proposal",
    "apply_proposal",
    "count",
    "data_dir_for",
    "make_plan",
    "plan_of",
    "summarize_plan",
]


class PlanSettings(VibeConfig):
    """What the planner needs to know about this machine and the target cluster."""

    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    local_flops_per_second: float = Field(default=20e9, gt=0, description="sustained training FLOP/s here")
    proxy_time_budget_s: float = Field(default=300, gt=0)
    proxy_max_steps: int | None = Field(default=None, ge=1)
    local_vocab_size: int = Field(default=8192, ge=256)
    workdir: str = "runs"
    search: SearchSettings = Field(
        default_factory=SearchSettings, description="the search added when a goal asks for one"
    )


class Plan(VibeConfig):
    goal: TrainingGoal
    full: ComputeEstimate
    megatron_config: dict[str, Any] = Field(description="the full-size run config for the cluster")
    ray_job: dict[str, Any] = Field(description="the Ray job that would run it on the cluster")
    runs_locally: bool
    proxy: ProxyPlan | None
    steps: list[PlanStep]
    notes: list[str] = Field(default_factory=list)


class Proposal(BaseModel):
    """A change the LLM may propose to the proxy run. Every field is bounded by :func:`apply_proposal`."""

    learning_rate: float | None = Field(default=None, description="between 1e-5 and 1e-2")
    max_steps: int | None = Field(default=None, description="at most twice the planned steps")
    reason: str = Field(default="", max_length=200)


def plan_of(state: Mapping[str, Any]) -> Plan:
    """The thread's plan, typed, as a private copy a node may edit: the state holds it serialised (plain
    JSON is what LangGraph checkpoints), and a node returns ``plan.model_dump(mode="json")``."""
    return Plan.model_validate(copy.deepcopy(state["plan"]))


def count(n: float) -> str:
    """7_000_000_000 -> '7.0B', 1_234_567 -> '1.2M', 4_000 -> '4.0K'."""
    for scale, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}"


def _learning_rate(params: float) -> float:
    """Peak LR by size, interpolated in log space over GPT-3's table (Brown et al. 2020, table 2.1)."""
    table = ((125e6, 6e-4), (350e6, 3e-4), (1.3e9, 2e-4), (6.7e9, 1.2e-4), (13e9, 1e-4), (175e9, 6e-5))
    if params <= table[0][0]:
        return 1e-3 if params < 20e6 else table[0][1]
    for (p0, lr0), (p1, lr1) in itertools.pairwise(table):
        if params <= p1:
            t = (math.log(params) - math.log(p0)) / (math.log(p1) - math.log(p0))
            return lr0 * (lr1 / lr0) ** t
    return table[-1][1]


def _run_config(
    shape: ModelShape, *, steps: int, micro: int, global_batch: int, dp: int, tp: int, ep: int, out: str
) -> dict[str, Any]:
    """A ``trainers.RunConfig`` as plain data (what goes into run.yaml)."""
    return {
        "out": out,
        "model": {
            "preset": None,
            "num_layers": shape.num_layers,
            "hidden_size": shape.hidden_size,
            "num_attention_heads": shape.num_attention_heads,
            "ffn_hidden_size": shape.ffn_hidden_size,
            "seq_length": shape.seq_length,
            "swiglu": shape.swiglu,
            "num_experts": shape.num_experts,
            "moe_router_topk": shape.moe_router_topk,
        },
        "parallel": {"dp": dp, "tp": tp, "ep": ep},
        "optimizer": {
            "lr": _learning_rate(shape.total_params),
            "min_lr": _learning_rate(shape.total_params) / 10,
            "warmup_steps": max(1, min(2000, steps // 50)),
            "schedule": "cosine",
        },
        "training": {
            "micro_batch_size": micro,
            "global_batch_size": global_batch,
            "max_steps": steps,
            "eval_interval": max(25, steps // 5),  # the last step always validates on the full split
            "checkpoint_interval": max(10, steps // 10),
        },
    }


def data_dir_for(goal: TrainingGoal, settings: PlanSettings) -> str:
    """Where the ingest of these sources goes: keyed by the sources and vocabulary, so threads share it."""
    key = hashlib.sha256(
        json.dumps([sorted(goal.data_sources), settings.local_vocab_size]).encode()
    ).hexdigest()
    return f"{settings.workdir}/data/{key[:12]}"


LOCAL_SEQ_LENGTH = 256  # the local runs' (tools.estimate.plan_proxy's) sequence length
_SMALL = 20e6  # below this a model is the local runs' family: trained at their sequence length, not 4096


def _sized_for_data(
    tokens_available: int | None, *, experts: int | None, settings: PlanSettings
) -> tuple[ModelShape, int | None, str]:
    """No size named: the model the data trains compute-optimally (20 tokens per parameter, repeating the
    data up to :data:`MAX_USEFUL_EPOCHS` passes when it is smaller than even the smallest shape needs), the
    tokens to plan for it, and the sentence that says so with the numbers the plan then shows."""
    data = tokens_available or 20_000_000
    shape = shape_for_params(
        data / TOKENS_PER_PARAM, num_experts=experts, vocab_size=settings.local_vocab_size
    )
    if shape.total_params < _SMALL:
        shape = shape.model_copy(update={"seq_length": LOCAL_SEQ_LENGTH})
    optimal = int(TOKENS_PER_PARAM * shape.active_params)
    named = f"{count(shape.total_params)} parameters ({shape.num_layers} layers x {shape.hidden_size})"
    if tokens_available is None:
        return shape, None, (f"no model size named and the data's size is unknown: chose {named}, "
                             f"compute-optimal for {count(optimal)} tokens")  # fmt: skip
    tokens = min(optimal, int(MAX_USEFUL_EPOCHS * data))
    passes = tokens / data
    head = f"no model size named: sized for {count(data)} tokens of data: {named}"
    if optimal <= data * 1.05:
        return (
            shape,
            tokens,
            f"{head}, trained compute-optimally on {count(tokens)} tokens (20 per parameter)",
        )
    if tokens == optimal:
        return shape, tokens, (f"{head}, the nearest model shape; its compute-optimal {count(tokens)} tokens (20 "
                               f"per parameter) are {passes:.1f} passes over the data (up to "
                               f"{MAX_USEFUL_EPOCHS:g} still help)")  # fmt: skip
    return shape, tokens, (f"{head}, the smallest model shape; it would want {count(optimal)} tokens (20 per "
                           f"parameter), the data gives {count(tokens)} in {MAX_USEFUL_EPOCHS:g} passes (more "
                           "stop helping): it will be under-trained; add data for a better model")  # fmt: skip


def _gpu_time(gpu_hours: float) -> str:
    seconds = gpu_hours * 3600
    if seconds < 1:
        return "under a second"
    return (
        f"{seconds:.0f} s"
        if seconds < 120
        else f"{seconds / 60:.0f} min"
        if seconds < 7200
        else f"{gpu_hours:.1f} h"
    )


def _no_cluster(full: ComputeEstimate, goal: TrainingGoal) -> bool:
    """A run too small for a cluster plan: under one GPU-hour, and no cluster named in the request."""
    return full.gpu_hours < 1 and goal.target_cluster is None


def make_plan(
    goal: TrainingGoal, *, tokens_available: int | None, settings: PlanSettings, thread_id: str
) -> Plan:
    """Work out the full-size plan, the local run (full or proxy) and the gated steps to run it."""
    notes: list[str] = []
    experts = goal.num_experts if goal.architecture == "moe" else None
    shape, tokens = _model_shape(goal, tokens_available=tokens_available, experts=experts, settings=settings,
                                 notes=notes)  # fmt: skip
    full, settings = _full_run(
        shape, goal, tokens_available=tokens_available, tokens=tokens, settings=settings
    )
    megatron, ray_job = _cluster_run(full, settings=settings, thread_id=thread_id)
    if goal.deadline_hours is not None and full.hours > goal.deadline_hours:
        notes.append(
            f"the full run takes ~{full.hours:,.1f} h on {settings.cluster.num_gpus} GPUs, past the "
            f"{goal.deadline_hours:g} h deadline: more GPUs or fewer tokens would be needed"
        )
    local_seconds = full.train_flops / settings.local_flops_per_second
    runs_locally = local_seconds <= settings.proxy_time_budget_s
    proxy: ProxyPlan | None = None
    steps: list[PlanStep] = []
    if goal.objective == "train" and not goal.data_sources:
        notes.append("no data source named: nothing can be trained until one is given")
    elif goal.objective == "train":
        proxy = plan_proxy(
            vocab_size=settings.local_vocab_size,
            flops_per_second=settings.local_flops_per_second,
            time_budget_s=settings.proxy_time_budget_s,
            tokens_available=tokens_available or 1_000_000,
            num_experts=experts,
            max_steps=settings.proxy_max_steps,
            max_params=full.total_params,
        )
        if not runs_locally:
            notes.append(_proxy_note(full, proxy, goal, local_seconds=local_seconds, settings=settings))
        steps = _local_steps(goal, proxy, runs_locally=runs_locally, settings=settings, thread_id=thread_id)
    return Plan(
        goal=goal,
        full=full,
        megatron_config=megatron,
        ray_job=ray_job,
        runs_locally=runs_locally,
        proxy=proxy,
        steps=steps,
        notes=notes + full.warnings,
    )


def _model_shape(
    goal: TrainingGoal,
    *,
    tokens_available: int | None,
    experts: int | None,
    settings: PlanSettings,
    notes: list[str],
) -> tuple[ModelShape, int | None]:
    """The full-size model (the size asked, or the one the data trains compute-optimally, said in ``notes``)
    and the tokens to plan for it (None: the estimate's compute-optimal count)."""
    if goal.parameters is None:
        shape, tokens, note = _sized_for_data(tokens_available, experts=experts, settings=settings)
        notes.append(note)
        return shape, tokens
    shape = shape_for_params(goal.parameters, num_experts=experts)
    if shape.total_params < _SMALL:  # a model this small trains at the local sequence length
        shape = shape.model_copy(update={"seq_length": LOCAL_SEQ_LENGTH})
    return shape, None


def _full_run(
    shape: ModelShape,
    goal: TrainingGoal,
    *,
    tokens_available: int | None,
    tokens: int | None,
    settings: PlanSettings,
) -> tuple[ComputeEstimate, PlanSettings]:
    """The full run's compute on the target cluster; a run too small for one is planned on a single GPU
    (the settings returned say so, and the summary shows it)."""
    full = estimate_compute(
        shape,
        settings.cluster,
        tokens_available=tokens_available,
        tokens=tokens,
        gpu_hour_budget=goal.gpu_hour_budget,
    )
    if _no_cluster(full, goal) and settings.cluster.num_gpus > 1:
        one = settings.cluster.model_copy(update={"nodes": 1, "gpus_per_node": 1})
        settings = settings.model_copy(update={"cluster": one})
        full = estimate_compute(
            shape, one, tokens_available=tokens_available, tokens=tokens, gpu_hour_budget=goal.gpu_hour_budget
        )
    return full, settings


def _cluster_run(
    full: ComputeEstimate, *, settings: PlanSettings, thread_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The full-size Megatron run config in the estimate's layout, and the Ray job that would run it."""
    shape, layout = full.shape, full.layout
    steps_full = max(
        1, full.tokens_planned // ((layout.global_batch_size if layout else 1) * shape.seq_length)
    )
    megatron = _run_config(
        shape,
        steps=steps_full,
        micro=layout.micro_batch_size if layout else 1,
        global_batch=layout.global_batch_size if layout else 1,
        dp=layout.dp if layout else 1,
        tp=layout.tp if layout else 1,
        ep=layout.ep if layout else 1,
        out=f"{settings.workdir}/{thread_id}/cluster-run",
    )
    megatron["parallel"]["pp"] = layout.pp if layout else 1
    ray_job = {
        "entrypoint": "vibe train --config run.yaml",
        "address": settings.cluster.ray_address or "ray://<head>:10001",
        "num_workers": layout.gpus if layout else settings.cluster.num_gpus,
        "resources_per_worker": {"GPU": 1, "CPU": 8},
        "runtime_env": {"env_vars": {"NCCL_DEBUG": "WARN"}},
    }
    return megatron, ray_job


def _proxy_note(
    full: ComputeEstimate,
    proxy: ProxyPlan,
    goal: TrainingGoal,
    *,
    local_seconds: float,
    settings: PlanSettings,
) -> str:
    """Why the local run is a proxy: the whole run's time here, and what runs instead."""
    if _no_cluster(full, goal):
        return (
            f"the whole run ({count(full.total_params)} parameters on {count(full.tokens_planned)} tokens) "
            f"would take ~{local_seconds / 3600:,.1f} h on this machine, over the "
            f"{settings.proxy_time_budget_s:.0f} s budget of a local run: here it trains "
            + ("the same model" if proxy.shape.total_params == full.total_params else
               f"a {count(proxy.shape.total_params)}-parameter model of the same family")
            + f" on {count(proxy.tokens)} tokens, and the whole run needs one {full.cluster.spec.name} for "
            + _gpu_time(full.gpu_hours)
            + (f" (or proxy_time_budget_s={local_seconds:.0f} here)" if local_seconds <= 12 * 3600 else "")
        )  # fmt: skip
    return (
        f"the full run ({count(full.total_params)} parameters on {count(full.tokens_planned)} tokens) "
        f"would take ~{local_seconds / 3600:,.1f} h on this machine, over its "
        f"{settings.proxy_time_budget_s:.0f} s budget: the cluster plan above is for that, and a "
        f"{count(proxy.shape.total_params)}-parameter proxy of the same family runs here now"
    )


def _local_steps(
    goal: TrainingGoal, proxy: ProxyPlan, *, runs_locally: bool, settings: PlanSettings, thread_id: str
) -> list[PlanStep]:
    """The gated steps of the local run: ingest, the search when asked for, train, eval."""
    data_dir = data_dir_for(goal, settings)
    run_dir = f"{settings.workdir}/{thread_id}/train"
    local = _run_config(
        proxy.shape,
        steps=proxy.steps,
        micro=proxy.micro_batch_size,
        global_batch=proxy.global_batch_size,
        dp=1,
        tp=1,
        ep=1,
        out=run_dir,
    )
    local["optimizer"]["lr"] = 1e-3
    local["optimizer"]["min_lr"] = 1e-4
    local["data"] = {"sources": [{"path": data_dir}]}
    ingest = PlanStep.of(
        id="ingest",
        tool="ingest",
        args=IngestArgs(paths=goal.data_sources, out=data_dir, vocab_size=settings.local_vocab_size),
        why="scan, deduplicate and tokenize the named data into Megatron indexed datasets",
    )
    steps = [ingest]
    if goal.search:
        steps.append(
            PlanStep.of(
                id="hpo",
                tool="hpo",
                args=search_step(
                    local,
                    objective=goal.search_objective,
                    settings=settings.search,
                    vocab_size=settings.local_vocab_size,
                    flops_per_second=settings.local_flops_per_second,
                    out=f"{settings.workdir}/{thread_id}/hpo",
                    study_name=f"{thread_id}-search",
                ),
                why=f"search the settings that minimise {goal.search_objective} on a narrower "
                "proxy; the best trial's settings carry over to the local run",
            )
        )
    train = PlanStep.of(
        id="train",
        tool="train",
        args=TrainArgs(config=local),
        why="the local run: " + (proxy.reason if not runs_locally else "the full model fits here"),
    )
    evaluate = PlanStep.of(
        id="eval", tool="eval", args=EvalArgs(run_dir=run_dir), why="held-out loss and bits per byte"
    )
    return [*steps, train, evaluate]


def apply_proposal(plan: Plan, proposal: Proposal) -> tuple[Plan, Literal["accepted", "rejected"], str]:
    """Apply an LLM proposal to the local training step within bounds, or reject it with the reason."""
    train = next((s for s in plan.steps if s.tool == "train"), None)
    if train is None:
        return plan, "rejected", "the plan has no training step to change"
    config = train.args["config"]
    planned_steps = config["training"]["max_steps"]
    if proposal.learning_rate is not None and not 1e-5 <= proposal.learning_rate <= 1e-2:
        return plan, "rejected", f"learning_rate {proposal.learning_rate} is outside [1e-5, 1e-2]"
    if proposal.max_steps is not None and not 1 <= proposal.max_steps <= 2 * planned_steps:
        return plan, "rejected", f"max_steps {proposal.max_steps} is outside [1, {2 * planned_steps}]"
    if proposal.learning_rate is None and proposal.max_steps is None:
        return plan, "rejected", "the proposal changes nothing"
    new_config = {**config, "optimizer": dict(config["optimizer"]), "training": dict(config["training"])}
    if proposal.learning_rate is not None:
        new_config["optimizer"]["lr"] = proposal.learning_rate
        new_config["optimizer"]["min_lr"] = min(new_config["optimizer"]["min_lr"], proposal.learning_rate)
    if proposal.max_steps is not None:
        new_config["training"]["max_steps"] = proposal.max_steps
    steps = [s.with_args(config=new_config) if s is train else s for s in plan.steps]
    return plan.model_copy(update={"steps": steps}), "accepted", proposal.reason or "within bounds"


def summarize_plan(result: Plan) -> str:
    full = result.full
    asked = [n for n in result.notes if n.startswith("asked: ")]
    notes = [f"note: {n}" for n in result.notes if not n.startswith("asked: ")]
    if result.steps and result.proxy is not None and (result.runs_locally or _no_cluster(full, result.goal)):
        p = result.proxy  # fits here, or needs under one GPU-hour: no cluster plan, one line saying so
        passes = f" ({full.epochs:.1f} passes over {count(full.tokens_available)})" if full.epochs else ""
        here = (
            f"it trains on this machine: {p.steps} steps, ~{p.expected_seconds:.0f} s"
            if result.runs_locally
            else f"the whole run is {_gpu_time(full.gpu_hours)} on one {full.cluster.spec.name}"
        )
        return "\n".join([
            *asked,
            f"model: {count(full.total_params)} parameters ({count(full.active_params)} active), "
            f"{full.shape.num_layers} layers x {full.shape.hidden_size}, sequence length {full.shape.seq_length}",
            f"tokens: {count(full.tokens_planned)} planned{passes}",
            f"cluster: none needed, {here}",
            *([] if result.runs_locally else
              [f"local run: {count(p.shape.total_params)} parameters, {p.steps} steps ({count(p.tokens)} tokens), "
               f"~{p.expected_seconds:.0f} s"]),
            *notes,
        ])  # fmt: skip
    lines = [
        *asked,
        f"full-size model: {count(full.total_params)} parameters ({count(full.active_params)} active), "
        f"{full.shape.num_layers} layers x {full.shape.hidden_size}",
        f"tokens: {count(full.tokens_planned)} planned (20/param), "
        + (f"{count(full.tokens_available)} available" if full.tokens_available else "availability unknown"),
        f"compute: {full.train_flops:.2e} FLOPs = {full.gpu_hours:,.1f} GPU-hours, {full.hours:,.1f} h on "
        f"{full.cluster.num_gpus}x{full.cluster.spec.name}, cost ~{full.cost:,.0f} {full.cluster.currency}",
    ]
    if full.layout:
        lay = full.layout
        lines.append(
            f"layout: TP={lay.tp} PP={lay.pp} EP={lay.ep} DP={lay.dp}, micro {lay.micro_batch_size}, "
            f"global {lay.global_batch_size}, {lay.memory_gib_per_gpu} of {lay.memory_gib_available} GiB"
        )
    if result.proxy and result.steps:
        p = result.proxy
        lines.append(
            f"local run: {count(p.shape.total_params)} parameters, {p.steps} steps, "
            f"~{p.expected_seconds:.0f} s"
        )
    lines += notes
    return "\n".join(lines)
