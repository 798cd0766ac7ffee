"""Plan steps as policy actions: what the gate (``policies.Gate``) judges for each step of a plan.

A plan step becomes an :class:`policies.Action` in two moves: :func:`describe_step` turns the step (and the
plan around it) into action attributes — absolute data paths, parameters, architecture and the CPU- or
GPU-hours the step will use — and the gate adds who asks (``requester``, ``team``) and judges it:

==========  ===============  ==================================================================================
tool        action kind      attributes
==========  ===============  ==================================================================================
ingest      ``data.ingest``  ``paths``: the sources it reads (its output lives in the agent's workdir)
train       ``train.run``    ``paths`` (the sources the data came from, so their labels apply), ``parameters``,
                             ``architecture``, ``cpu_hours`` or ``gpu_hours``
eval        ``eval.run``     ``paths``, ``parameters``, ``architecture``, ``cpu_hours`` or ``gpu_hours``
hpo         ``hpo.search``   ``paths``, ``parameters`` (the largest model its space allows), ``architecture``,
                             ``cpu_hours`` or ``gpu_hours`` (the search's whole budget)
model_      ``model.import`` ``paths``: the source (checked against the policy's model roots),
import                       ``source_architecture`` (its ``config.json``'s, or ``gguf``)
model_      ``model.convert`` ``paths``: the run and the HF directory it writes (inside the network)
export
posttrain   ``train.run``    as ``tools.posttrain.gate_attributes`` (data, base size, CPU-hours); the data only
                             while the base does not exist yet
release     ``model.release`` ``paths``, ``metrics`` (the run's eval.json): judged when the step is reached,
                             after the evaluation before it (:func:`judged_when_reached`)
release_    ``eval.run``     ``paths``: a judgement of the gates that registers nothing
check
(plan)      ``train.run``    the full-size cluster run: ``gpu_hours``, ``parameters``, ``architecture``, ``paths``
==========  ===============  ==================================================================================

Hours are estimates from the plan, never from the clock, so the same step always becomes the same action
(an approval is for that exact action): wall time = training FLOPs / the FLOP/s the plan was sized with;
CPU-hours are core-hours (wall time x this machine's cores), GPU-hours are wall time x GPUs (``device: cuda``).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.estimate import ModelShape
from vibe.agent._step import PlanStep

if TYPE_CHECKING:
    from vibe.agent._plan import Plan

__all__ = [
    "STEP_KINDS",
    "describe_plan",
    "describe_step",
    "judged_when_reached",
    "shrink_train_step",
]

# The action kind each plan tool proposes.
STEP_KINDS: dict[str, str] = {
    "profile": "data.profile",
    "ingest": "data.ingest",
    "train": "train.run",
    "eval": "eval.run",
    "hpo": "hpo.search",
    "model_import": "model.import",
    "model_export": "model.convert",
    "posttrain": "train.run",
    "release": "model.release",
    "release_check": "eval.run",
}
EVAL_FRACTION = 0.05  # share of the tokens held out for validation (the ingest's default valid_fraction)


# ------------------------------------------------------------------------------------- steps -> actions
def _absolute(paths: Sequence[str]) -> list[str]:
    return [str(Path(p).expanduser().resolve()) for p in paths]


def _sources(plan: Plan | None) -> list[str]:
    return _absolute(plan.goal.data_sources) if plan is not None else []


def _vocab_size(plan: Plan | None) -> int:
    if plan is None:
        return 8192
    for step in plan.steps:
        if step.tool == "ingest":
            return int(step.args.get("vocab_size", 8192))
    return plan.proxy.shape.vocab_size if plan.proxy is not None else 8192


def _shape(config: dict[str, Any], vocab_size: int) -> ModelShape:
    """The model of a trainers RunConfig (as data) as an estimate shape."""
    from trainers import ModelConfig

    return ModelShape.of_model(ModelConfig.model_validate(config.get("model", {})), vocab_size=vocab_size)


def _plan_flops_per_second(plan: Plan | None, fallback: float) -> float:
    """The FLOP/s the plan's local run was sized with (so estimates do not depend on who resumes the thread)."""
    proxy = plan.proxy if plan is not None else None
    if proxy is None or not proxy.expected_seconds:
        return fallback
    flops = proxy.steps * proxy.global_batch_size * proxy.shape.seq_length * proxy.shape.flops_per_token()
    return flops / proxy.expected_seconds


