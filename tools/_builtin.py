"""The built-in tools the agent calls, each a typed wrapper around a package that also has a CLI.

Heavy imports (torch, Megatron, Ray) happen inside the functions, so importing ``tools`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tools._profile import ProfileArgs, ProfileResult, profile
from tools._registry import Tool, ToolContext, ToolError, register
from vibe.errors import UserError

__all__ = ["EvalArgs", "EvalToolResult", "IngestArgs", "IngestResult", "TrainArgs", "TrainToolResult"]


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


# -------------------------------------------------------------------------------------------------- ingest
class IngestArgs(BaseModel):
    paths: list[str] = Field(min_length=1)
    out: str
    vocab_size: int = Field(default=8192, ge=300)


class IngestResult(BaseModel):
    out: str
    files_seen: int
    files_kept: int
    train_tokens: int
    valid_tokens: int
    findings: dict[str, int]


def _ingest(args: IngestArgs, context: ToolContext) -> IngestResult:
    from tools.data import IngestConfig, ingest

    info = ingest(
        IngestConfig(
            inputs=[Path(p) for p in args.paths], out=Path(args.out), tokenizer={"vocab_size": args.vocab_size}
        ),
        progress=context.show_progress,
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
class TrainArgs(BaseModel):
    config: dict[str, Any] = Field(description="a trainers.RunConfig as data")


class TrainToolResult(BaseModel):
    run_dir: str
    final_step: int
    final_loss: float | None
    val_loss: float | None
    val_bpb: float | None
    wall_s: float
    resumed: bool


def _train(args: TrainArgs, context: ToolContext) -> TrainToolResult:
    from trainers import RunConfig, launch

    config = RunConfig.model_validate(args.config)
    # A restarted agent continues a run it had started (from its last checkpoint) instead of training twice.
    resume = (config.out / "metrics.jsonl").is_file() or (config.out / "checkpoints").is_dir()
    try:
        result = launch(config, resume=resume)
    except UserError as error:  # a crashed or killed worker is worth resuming; a bad config is not
        raise ToolError(str(error), retryable=str(error).startswith("training failed")) from error
    return TrainToolResult(
        run_dir=str(config.out),
        final_step=result.final_step,
        final_loss=result.final_loss,
        val_loss=result.val_loss,
        val_bpb=result.val_bpb,
        wall_s=result.wall_time_s,
        resumed=resume,
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
class EvalArgs(BaseModel):
    run_dir: str
    texts: list[str] = Field(default_factory=list)


class EvalToolResult(BaseModel):
    run_dir: str
    val_loss: float
    val_bpb: float
    texts: dict[str, dict[str, float]] = Field(default_factory=dict)


def _eval(args: EvalArgs, context: ToolContext) -> EvalToolResult:
    from tools.eval import evaluate

    result = evaluate(Path(args.run_dir), texts=[Path(t) for t in args.texts])
    return EvalToolResult(
        run_dir=args.run_dir,
        val_loss=result.valid.loss,
        val_bpb=result.valid.bpb,
        texts={t.name: {"loss": t.loss, "bpb": t.bpb} for t in result.texts},
    )


register(
    Tool(
        name="eval",
        description="Held-out loss and bits per byte of a trained run.",
        args=EvalArgs,
        result=EvalToolResult,
        fn=_eval,
    )
)
