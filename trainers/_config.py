"""The run configuration: one typed config per component, composed into :class:`RunConfig` (torchtitan style).

A run is a ``RunConfig`` object (loadable from YAML with :func:`load_run_config`), never a bag of flags.
Each component config validates its own fields; :class:`RunConfig` validates what spans components
(tp divides the heads, ep divides the experts and dp, the global batch splits into micro batches) and names
the exact field in its error, e.g. ``parallel.tp: got 3; must divide model.num_attention_heads (4)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from trainers._arithmetic import flops_per_token, param_counts
from vibe.core.config import VibeConfig, load_config
from vibe.tracking import TrackingConfig

__all__ = [
    "MODEL_PRESETS",
    "DataConfig",
    "DataSource",
    "ModelConfig",
    "OptimizerConfig",
    "ParallelConfig",
    "RayConfig",
    "RopeScaling",
    "RunConfig",
    "TrainingConfig",
    "load_run_config",
]

# name -> (num_layers, hidden_size, num_attention_heads, seq_length)
MODEL_PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (2, 64, 4, 64),  # ~0.1M params + embeddings: tests and smoke runs
    "small": (6, 384, 6, 256),  # ~11M: a laptop / CPU experiment
    "base": (12, 768, 12, 1024),  # GPT-2 small, ~85M + embeddings
    "medium": (24, 1024, 16, 1024),  # GPT-2 medium, ~300M + embeddings
    "large": (24, 2048, 16, 2048),  # ~1.2B + embeddings: one 8-GPU node
}


def _fail(model: str, loc: tuple[str, ...], given: Any, message: str) -> ValidationError:
    """A validation error placed at ``loc`` (so ConfigError names that field, not the whole model)."""
    error = PydanticCustomError("value_error", message)  # type: ignore[call-arg]
    return ValidationError.from_exception_data(model, [InitErrorDetails(type=error, loc=loc, input=given)])


class RopeScaling(VibeConfig):
    """RoPE scaling that Megatron computes exactly as Hugging Face does (anything else is refused).

    ``linear``: positions divided by ``factor``. ``llama3``: Llama 3.1's frequency-dependent scaling, which
    Megatron implements with ``low_freq_factor`` 1, ``high_freq_factor`` 4 and 8192 original positions only.
    """

    type: Literal["linear", "llama3"]
    factor: float = Field(gt=0.0)
    low_freq_factor: float = 1.0
    high_freq_factor: float = 4.0
    original_max_position_embeddings: int = 8192

    @model_validator(mode="after")
    def _check(self) -> RopeScaling:
        if self.type == "llama3":
            for name, megatron in (
                ("low_freq_factor", 1.0),
                ("high_freq_factor", 4.0),
                ("original_max_position_embeddings", 8192),
            ):
                if getattr(self, name) != megatron:
                    raise _fail(
                        "RopeScaling",
                        (name,),
                        getattr(self, name),
                        f"Megatron's llama3 RoPE scaling is fixed at {name}={megatron}; this value cannot be "
                        "carried exactly",
                    )
        return self


class ModelConfig(VibeConfig):
    """A GPT: a preset name, or explicit sizes (explicit fields override the preset's).

    The defaults describe Vibe's own models; an imported Hugging Face model (``trainers.hf``) sets the rest:
    grouped-query attention (``num_query_groups``), a head size other than hidden / heads (``kv_channels``),
    its RoPE base and scaling, RMSNorm epsilon, QKV biases (Qwen2) and its vocabulary size.
    """

    preset: str | None = "tiny"
    num_layers: int = Field(default=0, ge=0, description="0: from the preset")
    hidden_size: int = Field(default=0, ge=0)
    num_attention_heads: int = Field(default=0, ge=0)
    num_query_groups: int | None = Field(
        default=None, ge=1, description="key/value heads (GQA); None: one per attention head"
    )
    kv_channels: int | None = Field(default=None, ge=1, description="head size; None: hidden / heads")
    ffn_hidden_size: int | None = Field(
        default=None, ge=1, description="None: 4h, or 8h/3 (to 64) for SwiGLU"
    )
    seq_length: int = Field(default=0, ge=0)
    max_position_embeddings: int | None = Field(
        default=None, ge=1, description="positions the model supports (exported as such); None: seq_length"
    )
    swiglu: bool = True
    rotary_base: float = Field(default=10000, gt=0.0)
    rope_scaling: RopeScaling | None = None
    norm_epsilon: float = Field(default=1e-5, gt=0.0, description="RMSNorm epsilon")
    qkv_bias: bool = Field(default=False, description="biases on the Q, K, V projections (Qwen2)")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    init_method_std: float = Field(default=0.02, gt=0.0)
    tie_embeddings: bool = False
    vocab_size: int | None = Field(
        default=None, ge=1, description="the model's vocabulary; None: the tokenizer's"
    )
    make_vocab_size_divisible_by: int = Field(
        default=1, ge=1, description="embedding rows are padded to a multiple of this (Megatron's 128)"
    )
    num_experts: int | None = Field(default=None, ge=2, description="None: dense MLP")
    moe_router_topk: int = Field(default=2, ge=1)
    moe_aux_loss_coeff: float = Field(default=1e-2, ge=0.0)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        if preset is None:
            return data
        if preset not in MODEL_PRESETS:
            raise _fail(
                "ModelConfig",
                ("preset",),
                preset,
                f"unknown preset; choose one of {', '.join(MODEL_PRESETS)} or set the sizes explicitly",
            )
        names = ("num_layers", "hidden_size", "num_attention_heads", "seq_length")
        return {
            **{n: v for n, v in zip(names, MODEL_PRESETS[preset], strict=True)},
            **{k: v for k, v in data.items() if not (k in names and not v)},
        }

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        for name in ("num_layers", "hidden_size", "num_attention_heads", "seq_length"):
            if getattr(self, name) <= 0:
                raise _fail("ModelConfig", (name,), getattr(self, name), "must be > 0 (or set model.preset)")
        if self.kv_channels is None and self.hidden_size % self.num_attention_heads:
            raise _fail(
                "ModelConfig",
                ("hidden_size",),
                self.hidden_size,
                f"must be divisible by num_attention_heads ({self.num_attention_heads}) unless "
                "model.kv_channels is set",
            )
        if self.num_attention_heads % self.query_groups:
            raise _fail(
                "ModelConfig",
                ("num_query_groups",),
                self.num_query_groups,
                f"must divide num_attention_heads ({self.num_attention_heads})",
            )
        if self.num_experts is not None and self.moe_router_topk > self.num_experts:
            raise _fail(
                "ModelConfig",
                ("moe_router_topk",),
                self.moe_router_topk,
                f"must be <= num_experts ({self.num_experts})",
            )
        return self

    @property
    def query_groups(self) -> int:
        return self.num_query_groups or self.num_attention_heads

    @property
    def head_dim(self) -> int:
        return self.kv_channels or self.hidden_size // self.num_attention_heads

    def padded_vocab_size(self, tokenizer_vocab: int) -> int:
        """Embedding rows: ``vocab_size`` (or the tokenizer's) rounded up to ``make_vocab_size_divisible_by``."""
        vocab = self.vocab_size or tokenizer_vocab
        if vocab < tokenizer_vocab:
            raise ValueError(
                f"model.vocab_size: {vocab} is smaller than the tokenizer's vocabulary ({tokenizer_vocab})"
            )
        return -(-vocab // self.make_vocab_size_divisible_by) * self.make_vocab_size_divisible_by

    @property
    def ffn_size(self) -> int:
        if self.ffn_hidden_size is not None:
            return self.ffn_hidden_size
        if self.swiglu:  # same parameter count as a 4h GELU MLP, rounded up to a multiple of 64
            return -(-(8 * self.hidden_size // 3) // 64) * 64
        return 4 * self.hidden_size

    def param_counts(self, *, vocab_size: int) -> tuple[int, int]:
        """(total, active per token) parameters of this model (see :mod:`trainers._arithmetic`)."""
        return param_counts(**self._sizes(), vocab_size=self.embedding_rows(vocab_size))

    def flops_per_token(self, *, vocab_size: int) -> float:
        """Training FLOPs per token of this model (see :mod:`trainers._arithmetic`)."""
        return flops_per_token(
            **self._sizes(), seq_length=self.seq_length, vocab_size=self.embedding_rows(vocab_size)
        )

    def embedding_rows(self, vocab_size: int) -> int:
        """The embedding's rows for a tokenizer of ``vocab_size``: the model's vocabulary (its own, else
        the tokenizer's), padded (:meth:`padded_vocab_size`)."""
        return self.padded_vocab_size(self.vocab_size or vocab_size)

    def _sizes(self) -> dict[str, Any]:
        return {
            "num_layers": self.num_layers,
            "hidden_size": self.hidden_size,
            "ffn_size": self.ffn_size,
            "swiglu": self.swiglu,
            "num_experts": self.num_experts,
            "moe_router_topk": self.moe_router_topk,
            "tie_embeddings": self.tie_embeddings,
            "num_attention_heads": self.num_attention_heads,
            "num_query_groups": self.num_query_groups,
            "head_dim": self.head_dim,
            "qkv_bias": self.qkv_bias,
        }


class ParallelConfig(VibeConfig):
    """How the world is split: world size = dp * tp (* pp, which is 1). Experts are split over ep ranks."""

    dp: int = Field(default=1, ge=1, description="data parallel size")
    tp: int = Field(default=1, ge=1, description="tensor parallel size")
    ep: int = Field(default=1, ge=1, description="expert parallel size (MoE only)")
    pp: Literal[1] = 1

    @property
    def world_size(self) -> int:
        return self.dp * self.tp * self.pp


class OptimizerConfig(VibeConfig):
    """AdamW with linear warmup, then cosine decay or WSD (warmup-stable-decay) to ``min_lr``."""

    lr: float = Field(default=1e-3, gt=0.0)
    min_lr: float = Field(default=1e-4, ge=0.0)
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0)
    beta2: float = Field(default=0.95, ge=0.0, lt=1.0)
    eps: float = Field(default=1e-8, gt=0.0)
    weight_decay: float = Field(default=0.1, ge=0.0)
    warmup_steps: int = Field(default=10, ge=0)
    schedule: Literal["cosine", "wsd"] = "cosine"
    wsd_decay_fraction: float = Field(default=0.2, gt=0.0, le=1.0, description="wsd: last fraction decays")
    clip_grad: float = Field(default=1.0, ge=0.0, description="0 disables clipping")

    @model_validator(mode="after")
    def _check(self) -> OptimizerConfig:
        if self.min_lr > self.lr:
            raise _fail("OptimizerConfig", ("min_lr",), self.min_lr, f"must be <= lr ({self.lr})")
        return self


class TrainingConfig(VibeConfig):
    """Batch sizes, step counts and intervals. ``global_batch_size`` is in sequences across all DP ranks."""

    micro_batch_size: int = Field(default=8, ge=1)
    global_batch_size: int = Field(default=16, ge=1)
    max_steps: int = Field(default=100, ge=1, le=10**9)
    log_interval: int = Field(default=1, ge=1)
    eval_interval: int = Field(default=50, ge=0, description="0: only at the end")
    eval_iters: int | None = Field(default=10, ge=1, description="batches per eval; None: the full split")
    checkpoint_interval: int = Field(default=50, ge=0, description="0: only at the end")
    keep_checkpoints: int = Field(default=2, ge=1)
    seed: int = 1234
    compile: bool = Field(
        default=False,
        description="torch.compile each transformer layer (and the loss on CPU): measured on CPU, 5-8% less "
        "forward + backward time, 3-4% per whole step, after 15-100 s of compilation on 2 cores (cached on disk "
        "for the same shapes) in a warm-up step before the first, reported as compile_s",
    )


class DataSource(VibeConfig):
    """One dataset directory (written by ``vibe data ingest``) and its weight in the blend."""

    path: Path
    weight: float = Field(default=1.0, gt=0.0)


class DataConfig(VibeConfig):
    """Dataset directories blended by weight; they must share one tokenizer."""

    sources: list[DataSource] = Field(default_factory=list)
    cache_dir: Path | None = Field(default=None, description="Megatron index cache; None: RUN_DIR/cache")


class RayConfig(VibeConfig):
    """Where the workers run: an embedded local Ray (address None), or an existing cluster."""

    address: str | None = Field(default=None, description="None: $RAY_ADDRESS, else a local Ray")
    num_workers: int | None = Field(default=None, ge=1, description="None: parallel.world_size")
    cpus_per_worker: float | None = Field(default=None, gt=0, description="None: local cores / workers")
    use_gpu: bool | None = Field(default=None, description="None: when device resolves to cuda")

    def resolved_address(self) -> str | None:
        return self.address or os.environ.get("RAY_ADDRESS") or None


class RunConfig(VibeConfig):
    """One training run: everything needed to reproduce it. Written to ``RUN_DIR/config.yaml``."""

    out: Path = Path("runs/run")
    model: ModelConfig = Field(default_factory=ModelConfig)
    parallel: ParallelConfig = Field(default_factory=ParallelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = Field(default="auto", description="auto: fp32 CPU, bf16 GPU")
    peak_flops: float | None = Field(default=None, gt=0, description="per worker; None: measured / known GPU")
    tracking: TrackingConfig = Field(default_factory=TrackingConfig, description="MLflow experiment tracking")
    init_from: Path | None = Field(
        default=None, description="start from this run's (or imported model's) weights; fresh optimizer"
    )

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        m, p, t = self.model, self.parallel, self.training
        if m.num_attention_heads % p.tp:
            raise _fail(
                "RunConfig",
                ("parallel", "tp"),
                p.tp,
                f"must divide model.num_attention_heads ({m.num_attention_heads}); "
                f"choose tp in {_divisors(m.num_attention_heads)}",
            )
        if m.query_groups % p.tp:
            raise _fail(
                "RunConfig",
                ("parallel", "tp"),
                p.tp,
                f"must divide model.num_query_groups ({m.query_groups}); choose tp in {_divisors(m.query_groups)}",
            )
        if m.ffn_size % p.tp:
            raise _fail("RunConfig", ("parallel", "tp"), p.tp, f"must divide the FFN size ({m.ffn_size})")
        if m.num_experts is None and p.ep != 1:
            raise _fail(
                "RunConfig", ("parallel", "ep"), p.ep, "must be 1 for a dense model (set model.num_experts)"
            )
        if m.num_experts is not None:
            if p.tp != 1:
                raise _fail(
                    "RunConfig",
                    ("parallel", "tp"),
                    p.tp,
                    "must be 1 for MoE (Megatron needs sequence parallelism, hence TransformerEngine, for MoE "
                    "under TP); spread the experts with parallel.ep instead",
                )
            if m.num_experts % p.ep:
                raise _fail(
                    "RunConfig",
                    ("parallel", "ep"),
                    p.ep,
                    f"must divide model.num_experts ({m.num_experts}); choose ep in {_divisors(m.num_experts)}",
                )
            if (p.dp * p.tp) % p.ep:
                raise _fail(
                    "RunConfig",
                    ("parallel", "ep"),
                    p.ep,
                    f"must divide dp*tp ({p.dp * p.tp}): experts are spread over the data-parallel ranks",
                )
        if t.global_batch_size % (t.micro_batch_size * p.dp):
            raise _fail(
                "RunConfig",
                ("training", "global_batch_size"),
                t.global_batch_size,
                f"must be a multiple of training.micro_batch_size * parallel.dp "
                f"({t.micro_batch_size} * {p.dp} = {t.micro_batch_size * p.dp})",
            )
        if self.ray.num_workers is not None and self.ray.num_workers != p.world_size:
            raise _fail(
                "RunConfig",
                ("ray", "num_workers"),
                self.ray.num_workers,
                f"must equal parallel.dp * parallel.tp ({p.world_size}) or be left unset",
            )
        if self.device == "cpu" and self.precision == "bf16":
            raise _fail(
                "RunConfig", ("precision",), self.precision, "bf16 needs device cuda; use fp32 on CPU"
            )
        return self

    @property
    def num_microbatches(self) -> int:
        t = self.training
        return t.global_batch_size // (t.micro_batch_size * self.parallel.dp)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def load_run_config(path: Path | None = None, *, overrides: dict[str, Any] | None = None) -> RunConfig:
    """A RunConfig from YAML (if given) with dotted ``overrides`` on top; raises ``ConfigError``."""
    return load_config(RunConfig, path, overrides=overrides)
