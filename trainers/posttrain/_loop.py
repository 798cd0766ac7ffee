"""The SFT and DPO training loops, run in every worker (one process per rank) like pre-training's.

The process group exists (Ray Train's, or a one-rank group for ``in_process`` runs). The DDP model, its
optimizer, checkpoints and the update are pre-training's (``trainers.Updater``). Per step: ``begin`` (learning
rate, zeroed DDP grad buffer); forward/backward each micro batch; ``finish`` (the DP all-reduce averages,
clip, AdamW).

* SFT: each micro batch's loss is its NLL sum over assistant tokens × dp / the GLOBAL assistant-token count
  of the step (all micro batches, all DP ranks: one all-reduce before the step), so after DDP's averaging
  the gradient is that of the global token mean, however samples fall into micro batches and ranks.
* DPO: the reference log-probs of every pair are computed once, by the base model before the first update,
  split over DP ranks and all-reduced, and saved to ``OUT/reference_logps.pt`` (a resumed run reads them).
  Each micro batch's loss is its per-pair loss sum × dp / global batch size.

Data order is a pure function of (seed, step): sample ``g`` of the run is example ``perm_e[g mod n]`` of
epoch ``e = g // n`` (a seeded permutation), so a resumed run sees what an uninterrupted one would.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from megatron.core import parallel_state

from trainers import (
    MetricsWriter,
    Updater,
    check_attempt,
    initialize_parallel,
    setup_worker_logging,
    worker_device,
)
from trainers.posttrain._config import PostTrainConfig
from trainers.posttrain._loss import dpo_loss, sequence_logps
from trainers.posttrain._pack import pack, packed_logps
from trainers.posttrain._policy import build_policy, read_base_run, token_logps
from trainers.posttrain._records import read_preference_data, read_sft_data

__all__ = ["posttrain_loop", "step_indices"]

log = logging.getLogger(__name__)


def step_indices(n: int, *, seed: int, step: int, global_batch: int) -> list[int]:
    """The example indices of 1-based ``step``'s global batch: epochs of seeded permutations of ``n``."""
    out, perms = [], {}
    for g in range((step - 1) * global_batch, step * global_batch):
        epoch = g // n
        if epoch not in perms:
            perms[epoch] = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        out.append(perms[epoch][g % n])
    return out


def _dp_all_reduce(value: torch.Tensor) -> torch.Tensor:
    if parallel_state.get_data_parallel_world_size() > 1:
        dist.all_reduce(value, group=parallel_state.get_data_parallel_group())
    return value


def posttrain_loop(payload: dict[str, Any]) -> None:
    """Ray Train's ``train_loop_per_worker`` (or called in process): config, start_step, attempt, threads."""
    config = PostTrainConfig.model_validate(payload["config"])
    run_dir = Path(config.out)
    rank = dist.get_rank()
    if not payload.get("in_process"):
        setup_worker_logging(run_dir, rank)
    torch.set_num_threads(payload["threads"])
    try:
        _train(config, run_dir, payload)
    except BaseException:
        log.exception("rank %d failed", rank)
        raise
    finally:
        parallel_state.destroy_model_parallel()


def _train(config: PostTrainConfig, run_dir: Path, payload: dict[str, Any]) -> None:
    rank = dist.get_rank()
    t, p = config.training, config.parallel
    device = worker_device()
    base = read_base_run(config.base)
    seq_length = t.seq_length or base.config.model.seq_length
    initialize_parallel(base.config.model_copy(update={"parallel": p}), seed=t.seed)
    dp, dp_rank = parallel_state.get_data_parallel_world_size(), parallel_state.get_data_parallel_rank()
    template, encode = base.template(), base.encoder()
    if config.method == "sft":
        examples: list[Any] = read_sft_data(
            config.data, template=template, encode=encode, seq_length=seq_length
        )
    else:
        examples = read_preference_data(config.data, template=template, encode=encode, seq_length=seq_length)

    model = build_policy(base, tp=p.tp, seq_length=seq_length)
    updater = Updater(
        model, config.optimizer, layout={"dp": p.dp, "tp": p.tp, "ep": 1}, max_steps=t.max_steps
    )
    ddp = updater.ddp
    start = payload["start_step"]
    reference = (
        _reference_logps(model, examples, run_dir, device, fresh=start == 0)
        if config.method == "dpo"
        else None
    )
    if start:
        updater.resume(run_dir, start)

    writer = MetricsWriter(run_dir / "metrics.jsonl") if rank == 0 else None
    per_rank, b = t.global_batch_size // dp, t.micro_batch_size
    model.train()
    for step in range(start + 1, t.max_steps + 1):
        started = time.perf_counter()
        lr = updater.begin(step)
        indices = step_indices(len(examples), seed=t.seed, step=step, global_batch=t.global_batch_size)
        mine = indices[dp_rank * per_rank : (dp_rank + 1) * per_rank]
        micro = [mine[m : m + b] for m in range(0, per_rank, b)]
        if config.method == "sft":
            packed = seq_length if t.pack else None
            record = sft_step(
                ddp, [[examples[i] for i in mb] for mb in micro], dp=dp, device=device, packed=packed
            )
        else:
            assert reference is not None
            record = _dpo_step(
                ddp,
                examples,
                reference,
                micro,
                dp=dp,
                beta=config.dpo.beta,
                batch=t.global_batch_size,
                device=device,
            )
        grad_norm = updater.finish()
        last_step = step == t.max_steps
        record.update(
            step=step, lr=lr, grad_norm=grad_norm, step_s=time.perf_counter() - started, time=time.time()
        )
        if writer is not None and (step % t.log_interval == 0 or last_step):
            check_attempt(run_dir, payload["attempt"])
            writer.write(record)
        if last_step or (t.checkpoint_interval and step % t.checkpoint_interval == 0):
            check_attempt(run_dir, payload["attempt"])
            updater.save(run_dir, step=step, meta={"method": config.method}, keep=t.keep_checkpoints)
    if writer is not None:
        writer.close()


