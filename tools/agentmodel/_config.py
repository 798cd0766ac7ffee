"""The settings of one tune of the agent's model: a typed config per stage, composed into TuneConfig.

The defaults are sized to finish within an hour on a 2-core CPU machine for SmolLM2-135M (see BENCHMARKS.md,
"the agent's own model"): one pass over ~650 SFT conversations (18-30 s per step of 8 at this seq_length),
then a few RL steps of 4 prompts.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from vibe.core.config import VibeConfig

__all__ = ["RLStage", "SFTStage", "TuneConfig"]


class SFTStage(VibeConfig):
    steps: int | None = Field(
        default=None, ge=0, description="optimizer steps (0: skip SFT; None: one pass over the conversations)"
    )
    global_batch_size: int = Field(default=8, ge=1)
    micro_batch_size: int = Field(default=4, ge=1)
    lr: float = Field(default=1e-4, gt=0)
    min_lr: float = Field(default=1e-5, gt=0)
    warmup_steps: int = Field(default=5, ge=0)
    checkpoint_interval: int = Field(default=10, ge=0, description="a killed run resumes from here")


class RLStage(VibeConfig):
    steps: int = Field(default=4, ge=0, description="RL steps (0: skip RL, export the SFT model)")
    prompts_per_step: int = Field(default=4, ge=1)
    group_size: int = Field(default=4, ge=2, description="completions per prompt")
    max_new_tokens: int = Field(default=160, ge=1, description="a draft is 110-155 tokens")
    temperature: float = Field(default=1.0, gt=0)
    lr: float = Field(default=1e-5, gt=0)
    checkpoint_interval: int = Field(default=2, ge=0)


class TuneConfig(VibeConfig):
    """One tune: from the base model (an HF directory) to an exported, verified and registered model."""

    base_model: Path | None = Field(default=None, description="HF directory; None: the agent's base SmolLM2")
    out: Path = Field(default=Path("runs/agent-model"), description="the work directory (stages inside)")
    seq_length: int = Field(
        default=400, ge=32,
        description="prompt + draft fit: measured 336 mean, 381 max; an RL prompt (<= 240) + max_new_tokens",
    )  # fmt: skip
    seed: int = 0
    examples: int = Field(
        default=640, ge=8, description="labelled requests generated for SFT (each seen once)"
    )
    rl_prompts: int = Field(default=100, ge=1, description="further requests, prompts of the RL stage")
    held_out: list[Path] = Field(
        default_factory=list,
        description="JSONL sets whose requests (and templates) training must not contain; [] means every "
        "bench/data/intake_*.jsonl",
    )
    paraphrases: int = Field(
        default=24,
        ge=0,
        description="grammar requests the served LLM is asked to reword (0: none; ~5 s each)",
    )
    paraphrase_url: str | None = Field(
        default=None, description="the LLM that rewords them; None: $VIBE_LLM_URL, else the default server"
    )
    sft: SFTStage = Field(default_factory=SFTStage)
    rl: RLStage = Field(default_factory=RLStage)
    make_agent_model: bool = Field(default=True, description="register the result as the agent's model")
