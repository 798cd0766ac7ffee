"""The agent tool ``posttrain``: SFT, DPO or RL from a base run, gated and recorded like a training run.

Runs in the agent's process (the workers run under Ray); the gate in the tool's context judges it as
``train.run`` before anything starts, and the ledger in the context (``context.ledger``; None: nothing is
recorded) records the decision, the run and, for RL, the policy files and the alignment rule set (by hash). Calling it again with the same
arguments resumes the run from its last checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register

__all__ = ["PostTrainArgs", "PostTrainToolResult", "posttrain_config"]


class PostTrainArgs(ToolArgs):
    method: Literal["sft", "dpo", "rl"]
    base: str = Field(description="the base run directory (a `vibe train` or post-training output)")
    data: str = Field(description="JSONL: messages (sft), prompt/chosen/rejected (dpo), prompt (rl)")
    out: str = Field(description="the new run directory")
    policies: list[str] = Field(default_factory=list, description="rl: policy files with alignment: rules")
    max_steps: int = Field(default=50, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    global_batch_size: int = Field(
        default=8, ge=1, description="conversations, pairs or (rl) prompts per step"
    )
    micro_batch_size: int = Field(default=4, ge=1)
    beta: float = Field(default=0.1, gt=0, description="dpo: the sigmoid loss's beta")
    group_size: int = Field(default=4, ge=2, description="rl: completions per prompt")
    max_new_tokens: int = Field(default=32, ge=1, description="rl: completion length")
    kl_coef: float = Field(default=0.0, ge=0, description="rl: KL penalty to the base")
    dp: int = Field(default=1, ge=1, description="sft/dpo: data parallel size")
    tp: int = Field(default=1, ge=1, description="sft/dpo: tensor parallel size")


class PostTrainToolResult(BaseModel):
    run_dir: str
    method: str
    final_step: int
    final_loss: float | None = None
    first_reward: float | None = None
    last_reward: float | None = None
    report: str
    resumed: bool


def posttrain_config(args: PostTrainArgs) -> Any:
    """The ``trainers.posttrain.PostTrainConfig`` the tool runs for ``args`` (a ValueError if it is invalid)."""
    from trainers.posttrain import PostTrainConfig

    return PostTrainConfig.model_validate(
        {
            "method": args.method, "base": args.base, "data": args.data, "out": args.out,
            "parallel": {"dp": args.dp, "tp": args.tp},
            "optimizer": {"lr": args.lr, "min_lr": args.lr / 10, "warmup_steps": 0, "weight_decay": 0.0},
            "training": {"max_steps": args.max_steps, "global_batch_size": args.global_batch_size, "micro_batch_size": args.micro_batch_size},
            "dpo": {"beta": args.beta},
            "rl": {"policies": args.policies, "group_size": args.group_size, "max_new_tokens": args.max_new_tokens, "kl_coef": args.kl_coef},
        }
    )  # fmt: skip


def _posttrain(args: PostTrainArgs, context: ToolContext) -> PostTrainToolResult:
    from tools.posttrain._run import run_posttrain
    from vibe.core.errors import UserError

    out = Path(args.out)
    resume = (out / "metrics.jsonl").is_file() or (out / "checkpoints").is_dir()
    try:
        result = run_posttrain(
            posttrain_config(args), resume=resume, gate=context.gate, ledger=context.ledger,
            thread_id=context.thread_id,
        )  # fmt: skip
    except (UserError, ValueError) as error:
        raise ToolError(f"posttrain: {error}") from None
    return PostTrainToolResult(
        run_dir=str(result.run_dir),
        method=args.method,
        final_step=result.final_step,
        final_loss=getattr(result, "final_loss", None),
        first_reward=getattr(result, "first_reward", None),
        last_reward=getattr(result, "last_reward", None),
        report=str(result.report),
        resumed=resume,
    )


register(
    Tool(
        name="posttrain",
        description=(
            "Post-train a base run: sft on chat data, dpo on preference pairs, or rl against the alignment "
            "rules of the policy files (rewards per rule); resumable, gated like a training run."
        ),
        args=PostTrainArgs,
        result=PostTrainToolResult,
        fn=_posttrain,
    )
)
