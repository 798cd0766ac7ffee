"""A model Vibe trained from scratch (its dataset's tokenizer, Vibe's defaults) exports to a loadable HF model."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainers import RunConfig, build_model, save_checkpoint, single_rank
from trainers.hf import export_run
from vibe.core.config import dump_yaml
from vibe.core.errors import UserError


def _run_dir(tmp_path: Path, data: Path, **model: object) -> Path:
    """A run directory as `vibe train` leaves it (config.yaml + a checkpoint), its weights seeded at random."""
    config = RunConfig.model_validate(
        {
            "out": str(tmp_path / "run"),
            "model": {"preset": "tiny", **model},
            "data": {"sources": [{"path": str(data)}]},
        }
    )
    config.out.mkdir(parents=True)
    dump_yaml(config, config.out / "config.yaml")
    with single_rank(seed=3):
        gpt = build_model(config.model, vocab_size=768, tp=1, ep=1)
        save_checkpoint(
            config.out,
            model=gpt,
            optimizer=None,
            step=5,
            meta={"layout": {"dp": 1, "tp": 1, "ep": 1}},
            keep=1,
        )
    return config.out


@pytest.mark.parametrize("model", [{}, {"num_experts": 4, "moe_router_topk": 2}], ids=["dense", "moe"])
def test_a_scratch_run_exports_with_its_dataset_tokenizer(
    tiny_data: Path, tmp_path: Path, model: dict
) -> None:
    import transformers

    result = export_run(_run_dir(tmp_path, tiny_data, **model), tmp_path / "hf")
    assert result.ok, result.record["verification"]
    expected = "MixtralForCausalLM" if model else "LlamaForCausalLM"
    assert result.record["architecture"] == expected and result.record["step"] == 5
    config = transformers.AutoConfig.from_pretrained(tmp_path / "hf")
    assert config.vocab_size == 768 and config.rope_parameters["rope_theta"] == 10000.0
    assert not config.tie_word_embeddings and config.num_key_value_heads == 4
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert tokenizer.eos_token == "<|endoftext|>"


def test_a_gelu_model_has_no_hf_llama_equivalent(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"model.swiglu: false"):
        export_run(_run_dir(tmp_path, tiny_data, swiglu=False), tmp_path / "hf")
    assert not (tmp_path / "hf").exists()
