"""The post-training losses as plain tensor functions (no Megatron, no process groups): shapes in comments.

* SFT: the sum of per-token NLL over assistant tokens divided by the GLOBAL count of those tokens (all micro
  batches, all data-parallel ranks), so a step's gradient does not depend on how samples are split.
* DPO (Rafailov et al. 2023), sigmoid loss: ``-log σ(β·((log πθ(c) - log πref(c)) - (log πθ(r) - log πref(r))))``,
  log-probabilities summed over completion tokens.
* GRPO-style RL: group-normalised advantages ``(r - mean_g) / (std_g + eps)``; the clipped surrogate
  ``-min(ρA, clip(ρ, 1±ε)A)`` with ``ρ = πθ / πold`` per token, weighted by truncated importance sampling
  ``min(πold / πgen, cap)`` for the generator/trainer mismatch, optional ``k3`` KL to the reference
  (``exp(ref - θ) - (ref - θ) - 1``), all summed over completion tokens and divided by the global token count.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["GRPOTerms", "dpo_loss", "group_advantages", "grpo_loss", "sequence_logps", "token_entropy"]


def sequence_logps(token_logps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[b] sum over masked tokens of [b, s] log-probabilities."""
    return (token_logps * mask).sum(dim=-1)


def dpo_loss(
    policy_chosen: torch.Tensor,  # [n] summed log-probs
    policy_rejected: torch.Tensor,  # [n]
    ref_chosen: torch.Tensor,  # [n]
    ref_rejected: torch.Tensor,  # [n]
    *,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair loss [n], chosen reward [n], rejected reward [n]); rewards are ``β·(policy - ref)``, detached."""
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    losses = -F.logsigmoid(beta * (chosen - rejected))
    return losses, beta * chosen.detach(), beta * rejected.detach()


def group_advantages(rewards: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """[p, g] rewards of g completions per prompt -> [p, g] advantages normalised within each group."""
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, unbiased=False)
    return (rewards - mean) / (std + eps)


def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """[b, s, v] logits -> [b, s] entropy in nats."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -torch.special.xlogy(logp.exp(), logp.exp()).sum(dim=-1)  # 0·log 0 = 0 (masked vocab padding)


class GRPOTerms(dict):
    """Per-batch statistics of :func:`grpo_loss` (sums over tokens, for global averaging)."""


def grpo_loss(
    logps: torch.Tensor,  # [b, s] trainer log-probs of the sampled tokens, with grad
    old_logps: torch.Tensor,  # [b, s] the trainer's log-probs before this update (detached)
    gen_logps: torch.Tensor,  # [b, s] the generator's log-probs of the same tokens
    advantages: torch.Tensor,  # [b]
    mask: torch.Tensor,  # [b, s] 1 on completion tokens
    *,
    total_tokens: float,
    clip_eps: float,
    tis_cap: float,
    ref_logps: torch.Tensor | None = None,  # [b, s] the reference (base) model's, when kl_coef > 0
    kl_coef: float = 0.0,
) -> tuple[torch.Tensor, GRPOTerms]:
    """(loss: token sum / ``total_tokens``, statistics summed over this batch's tokens)."""
    mask = mask.float()
    ratio = torch.exp(logps - old_logps)
    adv = advantages[:, None]
    surrogate = -torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip_eps, 1 + clip_eps) * adv)
    mismatch = torch.exp(old_logps - gen_logps).detach()  # trainer / generator probability ratio
    per_token = surrogate * torch.clamp(mismatch, max=tis_cap)
    kl = torch.zeros_like(per_token)
    if ref_logps is not None:
        delta = ref_logps - logps
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + kl_coef * kl
    loss = (per_token * mask).sum() / total_tokens
    terms = GRPOTerms(
        tokens=mask.sum().item(),
        ratio_sum=(mismatch * mask).sum().item(),
        ratio_max=(mismatch * mask).max().item() if mask.any() else 1.0,
        truncated=((mismatch > tis_cap).float() * mask).sum().item(),
        clipped=(((ratio - 1).abs() > clip_eps).float() * mask).sum().item(),
        kl_sum=(kl.detach() * mask).sum().item(),
    )
    return loss, terms
