"""RunConfig validation: errors name the exact field, YAML round trips, presets resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainers import RunConfig, load_run_config
from vibe.core.config import ConfigError, dump_yaml


def _load(tmp_path: Path, text: str) -> RunConfig:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return load_run_config(path)


def test_tp_must_divide_heads_names_field_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "model:\n  preset: tiny\nparallel:\n  tp: 3\n")
    message = str(info.value)
    assert "run.yaml:4: parallel.tp: got 3; must divide model.num_attention_heads (4)" in message
    assert "[1, 2, 4]" in message


def test_ep_must_divide_experts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parallel\.ep: got 3; must divide model\.num_experts \(4\)"):
        _load(tmp_path, "model: {num_experts: 4}\nparallel: {dp: 3, ep: 3}\n")


def test_ep_must_divide_data_parallel_ranks(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parallel\.ep: got 4; must divide dp\*tp \(2\)"):
        _load(tmp_path, "model: {num_experts: 4}\nparallel: {dp: 2, ep: 4}\n")


def test_moe_with_tensor_parallel_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"parallel\.tp: got 2; must be 1 for MoE"):
        _load(tmp_path, "model: {num_experts: 4}\nparallel: {tp: 2}\n")


def test_global_batch_must_split_into_micro_batches(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"training\.global_batch_size: got 12; must be a multiple of .* \(8 \* 2"
    ):
        _load(tmp_path, "training: {micro_batch_size: 8, global_batch_size: 12}\nparallel: {dp: 2}\n")


def test_unknown_preset_and_unknown_field(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"model\.preset: got 'huge'; unknown preset; choose one of tiny, small"
    ):
        _load(tmp_path, "model: {preset: huge}\n")
    with pytest.raises(
        ConfigError, match=r"optimizer\.learning_rate: .*unknown field; allowed fields here: .*lr"
    ):
        _load(tmp_path, "optimizer: {learning_rate: 0.1}\n")


def test_explicit_sizes_override_the_preset() -> None:
    config = load_run_config(overrides={"model.preset": "small", "model.num_layers": 3})
    m = config.model
    assert (m.num_layers, m.hidden_size, m.num_attention_heads, m.seq_length) == (3, 384, 6, 256)
    assert m.ffn_size == 1024  # SwiGLU: 8h/3 rounded up to a multiple of 64


def test_yaml_round_trip_and_flags_override(tmp_path: Path) -> None:
    config = RunConfig.model_validate(
        {"model": {"num_experts": 4}, "parallel": {"dp": 2, "ep": 2}, "data": {"sources": [{"path": "d"}]}}
    )
    dump_yaml(config, tmp_path / "run.yaml")
    assert load_run_config(tmp_path / "run.yaml") == config
    overridden = load_run_config(tmp_path / "run.yaml", overrides={"training.max_steps": 7})
    assert overridden.training.max_steps == 7 and overridden.model.num_experts == 4
