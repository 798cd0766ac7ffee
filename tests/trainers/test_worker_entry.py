"""The Ray-free worker entry point (``trainers.run_worker``): one process with its own gloo group, real
Megatron and real files, in a Python where Ray cannot be imported (as on a GPU machine without Ray)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist
from tiny_dataset import tiny_config

from trainers import read_metrics, run_worker

_REPO = Path(__file__).resolve().parents[2]
_PEAK = 1e12  # the MFU denominator handed to the worker

_SCRIPT = f"""
import sys
sys.modules["ray"] = None  # `import ray` raises ImportError from here on
import torch.distributed as dist
from trainers import RunConfig, run_worker

dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
try:
    for given in sys.argv[1:]:  # one run per config, one after the other
        config = RunConfig.model_validate_json(given)
        run_worker(config, {{"precision": "fp32", "threads": 1, "peak_flops_per_worker": {_PEAK}}})
finally:
    dist.destroy_process_group()
"""


def test_run_worker_trains_checkpoints_and_logs_without_ray(tiny_data: Path, tmp_path: Path) -> None:
    run, compiled_run = tmp_path / "run", tmp_path / "compiled"
    training = {"max_steps": 4, "eval_interval": 0, "eval_iters": 2, "checkpoint_interval": 0}
    config = tiny_config(tiny_data, run, training=training)
    compiled = tiny_config(tiny_data, compiled_run, training={**training, "compile": True})
    env = {**os.environ, "PYTHONPATH": str(_REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, config.model_dump_json(), compiled.model_dump_json()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    records = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert records[0]["loss"] == pytest.approx(math.log(768), abs=0.5)  # an untrained model's loss
    assert records[-1]["loss"] < records[0]["loss"]
    flops = config.model.flops_per_token(vocab_size=768)
    for r in records:
        assert r["tokens_per_s"] > 0
        assert r["mfu"] == pytest.approx(flops * r["tokens_per_s"] / _PEAK)
    assert math.isfinite(records[-1]["val_loss"]) and records[-1]["val_tokens"] > 0  # the final full eval

    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step_0000004"]
    meta = json.loads((run / "checkpoints" / "step_0000004" / "meta.json").read_text())
    assert meta["step"] == 4 and meta["layout"] == {"dp": 1, "tp": 1, "ep": 1}
    log = (run / "logs" / "worker_0.log").read_text()
    assert "rank 0/1 pid" in log and "ray -" in log and "rank 0 done: steps 1..4" in log

    # training.compile: the same run (the warm-up step changes nothing), its compilation in no step's time
    again = read_metrics(compiled_run / "metrics.jsonl")
    assert [r["step"] for r in again] == [1, 2, 3, 4]
    for ours, theirs in zip(again, records, strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
        assert ours["grad_norm"] == pytest.approx(theirs["grad_norm"], rel=1e-4)
    assert again[-1]["val_loss"] == pytest.approx(records[-1]["val_loss"], abs=1e-5)
    assert again[0]["compile_s"] > 0 and all("compile_s" not in r for r in again[1:] + records)
    assert "compiled the layers" in (compiled_run / "logs" / "worker_0.log").read_text()


def test_run_worker_needs_a_process_group_of_the_configured_size(tiny_data: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_data, tmp_path / "run", parallel={"dp": 2})
    with pytest.raises(ValueError, match=r"no torch\.distributed process group"):
        run_worker(config, {"precision": "fp32"})
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        with pytest.raises(ValueError, match=r"has 1 ranks, config.parallel asks for 2 \(dp \* tp\)"):
            run_worker(config, {"precision": "fp32"})
    finally:
        dist.destroy_process_group()
    assert not (tmp_path / "run").exists()  # refused before touching the run directory


def test_a_worker_held_at_a_rung_goes_on_at_the_verdict_and_stops_when_superseded(tmp_path: Path) -> None:
    from trainers import await_verdict

    (tmp_path / "attempt").write_text("mine")
    (tmp_path / "verdict").write_text("12")
    assert await_verdict(tmp_path, "mine", 12, timeout_s=5)  # the driver said go on past 12
    assert not await_verdict(
        tmp_path, "mine", 36, timeout_s=0.05
    )  # no verdict for 36: trains on after the wait
    (tmp_path / "attempt").write_text("stopped-by-hpo:pruned")
    with pytest.raises(RuntimeError, match="superseded by stopped-by-hpo:pruned"):
        await_verdict(tmp_path, "mine", 36, timeout_s=5)
