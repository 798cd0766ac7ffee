"""The SDPA core attention computes what Megatron's own local DotProductAttention computes."""

from __future__ import annotations

from script_run import run_script

_SCRIPT = r"""
import json, os, torch, torch.distributed as dist
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["PORT"])
dist.init_process_group("gloo", rank=0, world_size=1)
from megatron.core import parallel_state
parallel_state.initialize_model_parallel(1, 1)
from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
from trainers import _model
from trainers._config import ModelConfig

config = ModelConfig(preset=None, num_layers=2, hidden_size=64, num_attention_heads=4, seq_length=32)
torch.manual_seed(0)
ours = _model.build_model(config, vocab_size=100, tp=1, ep=1)
_model._layer_spec = lambda m: get_gpt_layer_local_spec(normalization="RMSNorm")  # Megatron's stock spec
stock = _model.build_model(config, vocab_size=100, tp=1, ep=1)
stock.load_state_dict(ours.state_dict())
tokens = torch.randint(0, 100, (2, 32))
positions = torch.arange(32)[None].expand(2, -1)
mask = _model.causal_mask(32, "cpu")
a, b = ours(tokens, positions, mask, labels=tokens), stock(tokens, positions, mask, labels=tokens)
a.mean().backward(); b.mean().backward()
grads = [(p.grad - q.grad).abs().max().item() for p, q in zip(ours.parameters(), stock.parameters())]
print(json.dumps({
    "kinds": [type(m.decoder.layers[0].self_attention.core_attention).__name__ for m in (ours, stock)],
    "loss": (a - b).abs().max().item(), "grad": max(grads),
}))
"""


def test_sdpa_attention_matches_megatrons_local_attention() -> None:
    result = run_script(_SCRIPT)
    assert result["kinds"] == ["SDPAttention", "DotProductAttention"]
    assert result["loss"] < 1e-5 and result["grad"] < 1e-6
