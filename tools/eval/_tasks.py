"""The standard-tasks suite: lm-evaluation-harness on task files shipped in ``tools/eval/tasks/``.

No task dataset can come from the Hugging Face hub here, so every task ships with its data (a JSONL file next
to its YAML); before running, the YAML is copied to a scratch directory with ``data_files`` pointing at the
shipped file, and the harness runs offline (``HF_DATASETS_OFFLINE``/``HF_HUB_OFFLINE``). The model is either

* an HF model directory (a run's export; ``lm_eval``'s ``hf`` backend, on CPU), or
* a served model (``served``: vLLM's OpenAI API, ``http://host:port/v1``; ``lm_eval``'s ``local-completions``
  backend: log-likelihoods from ``/v1/completions`` with ``echo`` and ``logprobs``). Requests go as token ids
  from the model's own tokenizer (``tokenizer``: the served model's HF directory, read locally; nothing is
  fetched), so the harness knows where each continuation starts.

The suite reports each task's metrics as ``task_<task>_<metric>`` (e.g. ``task_vibe_python_mc_acc``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from vibe.core.errors import UserError

__all__ = ["TASKS_DIR", "find_export", "shipped_tasks", "tasks_suite"]

TASKS_DIR = Path(__file__).parent / "tasks"


def find_export(run_dir: Path) -> Path | None:
    """The run's HF export directory (``RUN_DIR/export`` or ``RUN_DIR/hf``, holding a config.json), if any."""
    for name in ("export", "hf"):
        candidate = Path(run_dir) / name
        if (candidate / "config.json").is_file():
            return candidate
    return None


def shipped_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def tasks_suite(
    model_dir: Path,
    *,
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    served: str | None = None,
    served_model: str | None = None,
) -> dict[str, Any]:
    """Run the shipped ``tasks`` (default: all) against the HF model directory ``model_dir``, or, with
    ``served`` (a ``.../v1`` URL), against that served model (``served_model``; ``model_dir`` then gives its
    tokenizer)."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise UserError(
            "--suite tasks needs lm-evaluation-harness: pip install 'lm-eval>=0.4.13,<0.5' (see pyproject)"
        ) from None
    if not (Path(model_dir) / "config.json").is_file():
        raise UserError(
            f"{model_dir}: not an HF model directory (no config.json); export the run first "
            "(`vibe model export RUN`) or pass --hf-model DIR"
        )
    names = list(tasks or shipped_tasks())
    unknown = sorted(set(names) - set(shipped_tasks()))
    if unknown:
        raise UserError(
            f"tasks {', '.join(unknown)}: not shipped in {TASKS_DIR}; choose from {shipped_tasks()}"
        )
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            spec = yaml.safe_load((TASKS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
            files = spec.get("dataset_kwargs", {}).get("data_files", {})
            for split, file in files.items():
                files[split] = str(TASKS_DIR / file)
            (Path(scratch) / f"{name}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
        backend, model_args = _backend(Path(model_dir), served=served, served_model=served_model)
        results = lm_eval.simple_evaluate(
            model=backend,
            model_args=model_args,
            tasks=names,
            task_manager=TaskManager(include_path=scratch, include_defaults=False),
            device="cpu",
            batch_size=batch_size if served is None else 1,
            limit=limit,
            log_samples=False,
        )
    out: dict[str, Any] = {
        "model": f"{served_model} at {served}" if served else str(model_dir),
        "tasks": names,
        "harness": f"lm_eval {lm_eval.__version__}",
    }
    for task, metrics in (results or {}).get("results", {}).items():
        for key, value in metrics.items():
            metric, _, _filter = key.partition(",")
            if isinstance(value, int | float) and not metric.endswith("_stderr") and metric != "sample_len":
                out[f"task_{task}_{metric}"] = float(value)
    return out


def _backend(model_dir: Path, *, served: str | None, served_model: str | None) -> tuple[str, dict[str, Any]]:
    """lm_eval's model name and arguments: the HF directory in process, or the served model over HTTP."""
    if served is None:
        return "hf", {"pretrained": str(model_dir), "dtype": "float32"}
    if not served_model:
        raise UserError(f"--served {served}: name the served model (--served-model)")
    _check_served(served, served_model)
    return "local-completions", {
        "model": served_model,
        "base_url": f"{served.rstrip('/')}/completions",
        "tokenizer_backend": "huggingface",
        "tokenizer": str(model_dir),
        "tokenized_requests": True,
        "num_concurrent": 1,
        "max_retries": 2,
    }


def _check_served(served: str, model: str) -> None:
    """Fail early, naming the URL, when nothing serves ``model`` there (the harness would retry for minutes)."""
    import httpx

    try:
        response = httpx.get(f"{served.rstrip('/')}/models", timeout=10)
        response.raise_for_status()
        names = [m["id"] for m in response.json().get("data", [])]
    except (httpx.HTTPError, ValueError, KeyError) as error:
        raise UserError(
            f"--served {served}: no OpenAI API answers there ({error}); serve the model first"
        ) from None
    if model not in names:
        raise UserError(
            f"--served {served}: serves {names}, not {model!r}; pass --served-model with one of them"
        )