def _hours(config: dict[str, Any], wall_hours: float) -> dict[str, float]:
    """CPU core-hours, or GPU-hours for a ``device: cuda`` run, of a run taking ``wall_hours``."""
    parallel = config.get("parallel", {})
    workers = parallel.get("dp", 1) * parallel.get("tp", 1)
    if config.get("device") == "cuda" or config.get("ray", {}).get("use_gpu"):
        return {"gpu_hours": wall_hours * workers}
    return {"cpu_hours": wall_hours * (os.cpu_count() or 1)}


def _train_estimate(config: dict[str, Any], *, vocab_size: int, flops_per_second: float) -> dict[str, Any]:
    shape = _shape(config, vocab_size)
    training = config.get("training", {})
    tokens = training.get("max_steps", 1) * training.get("global_batch_size", 1) * shape.seq_length
    wall_hours = tokens * shape.flops_per_token() / flops_per_second / 3600
    return {
        "parameters": shape.total_params,
        "architecture": "moe" if shape.num_experts else "dense",
        **_hours(config, wall_hours),
    }


def describe_step(
    step: PlanStep | dict[str, Any],
    *,
    plan: Plan | dict[str, Any] | None,
    local_flops_per_second: float,
    sources: Sequence[str] = (),
) -> dict[str, Any]:
    """The action attributes of plan ``step``: what the policy reads (paths, size, hours), estimated from the plan.

    ``step`` and ``plan`` are typed, or their serialised form (as the agent's state holds them); without a
    plan (a tool the LLM calls itself) ``sources`` are the data the step reads."""
    from vibe.agent._plan import Plan

    step = PlanStep.model_validate(step)
    plan = Plan.model_validate(plan) if plan is not None else None
    return _attributes(step, plan, flops=_plan_flops_per_second(plan, local_flops_per_second),
                       sources=_sources(plan) if plan is not None else _absolute(sources))  # fmt: skip


def _attributes(step: PlanStep, plan: Plan | None, *, flops: float, sources: list[str]) -> dict[str, Any]:
    args = step.args
    if step.tool in ("ingest", "profile"):
        return {"paths": _absolute(args.get("paths", []))}
    if step.tool == "train":
        return {
            "paths": sources,
            **_train_estimate(args["config"], vocab_size=_vocab_size(plan), flops_per_second=flops),
        }
    if step.tool == "hpo":
        from vibe.agent._search import search_parameters

        config = args["config"]
        budget = config.get("budget", {})
        hours = {k: budget[k] for k in ("cpu_hours", "gpu_hours") if budget.get(k) is not None}
        return {
            "paths": sources,
            "parameters": search_parameters(config, vocab_size=_vocab_size(plan)),
            "architecture": "moe" if config["base"]["model"].get("num_experts") else "dense",
            **hours,
        }
    if step.tool == "model_import":
        return {"paths": _absolute([args["src"]]), "source_architecture": _architecture(Path(args["src"]))}
    if step.tool == "model_export":
        return {"paths": _absolute([args["src"], *([args["out"]] if args.get("out") else [])])}
    if step.tool == "posttrain":
        return _posttrain_attributes(args)
    if step.tool == "release":
        from tools.release import release_attributes
        from vibe.core.errors import UserError

        try:
            return release_attributes(args["run_dir"])
        except (UserError, OSError, ValueError, KeyError):  # not evaluated yet: judged when reached
            return {"paths": sources}
    if step.tool == "release_check":
        return {"paths": sources}
    if step.tool == "eval":
        train = next((s for s in plan.steps if s.tool == "train"), None) if plan is not None else None
        if plan is None or train is None:
            return {"paths": sources}
        config = train.args["config"]
        shape = _shape(config, _vocab_size(plan))
        available = plan.full.tokens_available or (plan.proxy.tokens if plan.proxy is not None else None)
        held_out = EVAL_FRACTION * (available or 1_000_000)
        wall_hours = 2 * shape.active_params * held_out / flops / 3600  # forward passes only: 2N per token
        return {
            "paths": sources,
            "parameters": shape.total_params,
            "architecture": "moe" if shape.num_experts else "dense",
            **_hours(config, wall_hours),
        }
    return {}


def judged_when_reached(step: PlanStep) -> bool:
    """Whether ``step`` can only be judged once the steps before it ran (a release reads their evaluation):
    the check of the whole plan before the first step leaves it to the gate node at the step."""
    return step.tool == "release"


