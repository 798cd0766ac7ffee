"""The training loop that runs in every worker (one process per rank): under Ray Train, or without Ray.

Under Ray (:func:`train_loop`) Ray has already created the torch.distributed process group (gloo on CPU,
nccl on GPU); without Ray (:func:`run_worker`, e.g. one process on one GPU) the caller creates it. This
module builds Megatron's model-parallel groups on it, the model (wrapped in Megatron DDP), data, optimizer, and
runs ``training.max_steps`` optimizer updates. Per step: zero the DDP grad buffer, forward/backward each
micro batch (loss / num_microbatches), ``finish_grad_sync`` (DP all-reduce), clip, AdamW step. Rank 0
appends one record per logged step to ``metrics.jsonl``; all ranks save checkpoints together.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from megatron.core import parallel_state, tensor_parallel

from trainers import _cpu_compat
from trainers._arithmetic import gpu_peak_flops
from trainers._checkpoint import load_model_weights
from trainers._config import RunConfig
from trainers._data import Batch, build_datasets, micro_batches, valid_batches
from trainers._metrics import MetricsWriter
from trainers._model import build_model, causal_mask, flops_per_token
from trainers._update import Updater, worker_device
from vibe.core.log import ROOTS

__all__ = ["ValidResult", "initialize_parallel", "loss_of", "run_worker", "train_loop", "validate"]

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


def check_attempt(run_dir: Path, attempt: str | None) -> None:
    """Stop if a newer driver took this run over (its ``attempt`` file changed): an orphaned worker of a
    killed driver must not write records or checkpoints into the resumed run. ``None``: nothing to check."""
    if attempt is None:
        return
    current = (run_dir / "attempt").read_text().strip()
    if current != attempt:
        raise RuntimeError(f"attempt {attempt} was superseded by {current}; stopping this worker")


def await_verdict(run_dir: Path, attempt: str | None, step: int, *, timeout_s: float = 600.0) -> bool:
    """Hold at ``step`` until the driver's ``RUN_DIR/verdict`` names ``step`` or a later one (go on), or the
    attempt token changes (the driver stopped the run: raises as :func:`check_attempt` does). A search's
    driver asks for this at its pruner's rungs (``payload["hold_at"]``), so a pruned trial trains no step
    past its rung however busy the machine. Returns False when ``timeout_s`` passed without a verdict (a
    driver gone: the run goes on, as it would without the hold)."""
    deadline, path = time.monotonic() + timeout_s, run_dir / "verdict"
    while True:
        check_attempt(run_dir, attempt)
        try:
            if int(path.read_text().strip() or -1) >= step:
                return True
        except (FileNotFoundError, ValueError):
            pass
        if time.monotonic() > deadline:
            log.warning("no verdict from the driver at step %d after %.0fs; training on", step, timeout_s)
            return False
        time.sleep(0.005)


_WORKER_LEVELS = {
    **dict.fromkeys(ROOTS, logging.INFO),
    "megatron": logging.WARNING,
    "py.warnings": logging.INFO,
}


def setup_worker_logging(run_dir: Path, rank: int) -> logging.Handler:
    """Vibe's and Megatron's records (and warnings) into ``logs/worker_<rank>.log``, for the rest of this
    process (a worker process of its own); returns the handler."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "logs" / f"worker_{rank}.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name, level in _WORKER_LEVELS.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False
    logging.captureWarnings(True)
    return handler


@contextlib.contextmanager
def _worker_logging(run_dir: Path, rank: int) -> Iterator[None]:
    """:func:`setup_worker_logging` while the loop runs; the loggers are restored after, so a process that runs the
    loop in-process (a test, a benchmark, an HPO task) keeps its own logging."""
    saved = [(logger, logger.level, logger.propagate) for logger in map(logging.getLogger, _WORKER_LEVELS)]
    handler = setup_worker_logging(run_dir, rank)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, level, propagate in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)
            logger.propagate = propagate
        handler.close()


