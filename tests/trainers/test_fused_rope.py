"""The CPU fast path's fused RoPE and SwiGLU compute what Megatron's unfused ones compute, forward and backward."""

from __future__ import annotations

import torch
from megatron.core.models.common.embeddings import rope_utils
from script_run import run_script

from trainers import cpu_compat


def test_fused_rope_equals_megatrons_unfused_rope_and_its_gradient() -> None:
    s, b, heads, d = 16, 2, 3, 8
    torch.manual_seed(0)
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    freqs = torch.outer(torch.arange(s).float(), inv)
    freqs = torch.cat((freqs, freqs), dim=-1)[:, None, None]  # [s, 1, 1, d], as Megatron's RotaryEmbedding
    qkv = torch.randn(s, b, heads, 3 * d)
    t = qkv[..., :d].detach().requires_grad_()  # a strided view, as Megatron's split of the QKV output
    u = t.detach().clone().requires_grad_()
    upstream = torch.randn(s, b, heads, d)

    ours = cpu_compat.fused_rope(t, freqs)
    theirs = rope_utils._apply_rotary_pos_emb_bshd(u, freqs)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    (ours * upstream).sum().backward()
    (theirs * upstream).sum().backward()
    torch.testing.assert_close(t.grad, u.grad, rtol=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(
        cpu_compat.FusedRope.apply,
        (
            torch.randn(4, 1, 2, 6, dtype=torch.float64, requires_grad=True),
            torch.randn(4, 1, 1, 6, dtype=torch.float64),  # any cos / sin, halves unequal
            torch.randn(4, 1, 1, 6, dtype=torch.float64),
        ),
    )


def test_fused_swiglu_equals_the_unfused_swiglu_and_its_gradient() -> None:
    torch.manual_seed(0)
    y = torch.randn(6, 2, 10, requires_grad=True)
    u = y.detach().clone().requires_grad_()
    upstream = torch.randn(6, 2, 5)
    ours = cpu_compat.fused_swiglu(y)
    a, b = u.chunk(2, dim=-1)
    theirs = torch.nn.functional.silu(a) * b
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)
    (ours * upstream).sum().backward()
    (theirs * upstream).sum().backward()
    torch.testing.assert_close(y.grad, u.grad, rtol=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(
        cpu_compat.FusedSwiGLU.apply, (torch.randn(3, 8, dtype=torch.float64, requires_grad=True),)
    )


_SCRIPT = r"""
import json, os, torch, torch.distributed as dist
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["PORT"])
dist.init_process_group("gloo", rank=0, world_size=1)
from megatron.core import parallel_state
parallel_state.initialize_model_parallel(1, 1)
from megatron.core.transformer import attention, mlp
from trainers import ModelConfig, build_model, causal_mask

config = ModelConfig(preset=None, num_layers=2, hidden_size=64, num_attention_heads=4, seq_length=32)
torch.manual_seed(0)
model = build_model(config, vocab_size=100, tp=1, ep=1)
tokens = torch.randint(0, 100, (2, 32))
positions = torch.arange(32)[None].expand(2, -1)
mask = causal_mask(32, "cpu")

def loss_and_grads():
    model.zero_grad(set_to_none=True)
    loss = model(tokens, positions, mask, labels=tokens).mean()
    loss.backward()
    return loss.item(), [p.grad.clone() for p in model.parameters()]

fused_fn = attention.apply_rotary_pos_emb
swiglu_fn = mlp.bias_swiglu_impl
fusion_on = model.config.bias_activation_fusion  # routes the MLP through the fused SwiGLU
fused = loss_and_grads()
attention.apply_rotary_pos_emb = fused_fn.__wrapped__  # Megatron's own unfused RoPE
model.config.bias_activation_fusion = False  # Megatron's own unfused SwiGLU: silu(a) * (b + 0.0)
unfused = loss_and_grads()
print(json.dumps({
    "installed": fused_fn is not fused_fn.__wrapped__ and swiglu_fn is not swiglu_fn.__wrapped__ and fusion_on,
    "loss": abs(fused[0] - unfused[0]),
    "grad": max((a - b).abs().max().item() for a, b in zip(fused[1], unfused[1])),
}))
"""


def test_gpt_model_with_fused_rope_and_swiglu_has_the_unfused_models_loss_and_gradients() -> None:
    result = run_script(_SCRIPT)
    assert result["installed"]
    assert result["loss"] < 1e-6 and result["grad"] < 1e-6