def sft_step(
    model: torch.nn.Module,
    micro: list[list[Any]],
    *,
    dp: int,
    device: torch.device,
    packed: int | None = None,
) -> dict[str, Any]:
    """One step's forward/backward; ``packed``: pack each micro batch into rows of that many positions."""
    count = torch.tensor([float(sum(sum(e.mask[1:]) for e in mb)) for mb in micro]).sum().reshape(1)
    total = _dp_all_reduce(count.to(device))  # the GLOBAL number of trained tokens this step
    nll_sum = torch.zeros(1, device=device)
    for mb in micro:
        if packed:
            logps, mask = packed_logps(model, pack(mb, seq_length=packed), seq_length=packed, device=device)
        else:
            logps, mask = token_logps(model, [e.ids for e in mb], [e.mask for e in mb], device=device)
        nll = -(logps * mask).sum()
        (nll * dp / total).backward()
        nll_sum += nll.detach()
    loss = _dp_all_reduce(nll_sum) / total
    return {"loss": loss.item(), "trained_tokens": int(total.item())}


def pair_logps(
    model: torch.nn.Module, pairs: list[Any], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """([n] chosen, [n] rejected) summed completion log-probs under ``model``."""
    sequences, predicted = [], []
    for e in pairs:
        for completion in (e.chosen, e.rejected):
            sequences.append(e.prompt + completion)
            predicted.append([False] * len(e.prompt) + [True] * len(completion))
    logps, mask = token_logps(model, sequences, predicted, device=device)
    sums = sequence_logps(logps, mask).view(len(pairs), 2)
    return sums[:, 0], sums[:, 1]


@torch.no_grad()
def _reference_logps(
    model: torch.nn.Module, examples: list[Any], run_dir: Path, device: torch.device, *, fresh: bool
) -> torch.Tensor:
    """[n, 2] reference (chosen, rejected) log-probs: computed once by the base model, then read from file."""
    path = run_dir / "reference_logps.pt"
    if not fresh:
        if not path.is_file():
            raise RuntimeError(
                f"{path} is missing: the resumed DPO run cannot recover its reference log-probs"
            )
        return torch.load(path).to(device)
    was_training = model.training
    model.eval()
    dp, dp_rank = parallel_state.get_data_parallel_world_size(), parallel_state.get_data_parallel_rank()
    out = torch.zeros(len(examples), 2, dtype=torch.float64, device=device)
    mine = list(range(dp_rank, len(examples), dp))
    for first in range(0, len(mine), 8):
        chunk = mine[first : first + 8]
        chosen, rejected = pair_logps(model, [examples[i] for i in chunk], device)
        out[chunk, 0], out[chunk, 1] = chosen.double(), rejected.double()
    _dp_all_reduce(out)
    model.train(was_training)
    if dist.get_rank() == 0:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(out.cpu(), tmp)
        os.replace(tmp, path)
    return out.float()


def _dpo_step(
    model: torch.nn.Module, examples: list[Any], reference: torch.Tensor, micro: list[list[int]], *,
    dp: int, beta: float, batch: int, device: torch.device,
) -> dict[str, Any]:  # fmt: skip
    sums = torch.zeros(4, device=device)  # loss, correct, chosen reward, rejected reward
    for mb in micro:
        chosen, rejected = pair_logps(model, [examples[i] for i in mb], device)
        ref = reference[mb]
        losses, r_chosen, r_rejected = dpo_loss(chosen, rejected, ref[:, 0], ref[:, 1], beta=beta)
        (losses.sum() * dp / batch).backward()
        sums += torch.stack(
            [losses.detach().sum(), (r_chosen > r_rejected).float().sum(), r_chosen.sum(), r_rejected.sum()]
        )
    loss, correct, chosen_r, rejected_r = (_dp_all_reduce(sums) / batch).tolist()
    return {
        "loss": loss,
        "accuracy": correct,
        "reward_chosen": chosen_r,
        "reward_rejected": rejected_r,
        "margin": chosen_r - rejected_r,
    }
