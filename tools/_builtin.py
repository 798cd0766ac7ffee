"""The built-in tools the agent calls, each a typed wrapper around a package that also has a CLI.

Heavy imports (torch, Megatron, Ray) happen inside the functions, so importing ``tools`` stays fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from tools._ahead import run_spec_path, take_ahead
from tools._profile import ProfileArgs, ProfileResult, profile
from tools.estimate import ClusterConfig, ComputeEstimate, estimate_compute, shape_for_params
from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register

__all__ = [
    "EstimateArgs",
    "EvalArgs",
    "EvalToolResult",
    "IngestArgs",
    "IngestResult",
    "TrainArgs",
    "TrainToolResult",
]


# ------------------------------------------------------------------------------------------------- profile
def _profile(args: ProfileArgs, context: ToolContext) -> ProfileResult:
    return profile(args.paths)


register(
    Tool(
        name="profile",
        description="Count files, bytes and estimated tokens in data sources.",
        args=ProfileArgs,
        result=ProfileResult,
        fn=_profile,
    )
)


# ------------------------------------------------------------------------------------------------ estimate
class EstimateArgs(ToolArgs):
    parameters: float = Field(gt=0, description="total parameters, e.g. 7e9")
    architecture: Literal["dense", "moe"] = "dense"
    num_experts: int | None = Field(default=None, ge=2)
    tokens_available: int | None = Field(default=None, gt=0)
    gpu_hour_budget: float | None = Field(default=None, gt=0)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)


def _estimate(args: EstimateArgs, context: ToolContext) -> ComputeEstimate:
    experts = (args.num_experts or 8) if args.architecture == "moe" else None
    shape = shape_for_params(args.parameters, num_experts=experts)
    return estimate_compute(
        shape, args.cluster, tokens_available=args.tokens_available, gpu_hour_budget=args.gpu_hour_budget
    )


register(
    Tool(
        name="estimate",
        description="Model shape, compute-optimal tokens, FLOPs, GPU-hours, cost and parallel layout on a cluster.",
        args=EstimateArgs,
        result=ComputeEstimate,
        fn=_estimate,
    )
)


# -------------------------------------------------------------------------------------------------- ingest
class IngestArgs(ToolArgs):
    paths: list[str] = Field(min_length=1)
    out: str
    vocab_size: int = Field(default=8192, ge=300)
    tokenizer: str | None = Field(
        default=None,
        description="reuse this tokenizer (a tokenizer.json, or a dataset / imported model directory holding "
        "one) instead of training one: a fine-tune tokenizes with its base model's",
    )


class IngestResult(BaseModel):
    out: str
    files_seen: int
    files_kept: int
    train_tokens: int
    valid_tokens: int
    findings: dict[str, int]


# What ingest does with a finding, for each handling a policy's data section names (block: stop the ingest).
_HANDLING = {"redact": "redact", "drop": "drop", "block": "fail"}


def _ingest(args: IngestArgs, context: ToolContext) -> IngestResult:
    """Ingest under the policy in force: the policy's secrets / personal-data handling is what ingest applies
    (``block`` stops it, naming the file and the finding), and every file is judged by its real path as
    training data (roots, labels, forbidden labels) before it is read: a file the policy denies is skipped
    and recorded, whatever directory or symlink it was reached through."""
    from tools.data import IngestConfig, ingest

    actions: dict[str, str] = {}
    admit = None
    admit_key = ""
    gate = context.gate
    if gate is not None:
        judged = gate.check(
            kind="data.ingest", attributes={"paths": [str(Path(p).resolve()) for p in args.paths]}
        )
        obligations = getattr(judged, "obligations", {}) or {}
        actions = {k: _HANDLING[v] for k, v in obligations.items() if v in _HANDLING}
        admit_key = json.dumps(getattr(judged, "policy_hashes", {}), sort_keys=True)

        def admit(real: str) -> str | None:
            verdict = gate.check(kind="data.tokenize", attributes={"paths": [real]})
            if verdict.outcome == "deny":
                return f"denied by policy ({', '.join(verdict.rule_ids)}): {verdict.reason}"
            return None

    info = ingest(
        IngestConfig(
            inputs=[Path(p) for p in args.paths],
            out=Path(args.out),
            tokenizer={"vocab_size": args.vocab_size, "path": args.tokenizer},
            actions=actions,
        ),
        progress=context.show_progress,
        admit=admit,
        admit_key=admit_key,
    )
    return IngestResult(
        out=args.out,
        files_seen=info.files.seen,
        files_kept=info.files.kept,
        train_tokens=info.splits["train"].tokens,
        valid_tokens=info.splits["valid"].tokens,
        findings=dict(info.findings),
    )


register(
    Tool(
        name="ingest",
        description="Scan, deduplicate and tokenize data into Megatron indexed datasets.",
        args=IngestArgs,
        result=IngestResult,
        fn=_ingest,
    )
)


# --------------------------------------------------------------------------------------------------- train
class TrainArgs(ToolArgs):
    config: dict[str, Any] = Field(description="a trainers.RunConfig as data")
    stall_timeout_s: float = Field(
        default=900,
        gt=0,
        description="stop the run if no step is logged for this long (Ray start-up included)",
    )

    @field_validator("config")
    @classmethod
    def _a_run_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """A step whose run config would not validate cannot be built (kept as data: the ledger's format)."""
        from trainers import RunConfig

        RunConfig.model_validate(config)
        return config


class TrainToolResult(BaseModel):
    run_dir: str
    final_step: int
    final_loss: float | None
    val_loss: float | None
    val_bpb: float | None
    wall_s: float
    resumed: bool
    parameters: int | None = None  # as the trainer counts them (trainers.param_counts)
    flops_per_token: float | None = None  # training FLOPs per token, as the trainer's MFU counts them


def _die_with_parent() -> None:
    """In the child: be killed when the agent dies (Linux), so a killed agent leaves no orphan training."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _train(args: TrainArgs, context: ToolContext) -> TrainToolResult:
    """Trains in a child process (``python -m trainers``) and watches it.

    The child keeps torch, Megatron and Ray out of the agent's process; the watchdog stops a run whose
    metrics.jsonl stops growing (a stall) so the agent can resume it. A run directory that already holds a
    run is resumed from its last checkpoint: a restarted agent never trains a step twice. A child started
    ahead for this run (``tools/_ahead.py``: its imports and Ray already done) is told to go instead of
    starting a new one; if it failed meanwhile, that failure is this call's (retryable) error.
    """
    import json
    import time

    from trainers import RunConfig, read_metrics
    from vibe.core.config import dump_yaml

    config = RunConfig.model_validate(args.config)
    run_dir = Path(config.out)
    resume = (run_dir / "metrics.jsonl").is_file() or (run_dir / "checkpoints").is_dir()
    spec = run_spec_path(args.config, context)
    ahead = take_ahead(spec)
    spec.parent.mkdir(parents=True, exist_ok=True)
    dump_yaml(config, spec)
    result_file = spec.with_suffix(".result.json")
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    if ahead is not None:
        problem = ahead.go(resume=resume, timeout_s=args.stall_timeout_s)
        if problem is not None:
            raise ToolError(
                f"the training process started ahead of this step failed before training ({problem}); "
                "a retry starts a new one",
                retryable=True,
            )
        child = ahead.child
    else:
        command = [sys.executable, "-m", "trainers", str(spec), "--result", str(result_file)]
        child = _spawn([*command, *(["--resume"] if resume else [])], show_progress=context.show_progress)
    _supervise(child, metrics=run_dir / "metrics.jsonl", stall_timeout_s=args.stall_timeout_s)
    records = read_metrics(run_dir / "metrics.jsonl")
    last = records[-1] if records else {}
    val = next((r for r in reversed(records) if "val_loss" in r), {})
    reported = json.loads(result_file.read_text()) if result_file.is_file() else {}
    return TrainToolResult(
        run_dir=str(run_dir),
        final_step=int(last.get("step", 0)),
        final_loss=last.get("loss"),
        val_loss=val.get("val_loss"),
        val_bpb=val.get("val_bpb"),
        wall_s=time.monotonic() - started,
        resumed=resume,
        parameters=reported.get("params_total"),
        flops_per_token=reported.get("flops_per_token"),
    )


def _spawn(command: list[str], *, show_progress: bool) -> subprocess.Popen[bytes]:
    """The training child, in its own session (so it and its Ray are killed together), dying with us."""
    env = {**os.environ, **({} if show_progress else {"VIBE_NO_PROGRESS": "1"})}
    return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_die_with_parent)


def _supervise(child: subprocess.Popen[bytes], *, metrics: Path, stall_timeout_s: float) -> None:
    """Watch the training child to its end; kill it (and its Ray) if ``metrics`` stops growing."""
    import time

    last_size, last_progress = -1, time.monotonic()
    try:
        while child.poll() is None:
            size = metrics.stat().st_size if metrics.is_file() else 0
            if size != last_size:
                last_size, last_progress = size, time.monotonic()
            elif time.monotonic() - last_progress > stall_timeout_s:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                raise ToolError(
                    f"training stalled: no step logged in {stall_timeout_s:.0f} s; stopped it ({metrics.parent})",
                    retryable=True,
                )
            time.sleep(0.2)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    if child.returncode != 0:
        raise ToolError(
            f"training exited with status {child.returncode}; see {metrics.parent}/logs/ (the agent resumes it "
            f"from its last checkpoint)",
            retryable=child.returncode != 2,  # 2: a configuration or data error, which a retry cannot fix
        )


register(
    Tool(
        name="train",
        description="Train a Megatron-core GPT under Ray from a run config.",
        args=TrainArgs,
        result=TrainToolResult,
        fn=_train,
    )
)


# ---------------------------------------------------------------------------------------------------- eval
class EvalArgs(ToolArgs):
    run_dir: str
    texts: list[str] = Field(default_factory=list)
    data: list[str] = Field(
        default_factory=list,
        description="dataset directories whose valid split is scored instead of the run's own (an imported "
        "base model has none: score it on its fine-tune's held-out split)",
    )
    suites: list[str] = Field(default_factory=lambda: ["heldout"], description="see tools.eval.SUITES")


class EvalToolResult(BaseModel):
    run_dir: str
    val_loss: float
    val_bpb: float
    texts: dict[str, dict[str, float]] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict, description="what release gates read")


def _eval(args: EvalArgs, context: ToolContext) -> EvalToolResult:
    from tools.eval import evaluate

    result = evaluate(
        Path(args.run_dir),
        texts=[Path(t) for t in args.texts],
        data=[Path(d) for d in args.data],
        suites=args.suites,
    )
    return EvalToolResult(
        metrics=result.metrics,
        run_dir=args.run_dir,
        val_loss=result.valid.loss,
        val_bpb=result.valid.bpb,
        texts={t.name: {"loss": t.loss, "bpb": t.bpb} for t in result.texts},
    )


register(
    Tool(
        name="eval",
        description="Held-out loss and bits per byte of a trained run, and the suites asked for (memorisation, code, policy).",
        args=EvalArgs,
        result=EvalToolResult,
        fn=_eval,
    )
)
