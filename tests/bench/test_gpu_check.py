"""The GPU check's orchestration (``bench/gpu_check.py``) on CPU: phases in child processes, results written
after each, a phase skipped when the budget is short, overrides checked. Training phases are exercised by
``--cpu-rehearsal`` and by tests/trainers/test_worker_entry.py (the worker loop they call)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text("{}")  # the env and rl phases read no tokens
    return data


def test_phases_run_in_child_processes_and_leave_json_and_markdown(
    gpu_check: ModuleType, dataset: Path, tmp_path: Path
) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    code = gpu_check.orchestrate(
        mode="cpu", out=out, work=work, data=dataset, budget_s=600, phases=["env", "rl"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    env = results["environment"]
    assert env["status"] == "ok" and env["torch"].startswith("2.") and env["packages"]["megatron-core"]
    assert env["device"]["name"].startswith("CPU")
    assert results["mode"] == "cpu-rehearsal" and results["not_carried"] == {}
    rl = results["phases"]["rl"]
    # without a dense run there is nothing to post-train (or, before issue #14 landed, no post-training)
    assert rl["status"] == "not available"
    assert "no base for RL" in rl["reason"] or "issue #14" in rl["reason"]
    table = (out / "results.md").read_text()
    assert "| check | status | result |" in table
    assert "| one RL post-training step from the dense run | not available |" in table


def test_a_phase_is_skipped_when_the_budget_is_short(
    gpu_check: ModuleType, dataset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code = gpu_check.orchestrate(
        mode="gpu", out=out, work=tmp_path / "work", data=dataset, budget_s=5, phases=["dense"]
    )
    results = json.loads((out / "results.json").read_text())
    assert code == 0  # skipped is not failed
    assert results["phases"]["dense"]["status"] == "skipped"
    assert "needs at least 90 s" in results["phases"]["dense"]["reason"]
    assert "ray 2.60.0" in results["not_carried"]["ray"]
    assert "| dense pre-training | skipped |" in (out / "results.md").read_text()


def test_a_missing_dataset_says_how_to_prepare_it(
    gpu_check: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = gpu_check.orchestrate(
        mode="cpu", out=tmp_path / "out", work=tmp_path / "work", data=tmp_path / "none", budget_s=60,
        phases=["env"],
    )  # fmt: skip
    assert code == 2
    assert "bench/gpu_check_prepare.sh" in capsys.readouterr().err


def test_overrides_reach_the_run_config(gpu_check: ModuleType, dataset: Path, tmp_path: Path) -> None:
    overrides = gpu_check.parse_overrides(["dense.training.micro_batch_size=8", "dense.optimizer.lr=1e-3"])
    ctx = {"mode": "gpu", "work": tmp_path, "data": dataset, "overrides": overrides}
    config = gpu_check._run_config(ctx, "dense")
    assert config.training.micro_batch_size == 8 and config.optimizer.lr == 1e-3
    assert config.training.global_batch_size == 16 and config.model.num_layers == 24  # the rest kept
    assert config.precision == "bf16" and config.device == "cuda"
    with pytest.raises(ValueError, match=r"RUN\.SECTION\.FIELD=VALUE"):
        gpu_check.parse_overrides(["training.micro_batch_size=8"])
