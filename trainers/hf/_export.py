"""``export_run``: a run's latest checkpoint (any dp / tp / ep layout) -> a Hugging Face model directory.

Output (``OUT``), loadable by ``transformers`` with no custom code and servable by vLLM::

    config.json               LlamaForCausalLM, Qwen2ForCausalLM (QKV biases) or MixtralForCausalLM (MoE)
    model.safetensors         float32, vocabulary trimmed of Megatron's padding
    tokenizer.json            the run's tokenizer (the dataset's, or the imported model's)
    tokenizer_config.json     the imported model's (chat template included), or a plain fast-tokenizer one
    generation_config.json    bos / eos token ids
    export.json               run, checkpoint, hashes of every file written, and the verification

The checkpoint is loaded into one full model (Megatron reshards on load). Verification: the written
safetensors are read back and converted to Megatron names, bit-exact against the checkpoint for every
tensor; logits of the Megatron model against transformers loading ``OUT``.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from trainers import RunConfig, latest_checkpoint, read_dataset_dir
from trainers.hf._config import hf_config_dict
from trainers.hf._import import TOKENIZER_FILES, ConversionResult, write_record
from trainers.hf._megatron import load_model_weights, megatron_model, state_of
from trainers.hf._verify import compare_logits, compare_tensors, held_out_sequences, sha256_file
from trainers.hf._weights import hf_to_megatron, megatron_to_hf, read_safetensors
from vibe.core.config import load_yaml
from vibe.core.errors import UserError

__all__ = ["export_run", "run_tokenizer"]

log = logging.getLogger(__name__)
_EOD = "<|endoftext|>"


def run_tokenizer(run_dir: Path, config: RunConfig) -> tuple[Path, list[Path], dict[str, Any]]:
    """(tokenizer.json, the files to carry beside it, token ids) of a run.

    An imported model (and a run started from one) has ``RUN_DIR/tokenizer/``; a run from scratch uses its
    dataset's tokenizer, whose end-of-document token is both bos and eos.
    """
    own = run_dir / "tokenizer"
    if (own / "tokenizer.json").is_file():
        files = [own / name for name in TOKENIZER_FILES if (own / name).is_file()]
        ids: dict[str, Any] = {}
        gen = own / "generation_config.json"
        if gen.is_file():
            saved = json.loads(gen.read_text(encoding="utf-8"))
            ids = {k: saved[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if k in saved}
        return own / "tokenizer.json", files, ids
    if not config.data.sources:
        raise UserError(
            f"{run_dir}: no tokenizer/ and no data.sources in config.yaml; cannot tell its tokenizer"
        )
    dataset = read_dataset_dir(config.data.sources[0].path)
    return (
        dataset.tokenizer_path,
        [dataset.tokenizer_path],
        {"bos_token_id": dataset.eod_id, "eos_token_id": dataset.eod_id},
    )


def _tokenizer_config(tokenizer_json: Path, *, max_length: int) -> dict[str, Any]:
    from tokenizers import Tokenizer

    has_eod = Tokenizer.from_file(str(tokenizer_json)).token_to_id(_EOD) is not None
    special = {"bos_token": _EOD, "eos_token": _EOD} if has_eod else {}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "clean_up_tokenization_spaces": False,
        **special,
    }


def export_run(run_dir: str | Path, out: str | Path, *, verify_logits: bool = True) -> ConversionResult:
    """Write ``run_dir``'s latest checkpoint as an HF directory ``out`` (see the module docstring)."""
    from safetensors.torch import save_file

    started = time.perf_counter()
    run_dir, out = Path(run_dir).resolve(), Path(out).resolve()
    if not (run_dir / "config.yaml").is_file():
        raise UserError(
            f"{run_dir}: not a run directory (no config.yaml); pass a `vibe train` or `vibe model import` --out"
        )
    if out.exists() and any(out.iterdir()):
        raise UserError(f"--out {out}: exists and is not empty; choose a new directory")
    config = load_yaml(run_dir / "config.yaml", RunConfig)
    m = config.model
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise UserError(
            f"{run_dir}/checkpoints: no complete checkpoint; train longer or `vibe train --resume`"
        )
    tokenizer_json, carried, token_ids = run_tokenizer(run_dir, config)
    from tokenizers import Tokenizer

    tokenizer_vocab = Tokenizer.from_file(str(tokenizer_json)).get_vocab_size(with_added_tokens=True)
    vocab = m.vocab_size or tokenizer_vocab
    padded = m.padded_vocab_size(tokenizer_vocab)
    hf_config = hf_config_dict(m, vocab_size=vocab, token_ids=token_ids)  # refuses what HF cannot express

    out.mkdir(parents=True, exist_ok=True)
    with megatron_model(m, padded_vocab=padded, vocab=vocab) as gpt:
        load_model_weights(checkpoint.path, gpt)
        state = state_of(gpt)
        tensors = megatron_to_hf(state, m, vocab_size=vocab)
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "config.json").write_text(json.dumps(hf_config, indent=2), encoding="utf-8")
        for file in carried:
            target = out / ("tokenizer.json" if file == tokenizer_json else file.name)
            shutil.copyfile(file, target)
        if not (out / "tokenizer_config.json").is_file():
            max_length = m.max_position_embeddings or m.seq_length
            (out / "tokenizer_config.json").write_text(
                json.dumps(_tokenizer_config(tokenizer_json, max_length=max_length), indent=2),
                encoding="utf-8",
            )
        if not (out / "generation_config.json").is_file():
            (out / "generation_config.json").write_text(json.dumps(token_ids, indent=2), encoding="utf-8")
        del tensors
        trimmed = {
            k: (v[:vocab] if k in ("embedding.word_embeddings.weight", "output_layer.weight") else v)
            for k, v in state.items()
        }
        back = hf_to_megatron(read_safetensors([out / "model.safetensors"]), m, padded_vocab=vocab)
        round_trip = compare_tensors(trimmed, back)
        logits: dict[str, Any] = {"skipped": "verify_logits=False"}
        if verify_logits:
            ids = held_out_sequences(out / "tokenizer.json", length=min(48, m.seq_length))
            logits = compare_logits(gpt, out, ids, vocab_size=vocab)
    ok = round_trip["bit_exact"] and logits.get("ok", True)
    record = {
        "kind": "model.export",
        "run": str(run_dir),
        "checkpoint": str(checkpoint.path),
        "step": checkpoint.step,
        "trained_layout": checkpoint.meta.get("layout"),
        "architecture": hf_config["architectures"][0],
        "out": str(out),
        "files": {
            p.name: sha256_file(p) for p in sorted(out.iterdir()) if p.is_file() and p.name != "export.json"
        },
        "vocab": {"exported": vocab, "padded": padded},
        "verification": {"ok": ok, "round_trip": round_trip, "logits": logits},
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_record(out / "export.json", record)
    result = ConversionResult(out=out, record_path=out / "export.json", record=record)
    if not ok:
        raise UserError(f"{run_dir}: exported, but verification failed (see {result.record_path})")
    log.info("exported %s step %d into %s", run_dir, checkpoint.step, out)
    return result
