"""Weight sync after an RL update into a real vLLM server (llm tier): the trainer's weights are exported and
reloaded in place through the server's development endpoint (``/collective_rpc reload_weights``), confirmed by
the greedy probe matching the trainer's own greedy output. The server is this test's own (a reload would
disturb the shared one), serving a tiny Vibe model (head size 32, which vLLM's CPU attention supports)."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tools.posttrain import run_rl
from trainers import read_metrics
from trainers.posttrain import PostTrainConfig, read_base_run

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))
sys.path.insert(0, str(Path(__file__).parents[2] / "trainers" / "posttrain"))
sys.path.insert(0, str(Path(__file__).parents[2] / "vibe" / "tracking"))
from mlflow_server import free_port
from posttrain_helpers import make_base_run, write_jsonl
from tiny_dataset import build_tiny_dataset

pytestmark = pytest.mark.llm


def _greedy(url: str, ids: list[int], n: int) -> tuple[list[int], list[float]]:
    """The served model's greedy continuation of ``ids`` and its log-probs."""
    body = {"model": "policy", "prompt": [ids], "max_tokens": n, "temperature": 0.0, "ignore_eos": True,
            "return_token_ids": True, "logprobs": 0}  # fmt: skip
    choice = httpx.post(f"{url}/v1/completions", json=body, timeout=120).json()["choices"][0]
    return list(choice["token_ids"]), [float(x) for x in choice["logprobs"]["token_logprobs"]]


def test_an_rl_update_reaches_the_running_vllm_server_by_reload(
    tmp_path: Path, rule_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trainers.hf import export_run
    from vibe.llm import ServerConfig, serve, stop_server

    data = build_tiny_dataset(tmp_path / "data")
    base = make_base_run(data, tmp_path / "base", model={"num_attention_heads": 2, "seq_length": 128})
    served = export_run(base, tmp_path / "served", verify_logits=False)
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": f"write {w}"} for w in "abcd"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("VLLM_SERVER_DEV_MODE", "1")  # the server exposes /collective_rpc
    config = PostTrainConfig.model_validate(
        {
            "method": "rl", "base": str(base), "data": str(prompts), "out": str(tmp_path / "rl"), "in_process": True,
            "training": {"max_steps": 1, "global_batch_size": 2, "micro_batch_size": 8, "checkpoint_interval": 0},
            "optimizer": {"lr": 5e-2, "min_lr": 5e-2, "warmup_steps": 0},
            "rl": {"policies": [str(rule_file)], "group_size": 4, "max_new_tokens": 8,
                   "generator": {"kind": "vllm", "url": url, "model": "policy", "sync": "reload"}},
            "tracking": {"enabled": False},
        }
    )  # fmt: skip
    probe = read_base_run(base).encoder()("<|im_start|>user\nwrite a<|im_end|>\n<|im_start|>assistant\n")
    try:
        serve(ServerConfig(port=port, model=served.out, served_model_name="policy", max_model_len=128))
        before = _greedy(url, probe, 8)
        run_rl(config)
        (record,) = read_metrics(tmp_path / "rl" / "metrics.jsonl")
        assert record["sync"] == "reload" and record["probe_ok"] is True  # in place, confirmed by the probe
        assert 0.5 < record["ratio_mean"] < 2.0  # vLLM's log-probs are the trainer's model's
        after = _greedy(url, probe, 8)
        # the server now serves the updated weights, not the base's: the same tokens score differently
        assert after[1] != pytest.approx(before[1], abs=1e-6)
    finally:
        stop_server(port=port)
