"""Hugging Face models in and out of the trainer, exactly: import a base model, export any run.

:func:`import_model` turns an HF directory (``LlamaForCausalLM``, ``MistralForCausalLM`` without a sliding
window, ``Qwen2ForCausalLM``, ``MixtralForCausalLM``; safetensors, sharded with an index or not) into a
trainer run directory (Megatron ``torch_dist`` checkpoint, ``config.yaml``, the model's tokenizer) that
``vibe train --init-from`` fine-tunes and ``vibe eval`` scores. :func:`export_run` writes any run (whatever
dp / tp / ep layout it trained with) back as an HF directory that ``transformers`` and vLLM load with no custom
code. Both verify what they wrote (bit-exact weight round trip, logits against transformers) and record it,
with the sha256 of every file, in ``import.json`` / ``export.json``. Anything that cannot be carried exactly is
refused with a ``UserError`` naming the field.

    from trainers.hf import export_run, import_model
    imported = import_model("/models/SmolLM2-135M", "runs/base")      # .record["verification"]
    exported = export_run("runs/finetune", "exports/finetune")
"""

from trainers.hf._config import ARCHITECTURES, HFModel, hf_config_dict, read_hf_config
from trainers.hf._export import export_run, run_tokenizer
from trainers.hf._import import ConversionResult, import_model, write_record
from trainers.hf._megatron import load_state, loss_of, megatron_model, state_of
from trainers.hf._verify import MAX_ABS_DIFF, compare_logits, held_out_sequences, sha256_file
from trainers.hf._weights import hf_to_megatron, megatron_to_hf, read_safetensors

__all__ = [
    "ARCHITECTURES",
    "MAX_ABS_DIFF",
    "ConversionResult",
    "HFModel",
    "compare_logits",
    "export_run",
    "held_out_sequences",
    "hf_config_dict",
    "hf_to_megatron",
    "import_model",
    "load_state",
    "loss_of",
    "megatron_model",
    "megatron_to_hf",
    "read_hf_config",
    "read_safetensors",
    "run_tokenizer",
    "sha256_file",
    "state_of",
    "write_record",
]
