"""The Megatron compatibility patches: the TransformerEngine gap of MoE is filled on GPUs without TE too."""

from __future__ import annotations

import pytest
import torch

from trainers import cpu_compat as _cpu_compat


def test_moe_router_works_without_transformer_engine_when_cuda_is_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from megatron.core.transformer.moe import moe_utils

    # A GPU machine without TransformerEngine: CUDA "available", the TE name absent, nothing applied yet.
    monkeypatch.setattr(_cpu_compat, "cuda_available", lambda: True)
    monkeypatch.setattr(_cpu_compat, "_applied", False)
    monkeypatch.delattr(moe_utils, "te_general_gemm", raising=False)
    current_device = torch.cuda.current_device
    _cpu_compat.apply()
    assert moe_utils.te_general_gemm is None
    assert torch.cuda.current_device is current_device  # the CPU-only patches were not applied
    assert _cpu_compat.transformer_overrides() == {}  # and the GPU keeps Megatron's own defaults

    # The MoE router's gating linear (which reads that name) now falls back to a plain matmul.
    x, w = torch.randn(5, 8), torch.randn(4, 8)
    logits = moe_utils.router_gating_linear(x, w, None, torch.float32)
    torch.testing.assert_close(logits, x @ w.t())
