"""The trainer side of GRPO-style RL: :class:`PolicyTrainer` holds the policy (and, with a KL term, the
frozen reference), its optimizer and checkpoints, and does one update per call of :meth:`train_step`.

It runs in one process (a Ray actor in ``tools.posttrain``, or in the caller's process for tiny runs) with a
one-rank gloo group of its own. A rollout is a prompt's token ids, a completion's ids and the generator's
log-probs of them, and the completion's advantage. Per step: the trainer's log-probs of every rollout
before the update (``old``, no grad; also the generator/trainer mismatch), then one clipped-surrogate update
over micro batches with token-level normalisation (the loss is a sum over all completion tokens of the step
divided by their count). :meth:`sample` is the in-process generator (tiny models; vLLM serves real ones).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch

from trainers.posttrain._config import PostTrainConfig
from trainers.posttrain._loss import grpo_loss, token_entropy

__all__ = ["PolicyTrainer"]


def _rows(rollouts: list[dict[str, Any]], key: str, s: int) -> torch.Tensor:
    """[b, s] per-label-position values of ``key`` (aligned to the completion tokens), zero elsewhere."""
    out = torch.zeros(len(rollouts), s)
    for j, r in enumerate(rollouts):
        start = len(r["prompt"]) - 1  # label position of the first completion token
        values = torch.tensor(r[key], dtype=torch.float32)
        out[j, start : start + len(values)] = values
    return out


class PolicyTrainer:
    """The RL policy in this process. ``start_step`` > 0 resumes from ``OUT/checkpoints/step_<start_step>``."""

    def __init__(self, config: dict[str, Any], *, start_step: int, threads: int | None = None) -> None:
        import torch.distributed as dist

        from trainers import build_optimizer, initialize_parallel
        from trainers.posttrain._policy import build_policy, read_base_run

        self.config = PostTrainConfig.model_validate(config)
        if threads:
            torch.set_num_threads(threads)
        self._created_group = not dist.is_initialized()
        if self._created_group:
            dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
        self.base = read_base_run(self.config.base)
        t = self.config.training
        self.seq_length = t.seq_length or self.base.config.model.seq_length
        initialize_parallel(
            self.base.config.model_copy(update={"parallel": self.config.parallel}), seed=t.seed
        )
        self.device = torch.device("cpu")
        self.model = build_policy(self.base, tp=1, seq_length=self.seq_length)
        self.reference = None
        if self.config.rl.kl_coef > 0:
            self.reference = build_policy(self.base, tp=1, seq_length=self.seq_length).eval()
            for p in self.reference.parameters():
                p.requires_grad_(False)
        self.optimizer = build_optimizer(self.model, self.config.optimizer)
        self.stops = self.base.stop_sequences()
        if start_step:
            from trainers import load_checkpoint

            load_checkpoint(
                Path(self.config.out) / "checkpoints" / f"step_{start_step:07d}",
                model=self.model,
                optimizer=self.optimizer,
            )
        self.model.train()

    # ------------------------------------------------------------------------------------------- sampling
    def sample(
        self,
        prompts: list[list[int]],
        *,
        n: int,
        max_new_tokens: int,
        temperature: float,
        seed: int,
        greedy: bool = False,
    ) -> list[list[tuple[list[int], list[float]]]]:
        """``n`` completions per prompt: (ids, log-probs at temperature 1) each."""
        from trainers.posttrain._policy import sample

        flat = [p for p in prompts for _ in range(n)]
        out = sample(
            self.model,
            flat,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
            stops=self.stops,
            greedy=greedy,
        )
        return [out[i * n : (i + 1) * n] for i in range(len(prompts))]

    # ------------------------------------------------------------------------------------------- training
    def _forward(
        self, model: torch.nn.Module, rollouts: list[dict[str, Any]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """([b, s] log-probs of the label tokens, [b, s] entropy, [b, s] completion mask)."""
        from trainers import causal_mask
        from trainers.posttrain._policy import _pad

        sequences = [r["prompt"] + r["completion"] for r in rollouts]
        s = max(len(x) for x in sequences) - 1
        tokens = _pad([x[:-1] for x in sequences], s)
        labels = _pad([x[1:] for x in sequences], s)
        positions = torch.arange(s).expand(len(sequences), s)
        logits = model(tokens, positions, causal_mask(s, self.device)).float()  # [b, s, v]
        logp = torch.log_softmax(logits, dim=-1)
        token_logp = logp.gather(-1, labels[..., None])[..., 0]
        mask = _rows(rollouts, "ones", s)
        return token_logp, token_entropy(logits.detach()), mask

    def train_step(self, step: int, rollouts: list[dict[str, Any]]) -> dict[str, Any]:
        """One update on ``rollouts`` (dicts: prompt, completion, gen_logps, advantage); returns statistics."""
        from trainers import lr_at

        started = time.perf_counter()
        rl, t = self.config.rl, self.config.training
        rollouts = [r for r in rollouts if r["completion"]]
        for r in rollouts:
            r["ones"] = [1.0] * len(r["completion"])
        lr = lr_at(self.config.optimizer, step=step, max_steps=t.max_steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        b = t.micro_batch_size
        micro = [rollouts[i : i + b] for i in range(0, len(rollouts), b)]
        total = float(sum(len(r["completion"]) for r in rollouts))
        with torch.no_grad():
            olds = [self._forward(self.model, mb)[0] for mb in micro]
            refs = (
                [self._forward(self.reference, mb)[0] for mb in micro]
                if self.reference is not None
                else [None] * len(micro)
            )
        self.optimizer.zero_grad(set_to_none=True)
        sums = {
            "tokens": 0.0,
            "ratio_sum": 0.0,
            "ratio_max": 0.0,
            "truncated": 0.0,
            "clipped": 0.0,
            "kl_sum": 0.0,
        }
        entropy_sum, loss_sum = 0.0, 0.0
        for mb, old, ref in zip(micro, olds, refs, strict=True):
            logps, entropy, mask = self._forward(self.model, mb)
            gen = _rows(mb, "gen_logps", logps.shape[1])
            adv = torch.tensor([r["advantage"] for r in mb], dtype=torch.float32)
            loss, terms = grpo_loss(
                logps, old, gen, adv, mask, total_tokens=total, clip_eps=rl.clip_eps, tis_cap=rl.tis_cap,
                ref_logps=ref, kl_coef=rl.kl_coef,
            )  # fmt: skip
            loss.backward()
            loss_sum += loss.item()
            entropy_sum += (entropy * mask).sum().item()
            for k, v in terms.items():
                sums[k] = max(sums[k], v) if k == "ratio_max" else sums[k] + v
        params = [p for p in self.model.parameters() if p.grad is not None]
        grad_norm = (
            float(torch.nn.utils.clip_grad_norm_(params, self.config.optimizer.clip_grad or math.inf))
            if params
            else 0.0
        )
        self.optimizer.step()
        n = max(1.0, sums["tokens"])
        ratio_mean = sums["ratio_sum"] / n
        lo, hi = rl.ratio_alarm
        return {
            "loss": loss_sum,
            "lr": lr,
            "grad_norm": grad_norm,
            "completion_tokens": int(sums["tokens"]),
            "entropy": entropy_sum / n,
            "kl": sums["kl_sum"] / n,
            "ratio_mean": ratio_mean,
            "ratio_max": sums["ratio_max"],
            "ratio_alarm": not (lo <= ratio_mean <= hi),
            "truncated_frac": sums["truncated"] / n,
            "clipped_frac": sums["clipped"] / n,
            "update_s": time.perf_counter() - started,
        }

    # --------------------------------------------------------------------------------- checkpoints, export
    def save(self, step: int) -> str:
        from trainers import save_checkpoint

        path = save_checkpoint(
            Path(self.config.out), model=self.model, optimizer=self.optimizer, step=step,
            meta={"layout": {"dp": 1, "tp": 1, "ep": 1}, "method": "rl"}, keep=self.config.training.keep_checkpoints,
        )  # fmt: skip
        return str(path)

    def state_digest(self) -> str:
        """A short fingerprint of the current weights (tests: did an update or a reload happen)."""
        import hashlib

        h = hashlib.sha256()
        for p in self.model.parameters():
            h.update(p.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def info(self) -> dict[str, Any]:
        return {"seq_length": self.seq_length, "base": json.dumps(str(self.base.path))}

    def close(self) -> None:
        import torch.distributed as dist
        from megatron.core import parallel_state

        parallel_state.destroy_model_parallel()
        if self._created_group and dist.is_initialized():
            dist.destroy_process_group()
