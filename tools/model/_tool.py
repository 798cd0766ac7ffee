"""The agent tools ``model_import`` and ``model_export`` (see :mod:`tools.model._run`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolArgs, ToolContext, register
from vibe.ledger import Ledger

__all__ = ["ModelIOArgs", "ModelIOResult"]


class ModelIOArgs(ToolArgs):
    src: str = Field(
        description="model_import: an HF model directory or a .gguf; model_export: a run directory"
    )
    out: str | None = Field(default=None, description="output directory; None: WORKDIR/models/<name>")
    seq_length: int | None = Field(default=None, ge=8, description="model_import: training sequence length")


class ModelIOResult(BaseModel):
    out: str
    record: str = Field(description="import.json / export.json: hashes and verification")
    architecture: str
    round_trip_bit_exact: bool
    logits_max_abs_diff: float | None
    logits_top1_agreement: float | None


def _result(result: object) -> ModelIOResult:
    record = result.record  # type: ignore[attr-defined]
    logits = record["verification"]["logits"]
    return ModelIOResult(
        out=str(result.out),  # type: ignore[attr-defined]
        record=str(result.record_path),  # type: ignore[attr-defined]
        architecture=record["architecture"],
        round_trip_bit_exact=record["verification"]["round_trip"]["bit_exact"],
        logits_max_abs_diff=logits.get("max_abs_diff"),
        logits_top1_agreement=logits.get("top1_agreement"),
    )


@contextmanager
def _ledger(context: ToolContext) -> Iterator[Ledger]:
    """The agent's ledger (``context.ledger``); without one, the work directory's own."""
    if context.ledger is not None:
        yield context.ledger
        return
    from vibe.ledger import SqliteLedger

    with SqliteLedger(context.workdir / "ledger.sqlite") as ledger:
        yield ledger


def _import(args: ModelIOArgs, context: ToolContext) -> ModelIOResult:
    from tools.model._run import import_base_model

    out = Path(args.out) if args.out else context.workdir / "models" / Path(args.src).stem
    with _ledger(context) as ledger:
        result = import_base_model(
            args.src,
            out,
            seq_length=args.seq_length,
            gate=context.gate,
            ledger=ledger,
            thread_id=context.thread_id,
        )
    return _result(result)


def _export(args: ModelIOArgs, context: ToolContext) -> ModelIOResult:
    from tools.model._run import export_model

    out = Path(args.out) if args.out else context.workdir / "exports" / Path(args.src).name
    with _ledger(context) as ledger:
        result = export_model(args.src, out, gate=context.gate, ledger=ledger, thread_id=context.thread_id)
    return _result(result)


register(
    Tool(
        name="model_import",
        description=(
            "Import a base model (an HF Llama/Mistral/Qwen2/Mixtral directory or a GGUF file) as a Megatron "
            "checkpoint with its tokenizer, verified against transformers; train from it with init_from."
        ),
        args=ModelIOArgs,
        result=ModelIOResult,
        fn=_import,
    )
)
register(
    Tool(
        name="model_export",
        description="Export a training run as a verified Hugging Face directory that vLLM can serve.",
        args=ModelIOArgs,
        result=ModelIOResult,
        fn=_export,
    )
)
