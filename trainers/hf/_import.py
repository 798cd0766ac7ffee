"""``import_model``: an HF model directory -> a trainer run directory that evaluates, exports and starts runs.

Output (``OUT``)::

    config.yaml                       a RunConfig whose ``model`` section is the imported model (no data)
    checkpoints/step_0000000/model/   the weights, Megatron torch_dist (loads under any TP / EP layout)
    checkpoints/step_0000000/meta.json
    tokenizer/                        the model's own tokenizer.json (+ tokenizer_config.json, chat template,
                                      special_tokens_map.json, generation_config.json as the source has them)
    import.json                       source, hashes of every file in and out, and the verification

``vibe data ingest --tokenizer OUT`` tokenizes a corpus with the model's tokenizer, ``vibe train --init-from
OUT`` fine-tunes it, ``vibe model export OUT`` writes it back. Verification: the checkpoint is loaded back and
converted to HF names again, bit-exact for every tensor; Megatron's logits against transformers' (when it is
installed) on held-out sequences.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainers import RunConfig
from trainers.hf._config import HFModel, read_hf_config
from trainers.hf._megatron import load_model_weights, load_state, megatron_model, save_weights, state_of
from trainers.hf._verify import compare_logits, compare_tensors, held_out_sequences, sha256_file
from trainers.hf._weights import (
    check_hf_tensors,
    hf_to_megatron,
    megatron_to_hf,
    read_safetensors,
    weight_files,
)
from vibe.core.config import dump_yaml
from vibe.core.errors import UserError

__all__ = ["TOKENIZER_FILES", "ConversionResult", "import_model", "write_record"]

log = logging.getLogger(__name__)

# Files carried beside the weights (tokenizer.json is required).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


@dataclass(frozen=True)
class ConversionResult:
    """What an import or export wrote, and its verification (also in ``record``'s JSON file)."""

    out: Path
    record_path: Path
    record: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.record["verification"]["ok"])


def write_record(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _hashes(root: Path, files: list[Path]) -> dict[str, str]:
    return {str(f.relative_to(root)): sha256_file(f) for f in sorted(files)}


def _tokenizer(src: Path, spec: HFModel) -> list[Path]:
    tokenizer = src / "tokenizer.json"
    if not tokenizer.is_file():
        raise UserError(
            f"{tokenizer}: missing; the model's own tokenizer (a fast tokenizer.json) is carried with it"
        )
    from tokenizers import Tokenizer

    try:
        size = Tokenizer.from_file(str(tokenizer)).get_vocab_size(with_added_tokens=True)
    except Exception as error:  # tokenizers raises a bare Exception for a bad file
        raise UserError(f"{tokenizer}: not a readable tokenizers file ({error})") from None
    if size > spec.vocab_size:
        raise UserError(
            f"{tokenizer}: {size} tokens, but config.json vocab_size is {spec.vocab_size}; the tokenizer does not "
            "belong to these weights"
        )
    return [src / name for name in TOKENIZER_FILES if (src / name).is_file()]


def _check_out(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: exists and is not empty; choose a new directory")


def import_model(
    src: str | Path, out: str | Path, *, seq_length: int | None = None, verify_logits: bool = True
) -> ConversionResult:
    """Convert the HF model directory ``src`` into the run directory ``out`` (see the module docstring).

    Raises ``UserError`` naming the field or file for anything that cannot be converted exactly, and for a
    failed verification (the output and its ``import.json`` stay for inspection).
    """
    started = time.perf_counter()
    src, out = Path(src).resolve(), Path(out).resolve()
    if not src.is_dir():
        raise UserError(f"{src}: not a directory; give an HF model directory (config.json + safetensors)")
    _check_out(out)
    spec = read_hf_config(src, seq_length=seq_length)
    m = spec.model
    tokenizer_files = _tokenizer(src, spec)
    files = weight_files(src)
    log.info("importing %s (%s) from %d safetensors file(s)", src, spec.architecture, len(files))
    tensors = read_safetensors(files)
    check_hf_tensors(tensors, m, vocab_size=spec.vocab_size, where=src)
    padded = m.padded_vocab_size(spec.vocab_size)

    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenizer").mkdir()
    for file in tokenizer_files:
        shutil.copyfile(file, out / "tokenizer" / file.name)
    if not (out / "tokenizer" / "generation_config.json").is_file():
        ids = {k: v for k, v in spec.token_ids.items() if v is not None}
        (out / "tokenizer" / "generation_config.json").write_text(json.dumps(ids, indent=2), encoding="utf-8")
    config = RunConfig(out=out, model=m)
    dump_yaml(config, out / "config.yaml")

    reference = {k: v for k, v in tensors.items() if k != "lm_head.weight" or not m.tie_embeddings}
    with megatron_model(m, padded_vocab=padded, vocab=spec.vocab_size) as gpt:
        load_state(gpt, hf_to_megatron(tensors, m, padded_vocab=padded))
        checkpoint = save_weights(out, gpt, meta={"source": str(src), "architecture": spec.architecture})
    del tensors
    with megatron_model(
        m, padded_vocab=padded, vocab=spec.vocab_size
    ) as gpt:  # a fresh model from the saved checkpoint
        load_model_weights(checkpoint, gpt)
        round_trip = compare_tensors(reference, megatron_to_hf(state_of(gpt), m, vocab_size=spec.vocab_size))
        logits: dict[str, Any] = {"skipped": "verify_logits=False"}
        if verify_logits:
            ids = held_out_sequences(out / "tokenizer" / "tokenizer.json", length=min(48, m.seq_length))
            logits = compare_logits(gpt, src, ids, vocab_size=spec.vocab_size)
    ok = round_trip["bit_exact"] and logits.get("ok", True)
    record = {
        "kind": "model.import",
        "source": str(src),
        "architecture": spec.architecture,
        "source_config": spec.raw,
        "source_files": _hashes(src, [src / "config.json", *files, *tokenizer_files]),
        "out": str(out),
        "out_files": _hashes(out, [p for p in out.rglob("*") if p.is_file() and p.name != "import.json"]),
        "model": m.model_dump(mode="json"),
        "vocab": {"hf": spec.vocab_size, "padded": padded},
        "verification": {"ok": ok, "round_trip": round_trip, "logits": logits},
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_record(out / "import.json", record)
    result = ConversionResult(out=out, record_path=out / "import.json", record=record)
    if not ok:
        raise UserError(
            f"{src}: imported, but verification failed (see {result.record_path}): {_failure(record)}"
        )
    log.info(
        "imported %s into %s: round trip bit-exact, logits %s",
        src,
        out,
        logits.get("max_abs_diff", "not compared"),
    )
    return result


def _failure(record: dict[str, Any]) -> str:
    v = record["verification"]
    if not v["round_trip"]["bit_exact"]:
        rt = v["round_trip"]
        return f"round trip differs for {(rt['mismatched'] + rt['missing'] + rt['extra'])[:5]}"
    lg = v["logits"]
    return f"logits max abs diff {lg['max_abs_diff']:.3g} (limit {lg['threshold']}), top-1 agreement {lg['top1_agreement']:.4f}"
