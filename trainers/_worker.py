"""The training loop that runs in every Ray Train worker (one process per rank).

Ray has already created the torch.distributed process group (gloo on CPU, nccl on GPU); this module
builds Megatron's model-parallel groups on it, the model (wrapped in Megatron DDP), data, optimizer, and
runs ``training.max_steps`` optimizer updates. Per step: zero the DDP grad buffer, forward/backward each
micro batch (loss / num_microbatches), ``finish_grad_sync`` (DP all-reduce), clip, AdamW step. Rank 0
appends one record per logged step to ``metrics.jsonl``; all ranks save checkpoints together.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from megatron.core import parallel_state, tensor_parallel
from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig

from trainers import _cpu_compat
from trainers._arithmetic import gpu_peak_flops
from trainers._checkpoint import load_checkpoint, save_checkpoint
from trainers._config import RunConfig
from trainers._data import Batch, build_datasets, micro_batches, valid_batches
from trainers._metrics import MetricsWriter
from trainers._model import build_model, causal_mask, flops_per_token
from trainers._optim import build_optimizer, clip_grad_norm, lr_at
from vibe.core.log import ROOTS

__all__ = ["ValidResult", "initialize_parallel", "loss_of", "train_loop", "validate"]

log = logging.getLogger(__name__)


def initialize_parallel(config: RunConfig, *, seed: int) -> None:
    """Megatron's TP / EP / DP groups on the existing process group, and the seeds (same on all ranks)."""
    _cpu_compat.apply()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=config.parallel.tp,
        pipeline_model_parallel_size=1,
        expert_model_parallel_size=config.parallel.ep,
        expert_tensor_parallel_size=1,
    )
    torch.manual_seed(seed)  # CPU init draws full weights from this RNG, then shards: layout-independent
    if torch.cuda.is_available():
        tensor_parallel.model_parallel_cuda_manual_seed(seed)


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def loss_of(model: torch.nn.Module, batch: Batch, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of per-token NLL over unmasked tokens, number of those tokens) for one batch."""
    per_token = model(batch.tokens, batch.position_ids, mask, labels=batch.labels)  # [b, s] nats
    return (per_token.float() * batch.loss_mask).sum(), batch.loss_mask.sum()


class ValidResult(dict):
    """{"val_loss": nats/token, "val_bpb": bits/byte, "val_tokens": tokens predicted}."""


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    dataset: Any,
    *,
    batch_size: int,
    seq_length: int,
    device: torch.device,
    precision: str,
    tokens_per_byte: float,
    max_batches: int | None = None,
) -> ValidResult:
    """Mean validation loss over this DP group's share, all-reduced; bpb = loss·tokens/bytes/ln 2."""
    was_training = model.training
    model.eval()
    mask = causal_mask(seq_length, device)
    totals = torch.zeros(2, dtype=torch.float64, device=device)  # [nll sum, tokens]
    for batch in valid_batches(
        dataset,
        batch_size=batch_size,
        dp_rank=parallel_state.get_data_parallel_rank(),
        dp_size=parallel_state.get_data_parallel_world_size(),
        max_batches=max_batches,
    ):
        with _autocast(device, precision):
            nll, count = loss_of(model, batch.to(device), mask)
        totals += torch.stack([nll.double(), count.double()])
    if parallel_state.get_data_parallel_world_size() > 1:
        dist.all_reduce(totals, group=parallel_state.get_data_parallel_group())
    _clear_moe_tracker()
    model.train(was_training)
    loss = (totals[0] / totals[1].clamp(min=1)).item()
    return ValidResult(val_loss=loss, val_bpb=loss * tokens_per_byte / math.log(2), val_tokens=int(totals[1]))


def _clear_moe_tracker() -> None:
    from megatron.core.transformer.moe.moe_utils import clear_aux_losses_tracker

    clear_aux_losses_tracker()


