"""tools.agentmodel: the whole tune (import, data, SFT, RL, export, register) on a tiny model, then resumed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "hf"))
from tiny_hf import tiny_config, write_model

from tools.agentmodel import RLStage, SFTStage, TaskData, TuneConfig, TuneTask, tune_model
from tools.posttrain import FunctionReward
from vibe.llm import registered_agent_model

WORDS = ["alpha", "beta", "gamma", "delta"]


def _data(config: TuneConfig) -> TaskData:
    sft = [{"messages": [{"role": "user", "content": f"say {w}"}, {"role": "assistant", "content": w}],
            "provenance": {"generator": "test"}} for w in WORDS * 4]  # fmt: skip
    rl = [{"prompt": f"say {w}", "word": w} for w in WORDS]
    return TaskData(sft=sft, rl=rl, report={"examples": len(sft), "overlap": {"exact": 0, "template": 0}})


def _says(samples: list) -> dict[str, list[float]]:  # type: ignore[type-arg]
    return {"says": [float(s.record["word"] in s.completion) for s in samples]}


@pytest.mark.slow
def test_tune_runs_every_stage_registers_the_export_and_a_rerun_reuses_or_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_CACHE", str(tmp_path / "cache"))
    base = write_model(tmp_path / "hf", tiny_config(), seed=3)
    task = TuneTask(name="say", make_data=_data, reward=FunctionReward("says", "1", _says, {"says": 1.0}))
    config = TuneConfig(
        base_model=base, out=tmp_path / "tune", seq_length=32, examples=16, rl_prompts=4,
        sft=SFTStage(steps=2, global_batch_size=4, micro_batch_size=2, warmup_steps=0, checkpoint_interval=1),
        rl=RLStage(steps=1, prompts_per_step=2, group_size=2, max_new_tokens=6, checkpoint_interval=1),
    )  # fmt: skip
    result = tune_model(config, task=task)
    stages = result.summary["stages"]
    assert [stages[s]["state"] for s in ("import", "data", "sft", "rl", "export", "register")] == ["done"] * 6
    assert stages["export"]["ok"] and stages["export"]["round_trip_bit_exact"]
    assert stages["export"]["logits_max_abs_diff"] < 1e-3
    rl = [json.loads(line) for line in (result.out / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert rl[0]["sync"] == "copy" and rl[0]["probe_ok"]  # the HF mirror matched the trainer's greedy probe
    assert abs(rl[0]["ratio_mean"] - 1.0) < 0.05  # generator and trainer agree on the probabilities
    assert json.loads((result.out / "rl" / "alignment.json").read_text())["rules"][0]["type"] == "code:says@1"
    tuned = registered_agent_model()
    assert tuned is not None and tuned.path == result.export and tuned.details["rl_steps"] == 1

    again = tune_model(config.model_copy(update={"rl": config.rl.model_copy(update={"steps": 2})}), task=task)
    stages = again.summary["stages"]
    assert stages["import"]["reused"] and stages["data"]["reused"] and stages["sft"]["reused"]
    assert not stages["rl"]["reused"] and stages["rl"]["steps"] == 2  # resumed from step 1, ran step 2 only
    assert [json.loads(x)["step"] for x in (again.out / "rl" / "metrics.jsonl").read_text().splitlines()] == [
        1,
        2,
    ]
    assert not stages["export"]["reused"]  # the export of step 1 was stale
    assert json.loads((again.export / "export.json").read_text())["step"] == 2
