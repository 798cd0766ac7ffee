"""The typed config of one synthetic-data run: what to read, what to ask, how to check and where to write.

A run is a :class:`SynthConfig`; ``vibe synth`` builds one from its flags (or ``--config YAML``). The LLM
endpoint is a :class:`vibe.llm.LLMConfig` (url, model, timeouts, retries); how the model samples is
:class:`SamplingConfig`; what is kept is :class:`FilterConfig`, :class:`SynthDedupConfig` and
``decontamination_ngram``; how generated code runs is a :class:`sandbox.Limits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from vibe.core.config import VibeConfig
from vibe.llm import LLMConfig

__all__ = [
    "DEFAULT_TEMPLATES",
    "ChunkConfig",
    "FilterConfig",
    "SamplingConfig",
    "SynthConfig",
    "SynthDedupConfig",
    "VerifyLimits",
]

DEFAULT_TEMPLATES = [
    "code.explain",
    "code.docstring",
    "code.tests",
    "code.api_questions",
    "doc.qa",
    "doc.summary",
]


class ChunkConfig(VibeConfig):
    """How corpus documents are cut into the chunks a prompt is about."""

    max_chars: int = Field(3000, ge=200, le=200_000, description="longest chunk put in a prompt")
    min_chars: int = Field(80, ge=1, description="shorter chunks are not worth a request")
    seed: int = Field(0, ge=0, description="order in which chunks are visited")


class SamplingConfig(VibeConfig):
    """Sampling parameters sent with every request (recorded in each sample's provenance)."""

    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(512, ge=16, le=32_768)
    n: int = Field(1, ge=1, le=16, description="completions per request (each one a candidate sample)")
    seed: int | None = Field(None, description="server-side sampling seed, when the server supports it")


class FilterConfig(VibeConfig):
    """Length and quality filters applied to every generated text before verification."""

    min_chars: int = Field(40, ge=1)
    max_chars: int = Field(20_000, ge=1)
    min_alpha_fraction: float = Field(
        0.4, ge=0.0, le=1.0, description="share of letters/digits among non-space characters"
    )
    max_repeated_line_fraction: float = Field(
        0.5, gt=0.0, le=1.0, description="share of non-blank lines that repeat an earlier line"
    )

    @model_validator(mode="after")
    def _range(self) -> FilterConfig:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must not exceed max_chars ({self.max_chars})")
        return self


class SynthDedupConfig(VibeConfig):
    """Near-duplicate removal: MinHash LSH against the corpus's chunks and the samples kept before."""

    near_dup_threshold: float = Field(0.8, gt=0.0, le=1.0, description="Jaccard similarity; 1.0 disables")
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_words: int = Field(5, ge=1, le=32)


class VerifyLimits(VibeConfig):
    """Limits of each sandboxed verification run (see :class:`sandbox.Limits`)."""

    cpu_seconds: float = Field(20.0, gt=0)
    memory_mb: int = Field(1024, gt=0)
    processes: int = Field(64, gt=0)
    file_size_mb: int = Field(16, gt=0)
    wall_seconds: float = Field(60.0, gt=0)
    output_bytes: int = Field(65536, gt=0)
    scratch_mb: int = Field(64, gt=0)

    def sandbox_limits(self) -> Any:
        from sandbox import Limits

        return Limits(**self.model_dump())


class SynthConfig(VibeConfig):
    """One synthetic-data run: the ingested corpus ``dataset`` -> verified samples in ``out``."""

    dataset: Path = Field(description="an ingested dataset directory (`vibe data ingest` output)")
    out: Path = Field(description="directory for samples.jsonl, rejects.jsonl, the indexed dataset, report")
    templates: list[str] = Field(default_factory=lambda: list(DEFAULT_TEMPLATES), min_length=1)
    template_files: list[Path] = Field(
        default_factory=list, description="YAML files of extra templates (same format as the built-in ones)"
    )
    samples: int = Field(100, ge=1, description="volume: candidate samples to generate (requests x n)")
    llm: LLMConfig = Field(default_factory=LLMConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    max_concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    verify_concurrency: int = Field(2, ge=1, le=64, description="sandboxed verifications at once")
    chunks: ChunkConfig = Field(default_factory=ChunkConfig)
    filters: FilterConfig = Field(default_factory=FilterConfig)
    dedup: SynthDedupConfig = Field(default_factory=SynthDedupConfig)
    decontamination_ngram: int = Field(
        13,
        ge=3,
        le=64,
        description="a sample sharing any run of this many words with the valid split is dropped",
    )
    verify: VerifyLimits = Field(default_factory=VerifyLimits)
    valid_fraction: float = Field(
        0.05, ge=0.0, lt=1.0, description="share of kept samples in the valid split"
    )
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _volume(self) -> SynthConfig:
        if self.samples < self.sampling.n:
            raise ValueError(
                f"samples ({self.samples}) is fewer than sampling.n ({self.sampling.n}), the samples of one "
                "request; raise samples or lower sampling.n"
            )
        return self

    @field_validator("templates")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("a template is listed twice; list each once")
        return names
