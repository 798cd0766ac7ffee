"""Models in and out, judged and recorded: ``import_base_model`` and ``export_model``.

Each asks the gate first (``model.import`` with the source path and its HF architecture; ``model.convert``
with the run and output paths: a conversion inside the network, which is not ``model.export``), records the
gate's decision and then the conversion's result (architecture, verification figures, the sha256 of every
file read and written) in the ledger, and leaves the full record beside the output
(``import.json`` / ``export.json``). A GGUF source is first dequantized by the GGUF converter Vibe uses for
its own LLM (``vibe.llm.convert_gguf``), into ``OUT.gguf-hf`` beside the output.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import Gate
from vibe.core.errors import UserError

if TYPE_CHECKING:  # trainers.hf imports torch: only inside the functions
    from trainers.hf import ConversionResult
    from vibe.ledger import Ledger

__all__ = ["export_model", "import_base_model"]

log = logging.getLogger(__name__)


def _judge(
    gate: Gate | None, ledger: Ledger | None, thread_id: str, kind: str, attrs: dict[str, Any]
) -> None:
    if gate is None:
        return
    decision = gate.check(kind=kind, attributes=attrs)
    _record(
        ledger,
        thread_id,
        actor="policy",
        kind="gate",
        action=kind,
        inputs=attrs,
        outcome=decision.outcome,
        reason=decision.reason,
        rule_ids=list(decision.rule_ids),
        policy_hashes=dict(decision.policy_hashes),
    )
    if decision.outcome != "allow":
        rules = ", ".join(decision.rule_ids) or "default"
        raise UserError(f"{kind}: {decision.outcome} by policy ({rules}): {decision.reason}")


def _record(ledger: Ledger | None, thread_id: str, *, inputs: Any, **fields: Any) -> None:
    if ledger is None:
        return
    from vibe.ledger import Record, digest

    ledger.append(Record(thread_id=thread_id, inputs_hash=digest(inputs), **fields))


def _summary(result: ConversionResult) -> dict[str, Any]:
    record = result.record
    v = record["verification"]
    logits = v["logits"]
    return {
        "out": str(result.out),
        "record": str(result.record_path),
        "architecture": record["architecture"],
        "verification_ok": v["ok"],
        "round_trip_bit_exact": v["round_trip"]["bit_exact"],
        "round_trip_tensors": v["round_trip"]["tensors"],
        "logits_max_abs_diff": logits.get("max_abs_diff"),
        "logits_top1_agreement": logits.get("top1_agreement"),
        "files": record.get("source_files") or record.get("files"),
        "out_files": record.get("out_files"),
    }


def import_base_model(
    src: str | Path,
    out: str | Path,
    *,
    seq_length: int | None = None,
    gate: Gate | None = None,
    ledger: Ledger | None = None,
    thread_id: str = "cli-model",
) -> ConversionResult:
    """An HF directory or a GGUF file -> a trainer run directory (``trainers.hf.import_model``)."""
    from trainers.hf import import_model, read_hf_config, sha256_file

    src, out = Path(src).resolve(), Path(out).resolve()
    if not src.exists():
        raise UserError(f"{src}: no such model directory or GGUF file")
    gguf = src if src.is_file() and src.suffix == ".gguf" else None
    if src.is_file() and gguf is None:
        raise UserError(f"{src}: a file, but not a .gguf; give an HF model directory or a GGUF file")
    if gguf is not None:  # the path is judged before anything reads it
        _judge(gate, ledger, thread_id, "model.import", {"paths": [str(src)], "source_architecture": "gguf"})
        from vibe.llm import convert_gguf

        hf_dir = out.with_name(f"{out.name}.gguf-hf")
        shutil.rmtree(hf_dir, ignore_errors=True)
        convert_gguf(gguf, hf_dir)
        source = hf_dir
    else:
        source = src
    arch = read_hf_config(source).architecture  # refuses unsupported architectures and options by field
    _judge(gate, ledger, thread_id, "model.import", {"paths": [str(src)], "source_architecture": arch})
    try:
        result = import_model(source, out, seq_length=seq_length)
    except UserError as error:
        _record(
            ledger,
            thread_id,
            actor="tool",
            kind="error",
            action="model.import",
            inputs=str(src),
            reason=str(error),
        )
        raise
    if gguf is not None:
        result.record["gguf"] = {"path": str(gguf), "sha256": sha256_file(gguf)}
        from trainers.hf import write_record

        write_record(result.record_path, result.record)
    _record(
        ledger,
        thread_id,
        actor="tool",
        kind="tool_result",
        action="model.import",
        inputs={"src": str(src), "out": str(out)},
        outputs=_summary(result),
        outcome="ok",
        reason=f"imported {arch} from {src}",
    )
    return result


def export_model(
    run: str | Path,
    out: str | Path,
    *,
    gate: Gate | None = None,
    ledger: Ledger | None = None,
    thread_id: str = "cli-model",
) -> ConversionResult:
    """A run (any layout) -> an HF directory inside the network (``trainers.hf.export_run``)."""
    from trainers.hf import export_run

    run, out = Path(run).resolve(), Path(out).resolve()
    _judge(gate, ledger, thread_id, "model.convert", {"paths": [str(run), str(out)]})
    try:
        result = export_run(run, out)
    except UserError as error:
        _record(
            ledger,
            thread_id,
            actor="tool",
            kind="error",
            action="model.convert",
            inputs=str(run),
            reason=str(error),
        )
        raise
    _record(
        ledger,
        thread_id,
        actor="tool",
        kind="tool_result",
        action="model.convert",
        inputs={"run": str(run), "out": str(out)},
        outputs=_summary(result),
        outcome="ok",
        reason=f"exported {run} as {result.record['architecture']}",
    )
    return result