def train_loop(payload: dict[str, Any]) -> None:
    """Ray Train's ``train_loop_per_worker``: :func:`run_worker` on the GPU Ray assigned to this worker.

    ``payload``: config (JSON), threads, precision, peak_flops_per_worker, start_step, attempt.
    """
    import ray

    if torch.cuda.is_available():
        import ray.train.torch

        torch.cuda.set_device(ray.train.torch.get_device())  # the GPU Ray assigned to this worker
    config = RunConfig.model_validate(payload["config"])
    run_worker(config, {**payload, "ray_address": ray.get_runtime_context().gcs_address})


def run_worker(config: RunConfig, payload: Mapping[str, Any]) -> None:
    """Train ``config`` as this process's rank of an existing ``torch.distributed`` group; no Ray needed.

    The caller has created the process group (gloo on CPU, nccl on GPU) with
    ``config.parallel.world_size`` ranks, chosen this rank's GPU (``torch.cuda.set_device``) where there is
    one, and prepared ``config.out`` (``launch`` does all three under Ray; writing ``config.yaml`` there lets
    ``open_run`` evaluate the run). ``payload``: ``precision`` ("fp32" | "bf16"), and optionally ``threads``
    (torch threads; unset: unchanged), ``peak_flops_per_worker`` (the MFU denominator; unset: the known peak
    of the GPU), ``start_step`` (the checkpoint to resume from; 0: a fresh start) and ``attempt`` (the run's
    ownership token in ``RUN_DIR/attempt``, checked before each write; unset: no check).
    """
    if not dist.is_initialized():
        raise ValueError("run_worker: no torch.distributed process group; call dist.init_process_group first")
    if dist.get_world_size() != config.parallel.world_size:
        raise ValueError(
            f"run_worker: the process group has {dist.get_world_size()} ranks, config.parallel asks for "
            f"{config.parallel.world_size} (dp * tp)"
        )
    run_dir = Path(config.out)
    rank = dist.get_rank()
    with _worker_logging(run_dir, rank):
        threads = payload.get("threads")
        if threads:
            torch.set_num_threads(threads)
        log.info(
            "rank %d/%d pid %d threads %d ray %s",
            rank,
            dist.get_world_size(),
            os.getpid(),
            torch.get_num_threads(),
            payload.get("ray_address") or "-",
        )
        try:
            _train(config, run_dir, payload)
        except BaseException:
            log.exception("rank %d failed", rank)
            raise
        finally:
            parallel_state.destroy_model_parallel()


@dataclass(frozen=True, kw_only=True)
class _Session:
    """What one rank trains with: built by :func:`_start`, stepped by :func:`_step`."""

    config: RunConfig
    run_dir: Path
    payload: Mapping[str, Any]
    device: torch.device
    dp_rank: int
    model: torch.nn.Module
    updater: Updater
    ddp: torch.nn.Module
    train_ds: Any
    valid_ds: Any
    mask: torch.Tensor
    writer: MetricsWriter | None  # rank 0 writes metrics.jsonl
    start: int  # the checkpoint the driver resumed from (0: a fresh start)
    peak: float | None  # the MFU denominator per worker (None: unknown, no MFU)
    flops_token: float
    eval_kwargs: dict[str, Any]


