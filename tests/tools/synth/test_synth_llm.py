"""End to end against the real local vLLM server (SmolLM2-135M-Instruct): a handful of samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.data import load_dataset_info
from tools.synth import SynthConfig, synthesize
from vibe.llm import Endpoint


@pytest.mark.llm
def test_real_server_generates_a_handful_of_samples(
    corpus: Path, tmp_path: Path, llm_server: Endpoint
) -> None:
    config = SynthConfig.model_validate(
        {
            "dataset": str(corpus),
            "out": str(tmp_path / "out"),
            "templates": ["doc.summary", "code.explain"],
            "samples": 4,
            "llm": {"url": llm_server.url, "model": llm_server.model, "timeout_s": 300},
            "sampling": {"temperature": 0.2, "max_tokens": 256, "seed": 0},
            "max_concurrency": 4,
            "chunks": {"min_chars": 40, "max_chars": 400},
        }
    )
    result = synthesize(config, progress_bar=False)
    assert result.requests == 4 and result.candidates == 4
    assert result.completion_tokens > 0
    samples = [json.loads(line) for line in result.samples_path.read_text().splitlines()]
    rejects = [json.loads(line) for line in result.rejects_path.read_text().splitlines()]
    assert len(samples) + len(rejects) == 4
    assert samples, f"the real model produced no usable sample: {[r['reason'] for r in rejects]}"
    assert all(s["model"] == llm_server.model and s["usage"]["completion_tokens"] > 0 for s in samples)
    assert load_dataset_info(result.out).splits["train"].documents + load_dataset_info(result.out).splits[
        "valid"
    ].documents == len(samples)
