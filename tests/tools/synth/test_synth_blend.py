"""The synthetic output directory is a training source: blended with the corpus by weight, it trains."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from synth_helpers import ScriptedServer

from tools.synth import SynthConfig, synthesize


@pytest.mark.slow
def test_synthetic_dataset_blends_into_training_with_the_corpus(
    corpus: Path,
    tmp_path: Path,
    openai_server: Callable[..., ScriptedServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    from trainers import RunConfig, launch

    counter = iter(range(1000))
    server = openai_server(
        lambda p: (
            f"Sample {next(counter)}: the function checks its inputs, loops over the values and "
            "returns the result; callers pass plain numbers or strings and get one value back."
        )
    )
    config = SynthConfig.model_validate(
        {
            "dataset": str(corpus),
            "out": str(tmp_path / "synth"),
            "templates": ["code.explain", "doc.summary"],
            "samples": 6,
            "llm": {"url": server.url},
            "chunks": {"min_chars": 40, "max_chars": 200},
            "dedup": {"near_dup_threshold": 1.0},
            "valid_fraction": 0.2,
        }
    )
    result = synthesize(config, progress_bar=False)
    assert result.dataset is not None and result.kept >= 4

    monkeypatch.setenv("VIBE_NO_PROGRESS", "1")
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "vibe-cache"))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    run = RunConfig.model_validate(
        {
            "out": str(tmp_path / "run"),
            "model": {"preset": "tiny"},
            "training": {
                "micro_batch_size": 2,
                "global_batch_size": 4,
                "max_steps": 4,
                "eval_interval": 4,
                "eval_iters": 2,
                "checkpoint_interval": 4,
            },
            "optimizer": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 1},
            "data": {
                "sources": [
                    {"path": str(corpus), "weight": 1.0},
                    {"path": str(result.dataset), "weight": 0.5},
                ]
            },
        }
    )
    trained = launch(run)
    assert trained.final_step == 4
    assert trained.val_loss is not None and math.isfinite(trained.val_loss)
    records = [json.loads(line) for line in (trained.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