def _train(config: RunConfig, run_dir: Path, payload: Mapping[str, Any]) -> None:
    """Train this rank from its start step to ``training.max_steps``: each step, then a record at the log,
    eval and last steps (its throughput over the steps since the last record), a checkpoint at the
    checkpoint and last steps."""
    run = _start(config, run_dir, payload)
    t, m = config.training, config.model
    tokens_per_step = t.global_batch_size * m.seq_length
    run.model.train()
    compile_s = _compile_warm_up(run) if t.compile else None
    t_start = time.perf_counter()
    window_s, window_steps = 0.0, 0  # step compute time since the last record (eval, checkpoints excluded)
    hold_at = set(run.payload.get("hold_at") or ())
    hold_s = float(run.payload.get("hold_timeout_s", 600.0))
    last: dict[str, Any] = {}
    for step in range(run.start + 1, t.max_steps + 1):
        step_start = time.perf_counter()
        lr, step_loss, grad_norm, aux = _step(run, step)
        window_s += time.perf_counter() - step_start
        window_steps += 1

        last_step = step == t.max_steps
        val: dict[str, Any] = {}
        if last_step or (t.eval_interval and step % t.eval_interval == 0):
            batches = None if last_step else t.eval_iters
            val = validate(run.model, run.valid_ds, max_batches=batches, **run.eval_kwargs)
        if step % t.log_interval == 0 or last_step or val:
            record = {
                "step": step,
                "loss": step_loss.item(),
                "lr": lr,
                "grad_norm": grad_norm,
                **_throughput(run, tokens_per_s=tokens_per_step * window_steps / window_s),
                "consumed_samples": step * t.global_batch_size,
                "tokens": step * tokens_per_step,
                "train_s": time.perf_counter() - t_start,  # in the step loop, this attempt
                "time": time.time(),
            }
            if compile_s is not None:  # once, in the first record: the warm-up, in no step's time
                record["compile_s"], compile_s = compile_s, None
            _write_record(run, record, aux=aux, val=val)
            last = record
            window_s, window_steps = 0.0, 0
            if val and not last_step and step in hold_at:  # a pruner's rung: wait for the driver's verdict
                await_verdict(run.run_dir, run.payload.get("attempt"), step, timeout_s=hold_s)
        if last_step or (t.checkpoint_interval and step % t.checkpoint_interval == 0):
            _checkpoint(run, step)
    _stop(run, elapsed=time.perf_counter() - t_start, last=last)


def _start(config: RunConfig, run_dir: Path, payload: Mapping[str, Any]) -> _Session:
    """The parallel groups, the datasets, the model (its initial or resumed weights), the optimizer, the
    metrics writer: everything a step needs."""
    t, m = config.training, config.model
    device = worker_device()
    initialize_parallel(config, seed=t.seed)
    dp_rank = parallel_state.get_data_parallel_rank()

    cache = config.data.cache_dir or run_dir / "cache"
    tokenizer, train_ds, valid_ds, sources = build_datasets(config, cache_dir=cache)
    tokens_per_byte = sum(s.valid_tokens for s in sources) / max(1, sum(s.valid_bytes for s in sources))
    vocab = m.padded_vocab_size(tokenizer.vocab_size)  # embedding rows

    model = build_model(
        m,
        vocab_size=vocab,
        tp=config.parallel.tp,
        ep=config.parallel.ep,
        real_vocab=m.vocab_size or tokenizer.vocab_size,
        compile=t.compile,
    )
    if payload.get("init_checkpoint"):  # weights only (any layout reshards); optimizer and schedule fresh
        load_model_weights(Path(payload["init_checkpoint"]), model)
        log.info("initialised from %s", payload["init_checkpoint"])
    layout = {"dp": config.parallel.dp, "tp": config.parallel.tp, "ep": config.parallel.ep}
    updater = Updater(model, config.optimizer, layout=layout, max_steps=t.max_steps)
    ddp = updater.ddp
    start = payload.get("start_step", 0)  # the checkpoint the driver resumed from (0: a fresh start)
    if start:
        updater.resume(run_dir, start)

    peak = payload.get("peak_flops_per_worker")
    if peak is None and device.type == "cuda":
        peak = gpu_peak_flops(torch.cuda.get_device_name(device))
    flops_token = flops_per_token(m, vocab_size=vocab)
    mask = causal_mask(m.seq_length, device)
    writer = MetricsWriter(run_dir / "metrics.jsonl") if dist.get_rank() == 0 else None
    if m.num_experts is not None:
        from megatron.core.transformer.moe.moe_utils import MoEAuxLossAutoScaler

        MoEAuxLossAutoScaler.set_loss_scale(torch.tensor(1.0 / config.num_microbatches, device=device))

    eval_kwargs = dict(
        batch_size=t.micro_batch_size,
        seq_length=m.seq_length,
        device=device,
        precision=payload["precision"],
        tokens_per_byte=tokens_per_byte,
    )
    return _Session(config=config, run_dir=run_dir, payload=payload, device=device, dp_rank=dp_rank,
                    model=model, updater=updater, ddp=ddp, train_ds=train_ds, valid_ds=valid_ds, mask=mask,
                    writer=writer, start=start, peak=peak, flops_token=flops_token, eval_kwargs=eval_kwargs)  # fmt: skip


