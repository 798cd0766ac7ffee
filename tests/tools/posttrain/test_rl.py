"""GRPO-style RL on a tiny real Megatron model against policy rules: the reward rises, every step is
logged with its per-rule rewards, a rule that fails stops the run keeping its finished steps, and a run
killed with SIGKILL resumes with no step repeated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.posttrain import RewardRuleError, run_posttrain, run_rl
from trainers import latest_checkpoint, read_metrics
from trainers.posttrain import PostTrainConfig, step_indices
from vibe.ledger import SqliteLedger

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "posttrain"))
from posttrain_helpers import write_jsonl


def _rl(base: Path, data: Path, out: Path, policy: Path, **training: int) -> PostTrainConfig:
    return PostTrainConfig.model_validate(
        {
            "method": "rl", "base": str(base), "data": str(data), "out": str(out), "in_process": True,
            "training": {"max_steps": 12, "global_batch_size": 4, "micro_batch_size": 16, "checkpoint_interval": 0, **training},
            "optimizer": {"lr": 1e-2, "min_lr": 1e-2, "warmup_steps": 0},
            "rl": {"policies": [str(policy)], "group_size": 8, "max_new_tokens": 4},
        }
    )  # fmt: skip


def _prompts(tmp_path: Path, n: int = 4) -> Path:
    return write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"write {w}"} for w in "abcdefgh"[:n]])


@pytest.mark.slow
def test_reward_of_a_learnable_rule_rises(rl_base: Path, rule_file: Path, tmp_path: Path) -> None:
    config = _rl(rl_base, _prompts(tmp_path), tmp_path / "rl", rule_file)
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        from policies import PolicyGate

        gate = PolicyGate.from_files([rule_file])
        result = run_posttrain(config, gate=gate, ledger=ledger, thread_id="t")
        entries = [e.to_entry().record for e in ledger.stored(thread_id="t")]
    records = read_metrics(result.run_dir / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 13))
    rewards = [r["reward/no-capitals/mean"] for r in records]
    assert sum(rewards[-4:]) / 4 > sum(rewards[:4]) / 4 + 0.1, rewards
    for r in records:  # every step: per-rule rewards, mismatch, KL, entropy and the time split
        assert {"reward/short/mean", "reward/no-capitals/std", "violation_rate", "kl", "entropy"} <= r.keys()
        assert {"generate_s", "reward_s", "train_s", "sync_s"} <= r.keys()
        assert r["ratio_mean"] == pytest.approx(1.0, abs=1e-3) and not r["ratio_alarm"]  # same model samples
    alignment = json.loads((result.run_dir / "alignment.json").read_text())
    assert len(alignment["rules_hash"]) == 64 and str(rule_file) in alignment["policy_hashes"]
    assert (result.run_dir / "reward.png").is_file() and "reward_mean" in result.report.read_text()
    kinds = [e.kind for e in entries]
    assert kinds == ["gate", "run_started", "run_finished"], (
        kinds
    )  # judged like a training run, then recorded
    assert entries[0].action == "train.run" and entries[0].outcome == "allow"
    assert entries[1].outputs["rules_hash"] == alignment["rules_hash"]
    assert entries[1].policy_hashes == alignment["policy_hashes"] and entries[1].rule_ids == [
        "no-capitals",
        "short",
    ]


def test_a_failing_rule_stops_the_run_and_keeps_its_finished_steps(rl_base: Path, tmp_path: Path) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(
        "version: 1\nname: org\nalignment:\n  rules:\n    - {id: tests-pass, type: passes_tests}\n"
    )
    order = step_indices(3, seed=1234, step=1, global_batch=3)  # steps 1, 2, 3 take prompts order[0..2]
    records: list[dict] = [{"prompt": "f", "tests": None}] * 3
    records[order[2]] = {"prompt": "g"}  # no 'tests' field: the rule cannot score it, at step 3
    data = write_jsonl(tmp_path / "prompts.jsonl", records)
    config = PostTrainConfig.model_validate(
        {
            **_rl(rl_base, data, tmp_path / "rl", policy).model_dump(),
            "training": {
                "max_steps": 5,
                "global_batch_size": 1,
                "micro_batch_size": 4,
                "checkpoint_interval": 1,
            },
            "rl": {"policies": [str(policy)], "group_size": 2, "max_new_tokens": 2},
        }
    )
    with pytest.raises(
        RewardRuleError,
        match=rf"reward rule 'tests-pass' \(.*org\.yaml\): failed: .*prompts\.jsonl:{order[2] + 1}",
    ):
        run_rl(config)
    assert [r["step"] for r in read_metrics(tmp_path / "rl" / "metrics.jsonl")] == [1, 2]
    assert latest_checkpoint(tmp_path / "rl").step == 2


@pytest.mark.slow
def test_sigkill_then_resume_repeats_no_step(rl_base: Path, rule_file: Path, tmp_path: Path) -> None:
    data, out = _prompts(tmp_path, 2), tmp_path / "rl"
    command = [
        sys.executable, "-m", "vibe", "posttrain", "rl", "--base", str(rl_base), "--data", str(data), "--out", str(out),
        "--policy", str(rule_file), "--in-process", "--max-steps", "6", "--global-batch", "2", "--micro-batch", "8",
        "--group-size", "4", "--max-new-tokens", "2", "--checkpoint-interval", "1", "--workdir", str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "VIBE_NO_PROGRESS": "1"}
    child = subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(read_metrics(out / "metrics.jsonl")) < 3:
        time.sleep(0.2)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    killed_at = len(read_metrics(out / "metrics.jsonl"))
    assert 3 <= killed_at < 6
    done = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl")]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert latest_checkpoint(out).step == 6


@pytest.mark.slow
def test_under_ray_the_trainer_is_an_actor_and_rewards_a_task(
    rl_base: Path, rule_file: Path, tmp_path: Path, local_ray: str
) -> None:
    import ray

    config = _rl(
        rl_base,
        _prompts(tmp_path, 2),
        tmp_path / "rl",
        rule_file,
        max_steps=2,
        global_batch_size=2,
        micro_batch_size=8,
    )
    config = PostTrainConfig.model_validate(
        {
            **config.model_dump(),
            "in_process": False,
            "rl": {**config.rl.model_dump(), "group_size": 2, "max_new_tokens": 2},
        }
    )
    result = run_rl(config)
    assert [r["step"] for r in read_metrics(result.run_dir / "metrics.jsonl")] == [1, 2]
    assert latest_checkpoint(result.run_dir).step == 2
    assert not [a for a in ray.util.list_named_actors()]  # nothing left behind


class _SkewedGenerator:
    """The trainer's own sampler, reporting log-probs 0.2 nats below the trainer's: a mismatched generator."""

    name = "skewed"

    def __init__(self, trainer: object) -> None:
        from tools.posttrain import MegatronGenerator

        self.inner = MegatronGenerator(trainer)

    def generate(self, prompts: list, **kwargs: object) -> list:
        from tools.posttrain import Completion

        return [
            [Completion(c.ids, [lp - 0.2 for lp in c.logps]) for c in g]
            for g in self.inner.generate(prompts, **kwargs)
        ]

    def sync(self, *, step: int) -> object:
        return self.inner.sync(step=step)


def test_a_generator_trainer_mismatch_is_logged_and_alarmed(
    rl_base: Path, rule_file: Path, tmp_path: Path
) -> None:
    config = _rl(
        rl_base,
        _prompts(tmp_path, 2),
        tmp_path / "rl",
        rule_file,
        max_steps=1,
        global_batch_size=2,
        micro_batch_size=8,
    )
    config = PostTrainConfig.model_validate(
        {
            **config.model_dump(),
            "rl": {**config.rl.model_dump(), "group_size": 2, "max_new_tokens": 2, "tis_cap": 1.1},
        }
    )
    result = run_rl(config, generator=_SkewedGenerator)
    (record,) = read_metrics(result.run_dir / "metrics.jsonl")
    assert record["ratio_mean"] == pytest.approx(2.718281828**0.2, rel=1e-3) and record["ratio_alarm"] is True
    assert record["truncated_frac"] == 1.0  # every token's weight 1.22 was truncated to the cap 1.1
    assert "ALARM" in result.report.read_text()
