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

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tools.estimate import ModelShape

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


def _sources(plan: dict[str, Any]) -> list[str]:
    return _absolute(plan.get("goal", {}).get("data_sources", []))


def _vocab_size(plan: dict[str, Any]) -> int:
    for step in plan.get("steps", []):
        if step["tool"] == "ingest":
            return int(step["args"].get("vocab_size", 8192))
    proxy = plan.get("proxy") or {}
    return int(proxy.get("shape", {}).get("vocab_size", 8192))


def _shape(config: dict[str, Any], vocab_size: int) -> ModelShape:
    """The model of a trainers RunConfig (as data) as an estimate shape."""
    from trainers import ModelConfig

    return ModelShape.of_model(ModelConfig.model_validate(config.get("model", {})), vocab_size=vocab_size)


def _plan_flops_per_second(plan: dict[str, Any], fallback: float) -> float:
    """The FLOP/s the plan's local run was sized with (so estimates do not depend on who resumes the thread)."""
    proxy = plan.get("proxy")
    if not proxy or not proxy.get("expected_seconds"):
        return fallback
    shape = ModelShape.model_validate(proxy["shape"])
    flops = proxy["steps"] * proxy["global_batch_size"] * shape.seq_length * shape.flops_per_token()
    return flops / proxy["expected_seconds"]


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
    step: dict[str, Any], *, plan: dict[str, Any], local_flops_per_second: float
) -> dict[str, Any]:
    """The action attributes of plan ``step``: what the policy reads (paths, size, hours), estimated from the plan."""
    args = step["args"]
    flops = _plan_flops_per_second(plan, local_flops_per_second)
    if step["tool"] in ("ingest", "profile"):
        return {"paths": _absolute(args.get("paths", []))}
    if step["tool"] == "train":
        return {
            "paths": _sources(plan),
            **_train_estimate(args["config"], vocab_size=_vocab_size(plan), flops_per_second=flops),
        }
    if step["tool"] == "hpo":
        from vibe.agent._search import search_parameters

        config = args["config"]
        budget = config.get("budget", {})
        hours = {k: budget[k] for k in ("cpu_hours", "gpu_hours") if budget.get(k) is not None}
        return {
            "paths": _sources(plan),
            "parameters": search_parameters(config, vocab_size=_vocab_size(plan)),
            "architecture": "moe" if config["base"]["model"].get("num_experts") else "dense",
            **hours,
        }
    if step["tool"] == "model_import":
        return {"paths": _absolute([args["src"]]), "source_architecture": _architecture(Path(args["src"]))}
    if step["tool"] == "model_export":
        return {"paths": _absolute([args["src"], *([args["out"]] if args.get("out") else [])])}
    if step["tool"] == "posttrain":
        return _posttrain_attributes(args)
    if step["tool"] == "release":
        from tools.release import release_attributes
        from vibe.core.errors import UserError

        try:
            return release_attributes(args["run_dir"])
        except (UserError, OSError, ValueError, KeyError):  # not evaluated yet: judged when reached
            return {"paths": _sources(plan)}
    if step["tool"] == "release_check":
        return {"paths": _sources(plan)}
    if step["tool"] == "eval":
        train = next((s for s in plan.get("steps", []) if s["tool"] == "train"), None)
        if train is None:
            return {"paths": _sources(plan)}
        config = train["args"]["config"]
        shape = _shape(config, _vocab_size(plan))
        available = (plan.get("full") or {}).get("tokens_available") or (plan.get("proxy") or {}).get(
            "tokens"
        )
        held_out = EVAL_FRACTION * (available or 1_000_000)
        wall_hours = 2 * shape.active_params * held_out / flops / 3600  # forward passes only: 2N per token
        return {
            "paths": _sources(plan),
            "parameters": shape.total_params,
            "architecture": "moe" if shape.num_experts else "dense",
            **_hours(config, wall_hours),
        }
    return {}


def judged_when_reached(step: dict[str, Any]) -> bool:
    """Whether ``step`` can only be judged once the steps before it ran (a release reads their evaluation):
    the check of the whole plan before the first step leaves it to the gate node at the step."""
    return step["tool"] == "release"


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


def describe_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The action attributes of the full-size cluster run the plan describes (checked once, before any step)."""
    full = plan["full"]
    return {
        "paths": _sources(plan),
        "parameters": full["total_params"],
        "architecture": "moe" if full["shape"].get("num_experts") else "dense",
        "gpu_hours": full["gpu_hours"],
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


def shrink_train_step(
    step: dict[str, Any], *, plan: dict[str, Any], accept: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    """The largest smaller version of train ``step`` that ``accept`` takes, or None.

    Candidates cut ``training.max_steps`` (down to 1/64) and halve the model's depth and width; they are
    tried in order of training compute, largest first, so the run keeps as much of what was asked as the
    policy allows. ``accept`` receives a candidate step (the gate, in practice).
    """
    config = step["args"]["config"]
    vocab = _vocab_size(plan)
    steps = config["training"]["max_steps"]
    original = _shape(config, vocab)
    candidates = []
    for model in _smaller_models(config["model"], tp=config.get("parallel", {}).get("tp", 1)):
        for cut in range(7):
            max_steps = max(1, steps >> cut)
            if cut and max_steps == max(1, steps >> (cut - 1)):
                break
            new = json.loads(json.dumps(config))
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
            f"{step['why']} (shrunk to fit the policy: {params / 1e6:.2f}M parameters, "
            f"{train['max_steps']} steps)"
        )
        candidate = {**step, "args": {**step["args"], "config": new}, "why": why}
        if accept(candidate):
            return candidate
    return None
