"""The post-training configuration: one typed config per component, composed into :class:`PostTrainConfig`.

A post-training run starts from a base run (a ``vibe train`` output, or a model imported into one) and trains
it on chat data (SFT), preference pairs (DPO) or prompts scored by the organisation's policy (RL). The model
is the base's; everything else (optimizer, batch, steps, parallel layout) is the post-training run's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from trainers import OptimizerConfig, ParallelConfig, RayConfig
from vibe.core.config import VibeConfig, load_config
from vibe.tracking import TrackingConfig

__all__ = [
    "DPOConfig",
    "GeneratorConfig",
    "PostTrainConfig",
    "PostTrainingConfig",
    "RLConfig",
    "load_posttrain_config",
]

Method = Literal["sft", "dpo", "rl"]


class PostTrainingConfig(VibeConfig):
    """Batch sizes, steps and intervals. SFT/DPO: batches of conversations or pairs. RL: ``global_batch_size``
    prompts per step, ``micro_batch_size`` completions per forward/backward."""

    micro_batch_size: int = Field(default=4, ge=1)
    global_batch_size: int = Field(default=8, ge=1)
    max_steps: int = Field(default=50, ge=1)
    log_interval: int = Field(default=1, ge=1)
    checkpoint_interval: int = Field(default=10, ge=0, description="0: only at the end")
    keep_checkpoints: int = Field(default=2, ge=1)
    seed: int = 1234
    seq_length: int | None = Field(default=None, ge=8, description="None: the base model's seq_length")
    pack: bool = Field(
        default=False, description="sft: pack conversations into full rows (no cross-attention)"
    )


class DPOConfig(VibeConfig):
    """Direct preference optimisation with the sigmoid loss: ``-log σ(β·((πc - rc) - (πr - rr)))``."""

    beta: float = Field(default=0.1, gt=0.0)


class GeneratorConfig(VibeConfig):
    """Who samples the rollouts: the trainer's own Megatron model in process, or a vLLM server."""

    kind: Literal["megatron", "vllm"] = "megatron"
    url: str | None = Field(default=None, description="vllm: the server's base URL (http://host:port)")
    model: str | None = Field(default=None, description="vllm: the served model name; None: the first one")
    sync: Literal["reload", "restart"] = Field(
        default="reload", description="vllm: reload_weights through /collective_rpc (dev mode), or restart"
    )
    timeout_s: float = Field(default=300.0, gt=0)


class RLConfig(VibeConfig):
    """GRPO-style RL against the rules of the policy files' ``alignment:`` sections."""

    policies: list[Path] = Field(
        default_factory=list, description="policy files whose alignment rules reward"
    )
    group_size: int = Field(default=4, ge=2, description="completions sampled per prompt")
    max_new_tokens: int = Field(default=32, ge=1)
    temperature: float = Field(default=1.0, gt=0.0)
    clip_eps: float = Field(default=0.2, gt=0.0, description="PPO clip range of the policy ratio")
    kl_coef: float = Field(default=0.0, ge=0.0, description="weight of the KL penalty to the base model")
    tis_cap: float = Field(default=2.0, ge=1.0, description="truncated importance sampling: max weight")
    ratio_alarm: tuple[float, float] = Field(
        default=(0.95, 1.05), description="warn when the mean trainer/generator probability ratio leaves it"
    )
    reward_workers: int = Field(default=2, ge=1, description="bounded pool for sandboxed reward checks")
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)


class PostTrainConfig(VibeConfig):
    """One post-training run: everything needed to reproduce it. Written to ``OUT/posttrain.yaml``."""

    method: Method
    base: Path = Field(description="the base run directory (its latest checkpoint is the start)")
    data: Path = Field(description="JSONL: messages (sft), prompt/chosen/rejected (dpo) or prompt (rl)")
    out: Path = Path("runs/posttrain")
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    optimizer: OptimizerConfig = Field(
        default_factory=lambda: OptimizerConfig(lr=1e-4, min_lr=1e-5, warmup_steps=0, weight_decay=0.0)
    )
    training: PostTrainingConfig = Field(default_factory=PostTrainingConfig)
    dpo: DPOConfig = Field(default_factory=DPOConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="MLflow experiment tracking")
    in_process: bool = Field(
        default=False, description="run in this process (world size 1 only, no Ray): tests and tiny runs"
    )

    @model_validator(mode="after")
    def _check(self) -> PostTrainConfig:
        t, p = self.training, self.parallel
        if self.method != "rl" and t.global_batch_size % (t.micro_batch_size * p.dp):
            raise ValueError(
                f"training.global_batch_size ({t.global_batch_size}) must be a multiple of "
                f"training.micro_batch_size * parallel.dp ({t.micro_batch_size} * {p.dp})"
            )
        if self.in_process and p.world_size != 1:
            raise ValueError("in_process: needs parallel.dp = parallel.tp = 1")
        if self.method == "rl" and p.world_size != 1:
            raise ValueError("parallel: rl trains on one worker (dp = tp = 1) in this version")
        return self

    @property
    def num_microbatches(self) -> int:
        t = self.training
        return t.global_batch_size // (t.micro_batch_size * self.parallel.dp)


def load_posttrain_config(path: Path | None = None, *, overrides: dict | None = None) -> PostTrainConfig:  # type: ignore[type-arg]
    """A PostTrainConfig from YAML (if given) with dotted ``overrides`` on top; raises ``ConfigError``."""
    return load_config(PostTrainConfig, path, overrides=overrides)
