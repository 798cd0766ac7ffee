"""Plans for a model's life after pre-training: fine-tune a base model, post-train a run, release it.

Each plan is the ordinary plan of gated steps (:class:`~vibe.agent._plan.Plan`), every step a registered tool
the gate node judges before it runs:

==============  =========================================================================================
request          steps (tool: action kind)
==============  =========================================================================================
fine-tune        ``import`` (model_import: model.import) -> ``ingest`` (with the base's tokenizer) ->
                 ``eval-base`` (the base on the fine-tune's held-out split) -> ``train`` (init_from the
                 import) -> ``eval`` (the same split); both scores are reported side by side
post-train       ``posttrain`` (train.run, like any training run; RL: the policy files' hashes recorded)
release          ``eval`` (the suites the policy's gates read) -> ``release`` (model.release: the gates,
                 an approval where the policy reserves one, then the registry)
eval + gates     ``eval`` (the gated suites) -> ``release-gates`` (release_check: judged, nothing registered)
==============  =========================================================================================

The base model of a fine-tune is named by path, or by name: a model directory (``config.json``) in the local
model cache (``$VIBE_CACHE/models``, where the agent's own SmolLM2 lives) or under the policy's
``model_sources`` roots.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from policies import PolicyGate
from tools import EvalArgs, IngestArgs, TrainArgs
from tools.estimate import ModelShape, estimate_compute
from tools.model import ModelIOArgs
from tools.posttrain import PostTrainArgs
from tools.release import ReleaseArgs, ReleaseCheckArgs
from vibe.agent._goal import TrainingGoal
from vibe.agent._plan import Plan, PlanSettings, PlanStep, count
from vibe.core.errors import UserError

if TYPE_CHECKING:
    from vibe.agent._deps import AgentDeps

__all__ = [
    "COMPARE_STEPS",
    "compare_line",
    "find_base_model",
    "finetune_plan",
    "gated_suites",
    "model_roots",
    "posttrain_step",
    "release_steps",
]

COMPARE_STEPS = ("eval-base", "eval")  # the two scores a fine-tune reports side by side
_FINETUNE_SEQ = 128  # the local fine-tune's sequence length (at most the base's)


# ------------------------------------------------------------------------------------------ the base model
def model_roots(deps: AgentDeps) -> list[Path]:
    """Where a base model named by name is looked for: the local model cache, then the policy's model roots."""
    from vibe.core.paths import cache_dir

    roots = [cache_dir("models")]
    if isinstance(deps.gate, PolicyGate):
        for source in deps.gate.policies.sources:
            rules = source.policy.model_sources
            roots += [Path(r) for r in (rules.roots or [])] if rules else []
    return roots


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find_base_model(ref: str, roots: list[Path]) -> Path | None:
    """``ref`` as a path (an HF directory or a .gguf), or the model directory under ``roots`` whose name
    contains it (case and punctuation ignored; the shortest name wins: ``SmolLM2`` -> ``smollm2-135m-instruct``)."""
    path = Path(ref).expanduser()
    if path.is_absolute() or ref.startswith("."):
        return path.resolve() if path.exists() else None
    wanted = _key(ref)
    found: list[Path] = []
    for root in roots:
        if not root.is_dir():
            continue
        for candidate in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
            if (candidate / "config.json").is_file() and wanted and wanted in _key(candidate.name):
                found.append(candidate.resolve())
    return min(found, key=lambda p: (len(p.name), str(p))) if found else None


