"""One entry point for every post-training method, judged by the gate and recorded in the ledger.

:func:`run_posttrain` asks the gate (``train.run``, like any training run: the data it reads, the model's size
and architecture, an estimate of the CPU- or GPU-hours) before anything starts, records the decision and the
run in the ledger (for RL with the policy files' sha256 and the alignment rule set's hash), then runs SFT or
DPO (``trainers.posttrain.posttrain``) or RL (:func:`tools.posttrain.run_rl`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibe.core.errors import UserError

if TYPE_CHECKING:
    from policies import Gate
    from vibe.ledger import Ledger

__all__ = ["gate_attributes", "run_posttrain"]

_CPU_FLOPS = 5e10  # a planning estimate of one core's FLOP/s (hours are estimates, never measurements)


def gate_attributes(config: Any) -> dict[str, Any]:
    """What the gate judges: like a training run's (``vibe.agent`` describes steps the same way)."""
    from trainers.posttrain import read_base_run

    base = read_base_run(config.base)
    m = base.config.model
    vocab = base.tokenizer().get_vocab_size()
    total, _ = m.param_counts(vocab_size=vocab)
    t = config.training
    sequences = t.max_steps * t.global_batch_size * (config.rl.group_size * 2 if config.method == "rl" else 2)
    seq = t.seq_length or m.seq_length
    flops = sequences * seq * m.model_copy(update={"seq_length": seq}).flops_per_token(vocab_size=vocab)
    paths = [
        str(Path(config.data).resolve()),
        *(str(Path(s.path).resolve()) for s in base.config.data.sources),
    ]
    return {
        "paths": paths,
        "parameters": total,
        "architecture": "moe" if m.num_experts else "dense",
        "cpu_hours": round(flops / _CPU_FLOPS / 3600, 6),  # core-hours
    }


def _record(ledger: Ledger | None, thread_id: str, **fields: Any) -> None:
    if ledger is None:
        return
    from vibe.ledger import Record

    ledger.append(Record(thread_id=thread_id, **fields))


def run_posttrain(
    config: Any,
    *,
    resume: bool = False,
    gate: Gate | None = None,
    ledger: Ledger | None = None,
    thread_id: str = "cli",
) -> Any:
    """Gate, record and run ``config`` (a ``trainers.posttrain.PostTrainConfig``); returns the method's result."""
    from trainers.posttrain import posttrain, resolve_paths

    config = resolve_paths(config)
    if gate is not None:
        attributes = gate_attributes(config)
        decision = gate.check(kind="train.run", attributes=attributes)
        outcome, reason, rules = str(decision.outcome), decision.reason, list(decision.rule_ids)
        _record(
            ledger, thread_id, actor="policy", kind="gate", action="train.run", outputs=attributes,
            outcome=outcome, reason=reason, rule_ids=rules,
            policy_hashes=dict(decision.policy_hashes),
        )  # fmt: skip
        if outcome != "allow":
            named = ", ".join(rules) or "the policy"
            verb = "needs approval" if outcome == "require_approval" else "is denied"
            raise UserError(f"post-training ({config.method}) {verb} by {named}: {reason}")
    if config.method == "rl":
        from tools.posttrain._rl import run_rl

        return run_rl(config, resume=resume, ledger=ledger, thread_id=thread_id)
    summary = {
        "run_dir": str(config.out),
        "base": str(config.base),
        "data": str(config.data),
        "method": config.method,
    }
    _record(
        ledger,
        thread_id,
        actor="tool",
        kind="run_started",
        action=f"posttrain.{config.method}",
        outputs=summary,
        outcome="ok",
    )
    result = posttrain(config, resume=resume)
    _record(
        ledger, thread_id, actor="tool", kind="run_finished", action=f"posttrain.{config.method}",
        outputs={**summary, "final_step": result.final_step, "final_loss": result.final_loss}, outcome="ok",
    )  # fmt: skip
    return result
