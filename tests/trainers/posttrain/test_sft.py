"""SFT on the Megatron trainer: learns, resumes without repeating a step, and (under Ray) gives the same
losses with two data-parallel ranks as with one (the loss is normalised by the global token count)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trainers import read_metrics
from trainers.posttrain import PostTrainConfig, posttrain
from vibe.core.errors import UserError

sys.path.insert(0, str(Path(__file__).parent))
from posttrain_helpers import chats, write_jsonl


def _config(base: Path, data: Path, out: Path, **training: int) -> PostTrainConfig:
    return PostTrainConfig(
        method="sft", base=base, data=data, out=out, in_process=True,
        training={"max_steps": 12, "micro_batch_size": 2, "global_batch_size": 4, "checkpoint_interval": 6, **training},
        optimizer={"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 0},
    )  # fmt: skip


def test_sft_learns_and_resumes_without_repeating_a_step(base_run: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "chat.jsonl", chats(12))
    out = tmp_path / "sft"
    result = posttrain(_config(base_run, data, out))
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 13))
    assert records[-1]["loss"] < records[0]["loss"] - 1.0
    assert (
        result.final_step == 12 and (out / "report.md").is_file() and (out / "chat_template.jinja").is_file()
    )
    with pytest.raises(UserError, match="already holds a run; add --resume to continue from step 12"):
        posttrain(_config(base_run, data, out, max_steps=16))
    longer = posttrain(_config(base_run, data, out, max_steps=16), resume=True)
    records = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, 17)) and longer.final_step == 16
    changed = _config(base_run, data, out, max_steps=20).model_copy(update={"dpo": {"beta": 0.3}})
    with pytest.raises(UserError, match=r"dpo\.beta differs"):
        posttrain(PostTrainConfig.model_validate(changed.model_dump()), resume=True)
    # the post-trained run is a run: a later stage (or evaluation) can start from it
    again = posttrain(_config(out, data, tmp_path / "sft2", max_steps=2))
    assert again.final_step == 2


def test_bad_data_fails_before_anything_runs(base_run: Path, tmp_path: Path) -> None:
    data = tmp_path / "chat.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    with pytest.raises(UserError, match=r"chat\.jsonl:1: empty loss mask"):
        posttrain(_config(base_run, data, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_two_data_parallel_ranks_under_ray_match_one(base_run: Path, tmp_path: Path, local_ray: str) -> None:
    # samples of very different lengths, so a per-rank mean would differ from the global token mean
    records = (
        chats(6)
        + [{"messages": [{"role": "user", "content": "long"}, {"role": "assistant", "content": "x " * 20}]}]
        * 2
    )
    data = write_jsonl(tmp_path / "chat.jsonl", records)
    one = _config(base_run, data, tmp_path / "dp1", max_steps=3, checkpoint_interval=0)
    two = one.model_copy(update={"out": tmp_path / "dp2", "in_process": False, "parallel": {"dp": 2}})
    posttrain(one)
    posttrain(PostTrainConfig.model_validate(two.model_dump()))
    loss1 = [r["loss"] for r in read_metrics(tmp_path / "dp1" / "metrics.jsonl")]
    loss2 = [r["loss"] for r in read_metrics(tmp_path / "dp2" / "metrics.jsonl")]
    assert loss2 == pytest.approx(loss1, rel=1e-4)


def test_packed_sft_trains_on_the_same_loss_as_unpacked(base_run: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "chat.jsonl", chats(8))
    plain = _config(
        base_run, data, tmp_path / "plain", max_steps=2, micro_batch_size=4, checkpoint_interval=0
    )
    packed = PostTrainConfig.model_validate(
        {
            **plain.model_dump(),
            "out": tmp_path / "packed",
            "training": {**plain.training.model_dump(), "pack": True},
        }
    )
    posttrain(plain)
    posttrain(packed)
    a = read_metrics(tmp_path / "plain" / "metrics.jsonl")
    b = read_metrics(tmp_path / "packed" / "metrics.jsonl")
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], abs=1e-4)
    assert [r["trained_tokens"] for r in b] == [r["trained_tokens"] for r in a]