# ------------------------------------------------------------------------------------------------ fine-tune
def finetune_plan(
    *,
    request: str,
    base: Path,
    data: list[str],
    settings: PlanSettings,
    thread_id: str,
    tokens_available: int | None,
    lr_factor: float | None = None,
) -> Plan:
    """The fine-tune of ``base`` on ``data``: import, ingest with its tokenizer, score the base, train from it,
    score the result on the same held-out split."""
    from trainers.hf import read_hf_config

    if not data:
        raise UserError(f"fine-tuning {base.name} needs data to train on: name a path, e.g. 'on /data/code'")
    if base.is_file():
        raise UserError(
            f"{base}: the agent fine-tunes from an HF model directory; import a GGUF file first "
            f"(`vibe model import {base} --out DIR`) and name DIR"
        )
    spec = read_hf_config(base)
    seq = min(_FINETUNE_SEQ, spec.model.seq_length)
    model = spec.model.model_copy(update={"seq_length": seq})
    shape = ModelShape.of_model(model, vocab_size=spec.vocab_size)
    work = f"{settings.workdir}/{thread_id}"
    base_out, run_dir = f"{work}/base", f"{work}/train"
    key = hashlib.sha256(json.dumps([sorted(data), str(base)]).encode()).hexdigest()[:12]
    data_dir = f"{settings.workdir}/data/{key}"
    tokens = tokens_available or 1_000_000
    full = estimate_compute(shape, settings.cluster, tokens_available=tokens, tokens=tokens)  # one pass
    micro, batch = 2, 4
    per_step = 6 * shape.active_params * batch * seq  # training FLOPs of one step
    steps = max(4, min(200, int(settings.proxy_time_budget_s * settings.local_flops_per_second / per_step)))
    if settings.proxy_max_steps is not None:
        steps = min(steps, settings.proxy_max_steps)
    lr = 1e-4 * (lr_factor or 1.0)
    local = {
        "out": run_dir,
        "init_from": base_out,
        "model": model.model_dump(mode="json"),
        "parallel": {"dp": 1, "tp": 1, "ep": 1},
        "optimizer": {"lr": lr, "min_lr": lr / 10, "warmup_steps": max(1, steps // 10), "schedule": "cosine"},
        "training": {"micro_batch_size": micro, "global_batch_size": batch, "max_steps": steps,
                     "eval_interval": steps, "checkpoint_interval": max(1, steps // 2)},
        "data": {"sources": [{"path": data_dir}]},
    }  # fmt: skip
    megatron = {**local, "out": f"{work}/cluster-run"}
    if full.layout is not None:
        megatron["parallel"] = {
            "dp": full.layout.dp,
            "tp": full.layout.tp,
            "ep": full.layout.ep,
            "pp": full.layout.pp,
        }
    steps_list = [
        PlanStep.of(id="import", tool="model_import", args=ModelIOArgs(src=str(base), out=base_out, seq_length=seq),
                    why=f"import {base.name} ({spec.architecture}, {count(shape.total_params)} parameters) as a "
                        "Megatron checkpoint with its own tokenizer, verified against transformers"),
        PlanStep.of(id="ingest", tool="ingest",
                    args=IngestArgs(paths=data, out=data_dir, vocab_size=max(300, spec.vocab_size), tokenizer=base_out),
                    why=f"scan, deduplicate and tokenize the data with {base.name}'s tokenizer"),
        PlanStep.of(id="eval-base", tool="eval", args=EvalArgs(run_dir=base_out, data=[data_dir]),
                    why=f"{base.name} as imported, on the fine-tune's held-out split"),
        PlanStep.of(id="train", tool="train", args=TrainArgs(config=local),
                    why=f"fine-tune from {base.name}'s weights (fresh optimizer): {steps} steps at lr {lr:.1e}, "
                        f"sequence length {seq}"),
        PlanStep.of(id="eval", tool="eval", args=EvalArgs(run_dir=run_dir),
                    why="the fine-tuned model on the same held-out split"),
    ]  # fmt: skip
    goal = TrainingGoal(request=request, parameters=shape.total_params, data_sources=data)
    return Plan(
        goal=goal,
        full=full,
        megatron_config=megatron,
        ray_job={
            "entrypoint": "vibe train --config run.yaml",
            "address": settings.cluster.ray_address or "ray://<head>:10001",
            "num_workers": full.layout.gpus if full.layout else 1,
        },
        runs_locally=True,
        proxy=None,
        steps=steps_list,
        notes=[
            f"fine-tune of {base} (base model named in the request)",
            f"the cluster estimate is one pass over the data ({count(tokens)} tokens) from the base's weights",
            *full.warnings,
        ],
    )


def compare_line(results: dict[str, dict[str, Any]]) -> str | None:
    """'held-out (same split): base X bits/byte -> fine-tuned Y', once both evaluations have run."""
    base, tuned = (results.get(k) for k in COMPARE_STEPS)
    if not base or not tuned:
        return None
    change = (tuned["val_bpb"] - base["val_bpb"]) / base["val_bpb"]
    return (
        f"held-out (the same split): base {base['val_bpb']:.4f} bits/byte (loss {base['val_loss']:.4f}) -> "
        f"fine-tuned {tuned['val_bpb']:.4f} bits/byte (loss {tuned['val_loss']:.4f}), {change:+.1%}"
    )


# ----------------------------------------------------------------------------------------------- post-train
def posttrain_step(
    *, method: Literal["sft", "dpo", "rl"], base: str, data: list[str], deps: AgentDeps, thread_id: str
) -> tuple[PlanStep, list[str]]:
    """The ``posttrain`` step of ``method`` on run ``base`` and what it notes; a UserError says what is missing."""
    notes: list[str] = []
    policies: list[str] = []
    if method == "rl":
        if not isinstance(deps.gate, PolicyGate):
            raise UserError(
                "RL against the policy needs a policy file with `alignment:` rules: pass --policy FILE"
            )
        with_rules = [
            s for s in deps.gate.policies.sources if s.policy.alignment and s.policy.alignment.rules
        ]
        if not with_rules:
            files = ", ".join(str(s.path) for s in deps.gate.policies.sources)
            raise UserError(f"RL against the policy: {files} declare no `alignment:` rules to reward")
        policies = [str(s.path) for s in with_rules]
        rules = [r.id for s in with_rules for r in s.policy.alignment.rules]  # type: ignore[union-attr]
        notes.append(
            f"rewards: the alignment rules {', '.join(rules)} of {', '.join(policies)} (hashes recorded)"
        )
    if not data:
        what = {"sft": "a chat JSONL of {\"messages\": [...]}", "dpo": "a JSONL of prompt / chosen / rejected",
                "rl": "a JSONL of {\"prompt\": ...}"}[method]  # fmt: skip
        raise UserError(
            f"{method.upper()} needs {what}: name the file, e.g. '... with {method.upper()} on /data/file.jsonl'"
        )
    settings = deps.settings
    steps = settings.proxy_max_steps or 50
    out = f"{settings.workdir}/{thread_id}/{method}"
    step = PlanStep.of(
        id="posttrain",
        tool="posttrain",
        args=PostTrainArgs(
            method=method,
            base=base,
            data=data[0],
            out=out,
            policies=policies,
            max_steps=steps,
        ),
        why=f"{method.upper()} of {base} on {data[0]}, {steps} steps, gated as a training run",
    )
    if len(data) > 1:
        notes.append(f"post-training reads one data file: {data[0]} (not {', '.join(data[1:])})")
    return step, notes


# -------------------------------------------------------------------------------------------------- release
def gated_suites(deps: AgentDeps) -> tuple[list[str], list[str]]:
    """(the metrics the policy's release gates read, the evaluation suites that compute them)."""
    from tools.release import gated_metrics, suites_for

    metrics = gated_metrics(deps.gate.policies) if isinstance(deps.gate, PolicyGate) else []
    return metrics, suites_for(metrics)


def release_steps(
    *, run_dir: str, name: str | None, deps: AgentDeps, register: bool, texts: list[str] = ()
) -> tuple[list[PlanStep], list[str]]:
    """``eval`` with the gated suites, then ``release`` (register) or ``release-gates`` (judge only)."""
    metrics, suites = gated_suites(deps)
    notes = (
        [f"the release gates read {', '.join(metrics)}: evaluated with the {', '.join(suites)} suite(s)"]
        if metrics
        else ["no policy release gates in force: held-out loss and bits per byte are evaluated"]
    )
    why = "held-out loss and bits per byte" + (f", {', '.join(s for s in suites if s != 'heldout')}"
                                               if len(suites) > 1 else "")  # fmt: skip
    steps = [
        PlanStep.of(
            id="eval", tool="eval", args=EvalArgs(run_dir=run_dir, texts=list(texts), suites=suites), why=why
        )
    ]
    if register:
        model = name or _model_name(run_dir)
        steps.append(PlanStep.of(id="release", tool="release", args=ReleaseArgs(run_dir=run_dir, name=model),
                                 why=f"judge the evaluation against the release gates (model.release) and, if it "
                                     f"passes (approved where the policy asks), register it as {model} in the "
                                     "model registry"))  # fmt: skip
    else:
        steps.append(PlanStep.of(id="release-gates", tool="release_check", args=ReleaseCheckArgs(run_dir=run_dir),
                                 why="judge the evaluation against the policy's release gates (nothing is "
                                     "registered)"))  # fmt: skip
    return steps, notes


def _model_name(run_dir: str) -> str:
    """A registry name for ``run_dir``: its thread id (``runs/t-1a2b/train`` -> ``t-1a2b``)."""
    path = Path(run_dir)
    name = path.parent.name if path.name in ("train", "sft", "dpo", "rl") else path.name
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name).strip("-.") or "model"