def _compile_warm_up(run: _Session) -> float:
    """``training.compile``: one forward and backward of the first step's first micro batch before the step
    loop, so the compilation lands in no step's time (the ``compile_s`` of the first record, as a compiled
    peer's warm-up in ``bench/trainer_throughput.py``). The loss is scaled by 0 and ``Updater.begin`` zeroes
    the grad buffer, dropout draws from a forked RNG, and the MoE trackers are cleared: the training run
    is the uncompiled one's. Returns the seconds it took."""
    start = time.perf_counter()
    config, device = run.config, run.device
    batch = next(micro_batches(config, run.train_ds, step=run.start + 1, dp_rank=run.dp_rank))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        with _autocast(device, run.payload["precision"]):
            nll, _ = loss_of(run.ddp, batch.to(device), run.mask)
        (nll * 0.0).backward()
    if config.model.num_experts is not None:
        _clear_moe_tracker()
    seconds = time.perf_counter() - start
    log.info(
        "rank %d: compiled the layers (training.compile) in a warm-up step of %.1fs", dist.get_rank(), seconds
    )
    return seconds


def _step(run: _Session, step: int) -> tuple[float, torch.Tensor, float, float | None]:
    """One optimizer step over the step's micro-batches: (lr, the mean loss over data parallel ranks, grad
    norm, the MoE auxiliary loss or None)."""
    config, device, precision = run.config, run.device, run.payload["precision"]
    nmb = config.num_microbatches
    lr = run.updater.begin(step)
    loss_sum = torch.zeros((), device=device)
    for batch in micro_batches(config, run.train_ds, step=step, dp_rank=run.dp_rank):
        with _autocast(device, precision):
            nll, count = loss_of(run.ddp, batch.to(device), run.mask)
        loss = nll / count.clamp(min=1)
        (loss / nmb).backward()
        loss_sum += loss.detach()
    grad_norm = run.updater.finish()
    step_loss = loss_sum / nmb
    if parallel_state.get_data_parallel_world_size() > 1:
        dist.all_reduce(step_loss, group=parallel_state.get_data_parallel_group(), op=dist.ReduceOp.AVG)
    m = config.model
    aux = _moe_aux_loss(m.num_layers, nmb) if m.num_experts is not None else None
    return lr, step_loss, grad_norm, aux


def _throughput(run: _Session, *, tokens_per_s: float) -> dict[str, Any]:
    """Tokens per second and the model FLOPs utilisation they mean (None without a known peak)."""
    peak, world = run.peak, dist.get_world_size()
    return {
        "tokens_per_s": tokens_per_s,
        "mfu": run.flops_token * tokens_per_s / (peak * world) if peak else None,
    }


def _write_record(run: _Session, record: dict[str, Any], *, aux: float | None, val: dict[str, Any]) -> None:
    """Complete ``record`` with the auxiliary loss and the validation, and write it (rank 0), checking the
    run is still this attempt's."""
    if aux is not None:
        record["aux_loss"] = aux
    record.update(val)
    if run.writer is not None:
        check_attempt(run.run_dir, run.payload.get("attempt"))
        run.writer.write(record)


def _checkpoint(run: _Session, step: int) -> None:
    t = run.config.training
    check_attempt(run.run_dir, run.payload.get("attempt"))
    run.updater.save(
        run.run_dir,
        step=step,
        meta={"consumed_samples": step * t.global_batch_size},
        keep=t.keep_checkpoints,
    )


def _stop(run: _Session, *, elapsed: float, last: dict[str, Any]) -> None:
    if run.writer is not None:
        run.writer.close()
    log.info(
        "rank %d done: steps %d..%d in %.1fs, last %s",
        dist.get_rank(),
        run.start + 1,
        run.config.training.max_steps,
        elapsed,
        last,
    )
