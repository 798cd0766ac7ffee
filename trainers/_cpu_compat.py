"""Everything Megatron-core 0.16.1 needs to train on a machine without CUDA, in one place.

Megatron-core has no CPU path; it assumes CUDA in a handful of places (measured in
``/work/shared/notes/megatron-cpu.md``). :func:`apply` patches the process-wide ones; with CUDA it only
fills in the one name MoE needs when TransformerEngine is absent (a GPU machine without TE, like the one
``bench/gpu_check.py`` runs on), so the GPU path otherwise runs unmodified Megatron. :func:`transformer_overrides` lists the
``TransformerConfig`` fields that must differ on CPU. The rest of the trainer is device-agnostic.

| Megatron assumes                                   | on CPU we                                                  |
|----------------------------------------------------|------------------------------------------------------------|
| ``torch.cuda.current_device()`` as a device        | answer ``"cpu"`` (global memory buffer, TP buffers)         |
| ``torch.cuda.synchronize()`` (checkpoint saving)   | a no-op: there is no device stream to wait for              |
| ``CudaRNGStatesTracker`` (``cuda.get_rng_state``)  | use the inference tracker: dropout draws from the CPU RNG   |
| weights allocated on the GPU                       | ``use_cpu_initialization=True``                            |
| fused kernels (apex / TransformerEngine)           | all fusions off, fp32                                      |
| ``te_general_gemm`` referenced without TE (MoE)    | define the module attribute as ``None`` (on GPU too)       |
| MoE ``alltoall`` dispatcher creates a CUDA stream  | ``moe_token_dispatcher_type="allgather"``                  |
| MoE + linear biases: in-place add on a view        | ``add_bias_linear=False`` (the trainer never uses biases)  |
| causal mask built with ``device="cuda"``           | the data pipeline always passes an explicit boolean mask   |
| ``get_megatron_optimizer`` allocates on CUDA       | plain ``torch.optim.AdamW`` and our own TP-aware clipping   |
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["apply", "cuda_available", "transformer_overrides"]

_applied = False


def cuda_available() -> bool:
    return torch.cuda.is_available()


def apply() -> None:
    """Patch the process-wide CUDA assumptions of Megatron-core; idempotent; with CUDA, only the TE one."""
    global _applied
    if _applied:
        return
    from megatron.core.transformer.moe import moe_utils

    if not hasattr(moe_utils, "te_general_gemm"):  # no TransformerEngine: on CPU, and on a GPU without it
        moe_utils.te_general_gemm = None  # type: ignore[attr-defined]
    if not cuda_available():
        torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment]
        torch.cuda.synchronize = lambda device=None: None  # type: ignore[assignment]

        from megatron.core.tensor_parallel import random as tp_random

        tp_random.initialize_rng_tracker(inference_rng_tracker=True, force_reset=True)
    _applied = True


def transformer_overrides() -> dict[str, Any]:
    """``TransformerConfig`` fields that must be set this way on CPU (empty on GPU)."""
    if cuda_available():
        return {}
    return {
        "use_cpu_initialization": True,
        "gradient_accumulation_fusion": False,
        "masked_softmax_fusion": False,
        "bias_activation_fusion": False,
        "bias_dropout_fusion": False,
        "apply_rope_fusion": False,
        "persist_layer_norm": False,
        "moe_token_dispatcher_type": "allgather",  # MoE only; ignored by dense models
    }