def _architecture(src: Path) -> str | None:
    """The HF architecture an import would read (``gguf`` for a GGUF file; None: unreadable)."""
    if src.suffix == ".gguf":
        return "gguf"
    try:
        architectures = json.loads((src / "config.json").read_text(encoding="utf-8")).get("architectures")
    except (OSError, ValueError):
        return None
    return architectures[0] if architectures else None


def _posttrain_attributes(args: dict[str, Any]) -> dict[str, Any]:
    """A post-training step as ``tools.posttrain.gate_attributes`` judges it (what its tool asks again)."""
    data = _absolute([args["data"]])
    if not (Path(args["base"]) / "config.yaml").is_file():
        return {"paths": data}
    from tools.posttrain import PostTrainArgs, gate_attributes, posttrain_config
    from vibe.core.errors import UserError

    try:
        return gate_attributes(posttrain_config(PostTrainArgs.model_validate(args)))
    except (UserError, OSError, ValueError):
        return {"paths": data}


def describe_plan(plan: Plan | dict[str, Any]) -> dict[str, Any]:
    """The action attributes of the full-size cluster run the plan describes (checked once, before any step);
    ``plan`` typed, or serialised as the agent's state holds it."""
    from vibe.agent._plan import Plan

    plan = Plan.model_validate(plan)
    return {
        "paths": _sources(plan),
        "parameters": plan.full.total_params,
        "architecture": "moe" if plan.full.shape.num_experts else "dense",
        "gpu_hours": plan.full.gpu_hours,
    }


# ------------------------------------------------------------------------------------ planning within policy
def _smaller_models(model: dict[str, Any], *, tp: int) -> Iterator[dict[str, Any]]:
    """The model, then versions with 1/2, 1/4, ... of its layers and of its width (same head size)."""
    from trainers import ModelConfig

    base = ModelConfig.model_validate(model)
    widths = []
    hidden, heads = base.hidden_size, base.num_attention_heads
    while hidden >= 64 and hidden % heads == 0 and heads % tp == 0:
        widths.append((hidden, heads))
        hidden, heads = hidden // 2, max(1, heads // 2)
    layers = base.num_layers
    while layers >= 1:
        for hidden, heads in widths:
            yield {
                **model,
                "preset": None,
                "num_layers": layers,
                "hidden_size": hidden,
                "num_attention_heads": heads,
                "ffn_hidden_size": base.ffn_size * hidden // base.hidden_size,
                "seq_length": base.seq_length,
            }
        layers //= 2


def shrink_train_step(step: PlanStep, *, plan: Plan, accept: Callable[[PlanStep], bool]) -> PlanStep | None:
    """The largest smaller version of train ``step`` that ``accept`` takes, or None.

    Candidates cut ``training.max_steps`` (down to 1/64) and halve the model's depth and width; they are
    tried in order of training compute, largest first, so the run keeps as much of what was asked as the
    policy allows. ``accept`` receives a candidate step (the gate, in practice).
    """
    config = step.args["config"]
    vocab = _vocab_size(plan)
    steps = config["training"]["max_steps"]
    original = _shape(config, vocab)
    candidates = []
    for model in _smaller_models(config["model"], tp=config.get("parallel", {}).get("tp", 1)):
        for cut in range(7):
            max_steps = max(1, steps >> cut)
            if cut and max_steps == max(1, steps >> (cut - 1)):
                break
            new = copy.deepcopy(config)
            new["model"] = model
            training = new["training"]
            training["max_steps"] = max_steps
            training["eval_interval"] = max(1, max_steps // 10)
            training["checkpoint_interval"] = max(1, max_steps // 10)
            new["optimizer"]["warmup_steps"] = min(
                new["optimizer"].get("warmup_steps", 0), max(1, max_steps // 10)
            )
            shape = _shape(new, vocab)
            if shape == original and max_steps == steps:
                continue  # that is the step itself
            compute = max_steps * training["global_batch_size"] * shape.seq_length * shape.flops_per_token()
            candidates.append((compute, shape.total_params, new))
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    for _, params, new in candidates:
        shape = _shape(new, vocab)
        train = new["training"]
        why = (
            f"{step.why} (shrunk to fit the policy: {params / 1e6:.2f}M parameters, "
            f"{train['max_steps']} steps)"
        )
        candidate = step.with_args(config=new, why=why)
        if accept(candidate):
            return candidate
    return None
