"""Convert a GGUF checkpoint into a safetensors Hugging Face model directory.

Run by the vLLM venv's python (it has transformers, gguf and accelerate; Vibe's own environment does not
need them), so this file imports nothing from Vibe:

    python _convert_gguf.py MODEL.gguf OUT_DIR

transformers dequantizes the GGUF tensors on load (to float32 here), but tags the model as GGUF-quantized and
refuses to save it; the tag is cleared first, since the weights are already plain tensors.
"""

from __future__ import annotations

import sys
from pathlib import Path


def convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"loading tokenizer from {gguf}", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not getattr(tokenizer, "chat_template", None):
        raise SystemExit(f"{gguf.name} carries no chat template; an instruct model needs one")
    print(f"loading and dequantizing weights from {gguf}", flush=True)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    print(f"saving safetensors and tokenizer to {out}", flush=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(f"done: {type(model).__name__}, {params / 1e6:.1f}M parameters", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python _convert_gguf.py MODEL.gguf OUT_DIR")
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