def _moe_aux_loss(num_layers: int, num_microbatches: int) -> float | None:
    """Mean load-balancing loss (before its coefficient) over layers and micro batches of the last step."""
    from megatron.core.transformer.moe.moe_utils import (
        get_moe_layer_wise_logging_tracker,
        reduce_aux_losses_tracker_across_ranks,
    )

    tracker = get_moe_layer_wise_logging_tracker()
    if "load_balancing_loss" not in tracker:
        return None
    reduce_aux_losses_tracker_across_ranks(["load_balancing_loss"])
    value = tracker["load_balancing_loss"]["values"].sum().item() / num_layers / num_microbatches
    _clear_moe_tracker()
    return value


def _check_attempt(run_dir: Path, attempt: str) -> None:
    """Stop if a newer driver took this run over (its ``attempt`` file changed): an orphaned worker of a
    killed driver must not write records or checkpoints into the resumed run."""
    current = (run_dir / "attempt").read_text().strip()
    if current != attempt:
        raise RuntimeError(f"attempt {attempt} was superseded by {current}; stopping this worker")


def _setup_logging(run_dir: Path, rank: int) -> None:
    handler = logging.FileHandler(run_dir / "logs" / f"worker_{rank}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    levels = {**dict.fromkeys(ROOTS, logging.INFO), "megatron": logging.WARNING, "py.warnings": logging.INFO}
    for name, level in levels.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False
    logging.captureWarnings(True)


def train_loop(payload: dict[str, Any]) -> None:
    """Ray Train's ``train_loop_per_worker``.

    ``payload``: config (JSON), threads, precision, peak_flops_per_worker, start_step, attempt.
    """
    config = RunConfig.model_validate(payload["config"])
    run_dir = Path(config.out)
    rank = dist.get_rank()
    _setup_logging(run_dir, rank)
    torch.set_num_threads(payload["threads"])
    if torch.cuda.is_available():
        import ray.train.torch

        torch.cuda.set_device(ray.train.torch.get_device())  # the GPU Ray assigned to this worker
    import ray

    log.info(
        "rank %d/%d pid %d threads %d ray %s",
        rank,
        dist.get_world_size(),
        os.getpid(),
        payload["threads"],
        ray.get_runtime_context().gcs_address,
    )
    try:
        _train(config, run_dir, payload)
    except BaseException:
        log.exception("rank %d failed", rank)
        raise
    finally:
        parallel_state.destroy_model_parallel()


def _train(config: RunConfig, run_dir: Path, payload: dict[str, Any]) -> None:
    rank, world = dist.get_rank(), dist.get_world_size()
    t, m = config.training, config.model
    device = (
        torch.device("cuda", torch.cuda.current_device())
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    precision = payload["precision"]
    initialize_parallel(config, seed=t.seed)
    dp_rank = parallel_state.get_data_parallel_rank()

    cache = config.data.cache_dir or run_dir / "cache"
    tokenizer, train_ds, valid_ds, sources = build_datasets(config, cache_dir=cache)
    tokens_per_byte = sum(s.valid_tokens for s in sources) / max(1, sum(s.valid_bytes for s in sources))
    vocab = tokenizer.vocab_size

    model = build_model(m, vocab_size=vocab, tp=config.parallel.tp, ep=config.parallel.ep)
    ddp = DistributedDataParallel(
        model.config,
        DistributedDataParallelConfig(
            grad_reduce_in_fp32=True, overlap_grad_reduce=False, use_distributed_optimizer=False
        ),
        model,
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = build_optimizer(model, config.optimizer)
    layout = {"dp": config.parallel.dp, "tp": config.parallel.tp, "ep": config.parallel.ep}

    start = payload["start_step"]  # the checkpoint the driver resumed from (0: a fresh start)
    if start:
        ckpt = run_dir / "checkpoints" / f"step_{start:07d}"
        saved = json.loads((ckpt / "meta.json").read_text())
        if saved.get("layout") != layout:
            raise RuntimeError(
                f"checkpoint {ckpt} was written with layout {saved.get('layout')}, this run uses "
                f"{layout}; resume with the checkpoint's parallel layout"
            )
        load_checkpoint(ckpt, model=model, optimizer=optimizer)
        log.info("resumed from %s", ckpt)

    peak = payload.get("peak_flops_per_worker")
    if peak is None and device.type == "cuda":
        peak = gpu_peak_flops(torch.cuda.get_device_name(device))
    flops_token = flops_per_token(m, vocab_size=vocab)
    tokens_per_step = t.global_batch_size * m.seq_length
    nmb = config.num_microbatches
    mask = causal_mask(m.seq_length, device)
    writer = MetricsWriter(run_dir / "metrics.jsonl") if rank == 0 else None
    if m.num_experts is not None:
        from megatron.core.transformer.moe.moe_utils import MoEAuxLossAutoScaler

        MoEAuxLossAutoScaler.set_loss_scale(torch.tensor(1.0 / nmb, device=device))

    eval_kwargs = dict(
        batch_size=t.micro_batch_size,
        seq_length=m.seq_length,
        device=device,
        precision=precision,
        tokens_per_byte=tokens_per_byte,
    )
    model.train()
    t_start = time.perf_counter()
    window_s, window_steps = 0.0, 0  # step compute time since the last record (eval, checkpoints excluded)
    last: dict[str, Any] = {}
    for step in range(start + 1, t.max_steps + 1):
        step_start = time.perf_counter()
        lr = lr_at(config.optimizer, step=step, max_steps=t.max_steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        ddp.zero_grad_buffer()
        loss_sum = torch.zeros((), device=device)
        for batch in micro_batches(config, train_ds, step=step, dp_rank=dp_rank):
            with _autocast(device, precision):
                nll, count = loss_of(ddp, batch.to(device), mask)
            loss = nll / count.clamp(min=1)
            (loss / nmb).backward()
            loss_sum += loss.detach()
        ddp.finish_grad_sync()
        grad_norm = clip_grad_norm(params, config.optimizer.clip_grad)
        for p in params:
            p.grad = p.main_grad
        optimizer.step()
        for p in params:
            p.grad = None
        step_loss = loss_sum / nmb
        if parallel_state.get_data_parallel_world_size() > 1:
            dist.all_reduce(step_loss, group=parallel_state.get_data_parallel_group(), op=dist.ReduceOp.AVG)
        aux = _moe_aux_loss(m.num_layers, nmb) if m.num_experts is not None else None
        window_s += time.perf_counter() - step_start
        window_steps += 1

        last_step = step == t.max_steps
        val: dict[str, Any] = {}
        if last_step or (t.eval_interval and step % t.eval_interval == 0):
            val = validate(model, valid_ds, max_batches=None if last_step else t.eval_iters, **eval_kwargs)
        if step % t.log_interval == 0 or last_step or val:
            tokens_per_s = tokens_per_step * window_steps / window_s
            record = {
                "step": step,
                "loss": step_loss.item(),
                "lr": lr,
                "grad_norm": grad_norm,
                "tokens_per_s": tokens_per_s,
                "mfu": flops_token * tokens_per_s / (peak * world) if peak else None,
                "consumed_samples": step * t.global_batch_size,
                "tokens": step * tokens_per_step,
                "train_s": time.perf_counter() - t_start,  # in the step loop, this attempt
                "time": time.time(),
            }
            if aux is not None:
                record["aux_loss"] = aux
            record.update(val)
            if writer is not None:
                _check_attempt(run_dir, payload["attempt"])
                writer.write(record)
            last = record
            window_s, window_steps = 0.0, 0
        if last_step or (t.checkpoint_interval and step % t.checkpoint_interval == 0):
            _check_attempt(run_dir, payload["attempt"])
            save_checkpoint(
                run_dir,
                model=model,
                optimizer=optimizer,
                step=step,
                meta={"consumed_samples": step * t.global_batch_size, "layout": layout},
                keep=t.keep_checkpoints,
            )
    if writer is not None:
        writer.close()
    log.info(
        "rank %d done: steps %d..%d in %.1fs, last %s",
        rank,
        start + 1,
        t.max_steps,
        time.perf_counter() - t_start,
        last,
    )
