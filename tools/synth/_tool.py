"""The agent tool ``synth``: verified synthetic samples from an ingested corpus (``tools.synth.synthesize``).

Runs in the agent's process (HTTP requests and sandboxed checks, no torch). The gate in the tool's context
(the agent's policy gate) is asked again by the generator itself (``llm.call`` for the endpoint,
``synth.generate`` for the generator and volume) before any request; every batch goes to the ledger in the
context (the agent's) under the calling thread; without one, nothing is recorded. Calling it again with the same arguments continues the
run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register

__all__ = ["SynthArgs", "SynthToolResult"]


class SynthArgs(ToolArgs):
    dataset: str = Field(description="an ingested dataset directory")
    out: str | None = Field(default=None, description="output directory; None: WORKDIR/synth/<dataset name>")
    templates: list[str] | None = Field(default=None, description="template names; None: every built-in one")
    samples: int = Field(default=100, ge=1, description="volume: candidate samples to generate")
    url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; None: $VIBE_LLM_URL or local"
    )
    model: str | None = None
    max_concurrency: int = Field(default=8, ge=1, le=256)


class SynthToolResult(BaseModel):
    out: str
    dataset: str | None = Field(description="the indexed dataset to blend in (None: nothing was kept)")
    samples_path: str
    report: str
    model: str
    candidates: int
    kept: int
    dropped: dict[str, int]
    samples_per_s: float
    tokens_per_s: float


def _synth(args: SynthArgs, context: ToolContext) -> SynthToolResult:
    from tools.synth._config import SynthConfig
    from tools.synth._run import synthesize
    from vibe.core.errors import UserError

    out = Path(args.out) if args.out else context.workdir / "synth" / Path(args.dataset).name
    data: dict[str, Any] = {
        "dataset": args.dataset,
        "out": str(out),
        "samples": args.samples,
        "max_concurrency": args.max_concurrency,
        "llm": {},
    }
    if args.templates:
        data["templates"] = args.templates
    if args.url:
        data["llm"]["url"] = args.url
    if args.model:
        data["llm"]["model"] = args.model
    try:
        config = SynthConfig.model_validate(data)
        result = synthesize(
            config,
            gate=context.gate,
            ledger=context.ledger,
            thread_id=context.thread_id,
            progress_bar=context.show_progress,
        )
    except (UserError, ValueError) as error:
        raise ToolError(f"synth: {error}") from None
    return SynthToolResult(
        out=str(result.out),
        dataset=str(result.dataset) if result.dataset else None,
        samples_path=str(result.samples_path),
        report=str(result.report_path),
        model=result.model,
        candidates=result.candidates,
        kept=result.kept,
        dropped=result.dropped,
        samples_per_s=result.samples_per_s,
        tokens_per_s=result.tokens_per_s,
    )


register(
    Tool(
        name="synth",
        description=(
            "Generate verified synthetic training samples (code explanations, docstrings, tests, API and "
            "document Q&A, summaries) from an ingested dataset with the served LLM; the output directory is "
            "a dataset to blend into training with a weight."
        ),
        args=SynthArgs,
        result=SynthToolResult,
        fn=_synth,
    )
)
