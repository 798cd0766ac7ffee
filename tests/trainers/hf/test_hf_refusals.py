"""What cannot be converted exactly is refused, naming the field or file; nothing half-written is left."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tiny_hf import tiny_config, write_model

from trainers.hf import import_model, read_hf_config
from vibe.core.errors import UserError


def _edit_config(src: Path, **changes: Any) -> None:
    config = json.loads((src / "config.json").read_text())
    config.update(changes)
    (src / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("hf") / "src", tiny_config("llama"))


def _copy(source: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(source, tmp_path / "src"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"architectures": ["GPT2LMHeadModel"]}, "architectures"),
        ({"hidden_act": "gelu"}, "hidden_act"),
        ({"attention_bias": True}, "attention_bias"),
        ({"sliding_window": 4096}, "sliding_window"),
        (
            {"rope_parameters": {"rope_theta": 1e4, "rope_type": "yarn", "factor": 4.0}},
            "rope_parameters.rope_type",
        ),
        (
            {
                "rope_parameters": {
                    "rope_theta": 1e4,
                    "rope_type": "llama3",
                    "factor": 8.0,
                    "low_freq_factor": 2.0,
                }
            },
            "rope_parameters.low_freq_factor",
        ),
        ({"quantization_config": {"quant_method": "gptq"}}, "quantization_config"),
    ],
)
def test_unsupported_options_are_refused_by_name(
    source: Path, tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    src = _copy(source, tmp_path)
    _edit_config(src, **changes)
    with pytest.raises(UserError, match=rf"{field}="):
        import_model(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_llama3_rope_with_megatrons_constants_is_carried(source: Path, tmp_path: Path) -> None:
    src = _copy(source, tmp_path)
    rope = {
        "rope_theta": 5e4,
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192,
    }
    _edit_config(src, rope_parameters=rope)
    spec = read_hf_config(src)
    assert spec.model.rope_scaling is not None and spec.model.rope_scaling.type == "llama3"


def test_a_config_that_disagrees_with_the_weights(source: Path, tmp_path: Path) -> None:
    src = _copy(source, tmp_path)
    _edit_config(src, num_key_value_heads=4)  # the weights have 2 KV heads
    with pytest.raises(
        UserError, match=r"k_proj.weight has shape \(32, 64\) but config.json implies \(64, 64\)"
    ):
        import_model(src, tmp_path / "out")


def test_truncated_and_missing_safetensors(source: Path, tmp_path: Path) -> None:
    src = _copy(source, tmp_path)
    weights = src / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(UserError, match=r"model.safetensors: cannot be read as safetensors .*truncated"):
        import_model(src, tmp_path / "out")
    weights.unlink()
    with pytest.raises(UserError, match=r"no model.safetensors"):
        import_model(src, tmp_path / "out2")
    (src / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors"}})
    )
    with pytest.raises(UserError, match=r"model-00001-of-00002.safetensors: missing"):
        import_model(src, tmp_path / "out3")


def test_a_tokenizer_that_does_not_belong_to_the_weights(source: Path, tmp_path: Path) -> None:
    from tiny_hf import write_tokenizer

    src = _copy(source, tmp_path)
    write_tokenizer(src, vocab_size=400)  # more tokens than the model's 301 embeddings
    with pytest.raises(UserError, match=r"tokenizer.json: \d+ tokens, but config.json vocab_size is 301"):
        import_model(src, tmp_path / "out")
    (src / "tokenizer.json").unlink()
    with pytest.raises(UserError, match=r"tokenizer.json: missing"):
        import_model(src, tmp_path / "out2")


def test_output_must_be_new(source: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match=r"exists and is not empty"):
        import_model(source, tmp_path / "out")
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
