"""Post-training runs are tracked in MLflow like training runs (a real `mlflow server`, read back through its
REST API): every setting as a param, each step's metrics (RL: reward per rule, KL, the generator/trainer
ratio, seconds per phase), the report, plots, configs and metrics as artifacts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tools.posttrain import run_posttrain
from trainers.posttrain import PostTrainConfig

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "posttrain"))
sys.path.insert(0, str(Path(__file__).parents[2] / "vibe" / "tracking"))
from mlflow_server import MlflowServer, run_params, run_tags, shared_server
from posttrain_helpers import chats, write_jsonl

pytestmark = pytest.mark.slow  # a real mlflow server (shared by the session's tracking tests)


@pytest.fixture()
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> MlflowServer:
    return shared_server(tmp_path_factory.mktemp("mlflow"))


def _tracked_run(server: MlflowServer, out: Path) -> dict[str, Any]:
    (run,) = [r for r in server.runs("vibe-posttrain") if run_tags(r)["vibe.run_dir"] == str(out)]
    return run


def test_an_sft_run_is_tracked_with_params_step_losses_and_artifacts(
    rl_base: Path, tmp_path: Path, mlflow: MlflowServer
) -> None:
    data = write_jsonl(tmp_path / "chat.jsonl", chats(4))
    out = tmp_path / "sft"
    config = PostTrainConfig(
        method="sft", base=rl_base, data=data, out=out, in_process=True,
        training={"max_steps": 3, "micro_batch_size": 2, "global_batch_size": 2, "checkpoint_interval": 0},
        tracking={"uri": mlflow.url, "finish_timeout_s": 120},
    )  # fmt: skip
    result = run_posttrain(config)
    run = _tracked_run(mlflow, out)
    run_id = run["info"]["run_id"]
    assert run["info"]["status"] == "FINISHED" and run_tags(run)["vibe.kind"] == "posttrain.sft"
    params = run_params(run)
    assert params["method"] == "sft" and params["training.max_steps"] == "3" and "tracking.uri" not in params
    assert [s for s, _ in mlflow.history(run_id, "loss")] == [1, 2, 3]
    assert {"report.md", "loss.png", "posttrain.yaml", "config.yaml", "metrics.jsonl"} <= set(
        mlflow.artifacts(run_id)
    )
    assert f"run `{run_id}`" in result.report.read_text()


def test_an_rl_run_is_tracked_with_reward_per_rule_kl_ratio_and_phase_seconds(
    rl_base: Path, rule_file: Path, tmp_path: Path, mlflow: MlflowServer
) -> None:
    data = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"write {w}"} for w in "abcd"])
    out = tmp_path / "rl"
    config = PostTrainConfig.model_validate(
        {
            "method": "rl", "base": str(rl_base), "data": str(data), "out": str(out), "in_process": True,
            "training": {"max_steps": 2, "global_batch_size": 2, "micro_batch_size": 8, "checkpoint_interval": 0},
            "rl": {"policies": [str(rule_file)], "group_size": 2, "max_new_tokens": 3},
            "tracking": {"uri": mlflow.url, "finish_timeout_s": 120},
        }
    )  # fmt: skip
    result = run_posttrain(config)
    run = _tracked_run(mlflow, out)
    run_id = run["info"]["run_id"]
    tags = run_tags(run)
    assert run["info"]["status"] == "FINISHED" and tags["vibe.kind"] == "posttrain.rl"
    assert tags["vibe.rules"] == "no-capitals,short" and len(tags["vibe.rules_hash"]) == 64
    assert run_params(run)["rl.group_size"] == "2"
    for key in ("reward_mean", "reward/no-capitals/mean", "reward/short/mean", "violation_rate", "kl",
                "ratio_mean", "generate_s", "reward_s", "train_s", "sync_s"):  # fmt: skip
        assert [s for s, _ in mlflow.history(run_id, key)] == [1, 2], key
    assert {"report.md", "reward.png", "alignment.json", "metrics.jsonl", "posttrain.yaml"} <= set(
        mlflow.artifacts(run_id)
    )
    assert f"run `{run_id}`" in result.report.read_text()
