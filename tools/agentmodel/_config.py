"""The settings of one tune of the agent's model: a typed config per stage, composed into TuneConfig.

The defaults are sized to finish within an hour on a 2-core CPU machine for SmolLM2-135M (see BENCHMARKS.md,
"the agent's own model"): a few hundred SFT conversations seen in all, then a few RL steps.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from vibe.core.config import VibeConfig

__all__ = ["RLStage", "SFTStage", "TuneConfig"]


class SFTStage(VibeConfig):
    steps: int = Field(default=60, ge=0, description="optimizer steps (0: skip SFT)")
    global_batch_size: int = Field(default=8, ge=1)
    micro_batch_size: int = Field(default=4, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    min_lr: float = Field(default=1e-5, gt=0)
    warmup_steps: int = Field(default=5, ge=0)
    checkpoint_interval: int = Field(default=10, ge=0, description="a killed run resumes from here")


class RLStage(VibeConfig):
    steps: int = Field(default=8, ge=0, description="RL steps (0: skip RL, export the SFT model)")
    prompts_per_step: int = Field(default=2, ge=1)
    group_size: int = Field(default=4, ge=2, description="completions per prompt")
    max_new_tokens: int = Field(default=96, ge=1, description="a draft is ~70 tokens")
    temperature: float = Field(default=1.0, gt=0)
    lr: float = Field(default=1e-5, gt=0)
    checkpoint_interval: int = Field(default=2, ge=0)


class TuneConfig(VibeConfig):
    """One tune: from the base model (an HF directory) to an exported, verified and registered model."""

    base_model: Path | None = Field(default=None, description="HF directory; None: the agent's base SmolLM2")
    out: Path = Field(default=Path("runs/agent-model"), description="the work directory (stages inside)")
    seq_length: int = Field(
        default=384, ge=32, description="prompt + draft fit (zero-shot prompt ~180 tokens)"
    )
    seed: int = 0
    examples: int = Field(default=1200, ge=8, description="labelled requests generated for SFT")
    rl_prompts: int = Field(default=200, ge=1, description="further requests, prompts of the RL stage")
    held_out: list[Path] = Field(
        default_factory=list,
        description="JSONL sets whose requests (and templates) training must not contain",
    )
    sft: SFTStage = Field(default_factory=SFTStage)
    rl: RLStage = Field(default_factory=RLStage)
    make_agent_model: bool = Field(default=True, description="register the result as the agent's model")
