"""The RL loop (GRPO-style) against the organisation's alignment rules: generate, reward, train, sync.

Per step ``s`` (1-based; its prompts are ``step_indices(..., step=s)``: a pure function of seed and step):

1. generate: ``rl.group_size`` completions per prompt, with the generator's log-probs (vLLM, or the trainer);
2. reward: every alignment rule scores every completion (a named component each; a rule that raises or times
   out stops the run with an error naming it, after the last finished step);
3. advantages: the total reward normalised within each prompt's group;
4. train: one clipped-surrogate update (``trainers.posttrain.PolicyTrainer.train_step``), corrected for the
   generator/trainer mismatch by truncated importance sampling; the mean ratio is logged, with an alarm when it
   leaves ``rl.ratio_alarm``;
5. sync: the generator serves the new weights (confirmed by a greedy probe);
6. one record in ``metrics.jsonl``; a checkpoint every ``training.checkpoint_interval`` steps.

The code reads in three layers (as Optuna's ``optimize`` -> ``_optimize_sequential`` -> ``_run_trial``):
:func:`run_rl` sets the run up (rules, base, prompts, run directory, ledger, MLflow) and records its end;
:func:`_loop` runs the steps (records, checkpoints, the run directory's ownership); :func:`_step` is one step.
Each step's record also goes to MLflow (``vibe-posttrain``; never blocking), with the report, plots,
``alignment.json`` and the configs as artifacts at the end.

Without ``in_process`` the trainer is a Ray actor and each step's rewards a Ray task, so the same loop runs on
a cluster. The run directory is the post-training layout (``trainers.posttrain``) plus ``alignment.json``
(the rules, the policy files' sha256 and the rule set's hash). ``resume`` continues after the last checkpoint;
records after it move to ``metrics.discarded.jsonl``, so every step appears exactly once.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.posttrain._generate import Generator, MegatronGenerator, VLLMGenerator
from tools.posttrain._rewards import AlignmentPolicy, FunctionReward, RewardRuleError, Sample, load_alignment
from vibe.core.errors import UserError
from vibe.core.log import run_log

Reward = AlignmentPolicy | FunctionReward  # what scores completions: the policy's rules, or a function

if TYPE_CHECKING:
    from vibe.ledger import Ledger

__all__ = ["RLResult", "run_rl"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RLResult:
    run_dir: Path
    final_step: int
    first_reward: float | None
    last_reward: float | None
    wall_time_s: float
    report: Path


class _Handle:
    """Calls an object's methods directly, or a Ray actor's and waits for the answer."""

    def __init__(self, target: Any, *, remote: bool) -> None:
        self.target, self.remote = target, remote

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.target, name)
        if not self.remote:
            return method
        import ray

        return lambda *args, **kwargs: ray.get(method.remote(*args, **kwargs))


def _score(policy: Reward, samples: list[Sample], workers: int) -> Any:
    return policy.score(samples, workers=workers)


def _start_trainer(config: Any, start: int, *, remote: bool) -> _Handle:
    from trainers.posttrain import PolicyTrainer

    payload = config.model_dump(mode="json")
    if not remote:
        return _Handle(PolicyTrainer(payload, start_step=start), remote=False)
    import ray

    from trainers import init_ray

    init_ray(config.ray)  # the one way to start or join Ray: an embedded one listens on loopback only
    cpus = config.ray.cpus_per_worker or 1.0
    actor = ray.remote(num_cpus=cpus)(PolicyTrainer).remote(
        payload, start_step=start, threads=max(1, int(cpus))
    )
    return _Handle(actor, remote=True)


def _generator(config: Any, trainer: _Handle, base: Any, prompt: list[int]) -> Generator:
    g = config.rl.generator
    if g.kind == "megatron":
        return MegatronGenerator(trainer)
    if not g.url:
        raise UserError("rl.generator.url: the vLLM server's URL is needed with rl.generator.kind vllm")
    export = _hf_export(config, trainer)
    return VLLMGenerator(
        url=g.url, model=g.model, trainer=trainer, export=export, probe=(prompt, 8),
        stop_token_ids=[base.eod_id], mode=g.sync, timeout_s=g.timeout_s, restart=_local_restart(g),
    )  # fmt: skip


def _local_restart(g: Any) -> Any:
    """For a vLLM server on this machine: restart it (``vibe.llm``) on an exported directory, in dev mode so
    that the next sync can reload in place. None for a remote server (Vibe cannot restart it)."""
    from urllib.parse import urlparse

    parsed = urlparse(g.url)
    if parsed.hostname not in ("127.0.0.1", "localhost") or parsed.port is None:
        return None

    def restart(path: Path) -> None:
        import os

        from vibe.llm import ServerConfig, serve, stop_server

        os.environ["VLLM_SERVER_DEV_MODE"] = "1"  # the server exposes /collective_rpc
        stop_server(port=parsed.port)
        serve(
            ServerConfig(
                host=parsed.hostname or "127.0.0.1", port=parsed.port, model=path, served_model_name=g.model
            )
        )

    return restart


def _hf_export(config: Any, trainer: _Handle) -> Any:
    """``step -> HF directory`` of the trainer's weights after that step (through ``trainers.hf``)."""
    try:
        from trainers import hf  # type: ignore[attr-defined]  # noqa: F401  (is the export available?)
    except ImportError:
        raise UserError(
            "rl.generator.kind vllm: needs the HF export of a Vibe run (trainers.hf), which this build lacks; "
            "use rl.generator.kind megatron"
        ) from None

    def export(step: int) -> Path:
        import subprocess
        import sys

        trainer.save(step)
        target = Path(config.out) / "hf" / f"step_{step:07d}"
        # In a child process: an in-process trainer holds Megatron's parallel state, which the export builds anew.
        code = (
            "import sys; from trainers.hf import export_run; "
            "export_run(sys.argv[1], sys.argv[2], verify_logits=False)"  # the greedy probe verifies the sync
        )
        done = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", code, str(config.out), str(target)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise UserError(
                f"step {step}: HF export for the weight sync failed: {done.stderr.strip()[-400:]}"
            )
        return target

    return export


def _ledger_record(
    ledger: Ledger | None,
    thread_id: str,
    kind: str,
    outputs: dict[str, Any],
    policy: Reward,
    *,
    outcome: str,
    reason: str = "",
) -> None:
    if ledger is None:
        return
    from vibe.ledger import Record

    ledger.append(
        Record(
            thread_id=thread_id,
            actor="tool",
            kind=kind,
            action="posttrain.rl",
            outputs=outputs,
            policy_hashes=policy.policy_hashes,
            rule_ids=policy.rule_ids,
            outcome=outcome,
            reason=reason,
        )
    )


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["content"] for m in messages)


@dataclass
class _Session:
    """What every step of one RL run uses: set up once by :func:`run_rl`, read by :func:`_loop` and
    :func:`_step`."""

    config: Any  # PostTrainConfig, paths resolved
    policy: Reward
    prompts: list[Any]  # trainers.posttrain.PromptExample
    tokenizer: Any
    stop_texts: list[str]
    trainer: _Handle
    generator: Generator
    score: Callable[[Reward, list[Sample], int], Any]
    attempt: str


def run_rl(
    config: Any,
    *,
    resume: bool = False,
    ledger: Ledger | None = None,
    thread_id: str = "cli",
    generator: Callable[[Any], Generator] | None = None,
    reward: Reward | None = None,
) -> RLResult:
    """Run (or with ``resume`` continue) the RL run ``config`` (a ``trainers.posttrain.PostTrainConfig``).

    ``generator``: builds the :class:`Generator` from the trainer handle (default: from ``rl.generator``).
    ``reward``: what scores the completions (default: the alignment rules of ``rl.policies``).
    Sets the run up (rules, base, prompts, run directory, ledger), runs :func:`_loop`, and records the end.
    """
    from trainers.posttrain import prepare_run_dir, read_base_run, read_prompt_data, resolve_paths

    if config.method != "rl":
        raise UserError(
            f"run_rl: method is {config.method}; SFT and DPO run through trainers.posttrain.posttrain"
        )
    started = time.perf_counter()
    config = resolve_paths(config)
    policy = reward if reward is not None else load_alignment(config.rl.policies)
    base = read_base_run(config.base)
    prompts = read_prompt_data(
        config.data,
        template=base.template(),
        encode=base.encoder(),
        seq_length=config.training.seq_length or base.config.model.seq_length,
        max_new_tokens=config.rl.max_new_tokens,
    )
    config.out.mkdir(parents=True, exist_ok=True)
    with run_log(config.out / "logs" / "driver.log"):
        attempt = uuid.uuid4().hex
        start = prepare_run_dir(config, base, resume=resume, attempt=attempt)
        _write_alignment(config.out / "alignment.json", policy)
        summary = {
            "run_dir": str(config.out), "base": str(config.base), "data": str(config.data),
            "start_step": start, "rules_hash": policy.rules_hash,
        }  # fmt: skip
        _ledger_record(
            ledger, thread_id, "run_started", summary, policy,
            outcome="ok", reason="RL against the alignment rules",
        )  # fmt: skip
        if start >= config.training.max_steps:
            return _result(config, started)
        session = _open_session(
            config, base, policy, prompts, start=start, attempt=attempt, generator=generator
        )
        tracker = _start_tracking(config, start, policy)
        status = "FAILED"
        try:
            _loop(session, start=start, tracker=tracker)
            status = "FINISHED"
        except RewardRuleError as error:
            done = _read_metrics(config.out / "metrics.jsonl")
            _ledger_record(
                ledger,
                thread_id,
                "error",
                {**summary, "failed_rule": error.rule_id, "last_step": done[-1]["step"] if done else start},
                policy,
                outcome="failed",
                reason=str(error),
            )
            raise
        finally:
            _stop_trainer(session.trainer)
            result = _result(config, started)
            _end_tracking(tracker, config, status=status)
        _ledger_record(
            ledger,
            thread_id,
            "run_finished",
            {**summary, "final_step": result.final_step, "last_reward": result.last_reward},
            policy,
            outcome="ok",
        )
        return result


def _write_alignment(path: Path, policy: Reward) -> None:
    """The rules in force, the policy files' sha256 and the rule set's hash (what the ledger records)."""
    alignment = {
        "policy_hashes": policy.policy_hashes,
        "rules_hash": policy.rules_hash,
        "rules": policy.describe(),
    }
    path.write_text(json.dumps(alignment, indent=2) + "\n")


def _open_session(
    config: Any,
    base: Any,
    policy: Reward,
    prompts: list[Any],
    *,
    start: int,
    attempt: str,
    generator: Callable[[Any], Generator] | None,
) -> _Session:
    """Start the trainer (a Ray actor unless ``in_process``) and the generator serving its weights."""
    remote = not config.in_process
    trainer = _start_trainer(config, start, remote=remote)
    try:
        rollouts = (
            generator(trainer)
            if generator is not None
            else _generator(config, trainer, base, prompts[0].prompt)
        )
    except BaseException:
        _stop_trainer(trainer)
        raise
    tokenizer = base.tokenizer()
    return _Session(
        config=config,
        policy=policy,
        prompts=prompts,
        tokenizer=tokenizer,
        stop_texts=[tokenizer.decode(s, skip_special_tokens=False) for s in base.stop_sequences()],
        trainer=trainer,
        generator=rollouts,
        score=_remote_score if remote else _score,
        attempt=attempt,
    )


def _loop(session: _Session, *, start: int, tracker: Any) -> None:
    """Steps ``start + 1 .. training.max_steps``: each one's record to ``metrics.jsonl`` and MLflow, a
    checkpoint at the interval and at the end. Stops if another driver claimed the run directory."""
    from trainers.posttrain import MetricsWriter

    config, t = session.config, session.config.training
    log.info(
        "rl %s: %d prompts, %d rules, steps %d..%d, generator %s",
        config.out, len(session.prompts), len(session.policy.rule_ids), start + 1, t.max_steps,
        session.generator.name,
    )  # fmt: skip
    writer = MetricsWriter(config.out / "metrics.jsonl")
    try:
        for step in range(start + 1, t.max_steps + 1):
            if (config.out / "attempt").read_text().strip() != session.attempt:
                raise UserError(f"{config.out}: another driver took this run over; stopping")
            record = _step(session, step)
            writer.write(record)
            tracker.log_metrics({k: v for k, v in record.items() if k != "step"}, step=step)
            if step == t.max_steps or (t.checkpoint_interval and step % t.checkpoint_interval == 0):
                session.trainer.save(step)
            log.info(
                "step %d reward %.3f violations %.2f ratio %.4f",
                step, record["reward_mean"], record["violation_rate"], record["ratio_mean"],
            )  # fmt: skip
    finally:
        writer.close()


def _step(session: _Session, step: int) -> dict[str, Any]:
    """One RL step: generate, reward, advantages, train, sync; returns its metrics record."""
    import torch

    from trainers.posttrain import group_advantages, step_indices

    config, rl, t = session.config, session.config.rl, session.config.training
    indices = step_indices(len(session.prompts), seed=t.seed, step=step, global_batch=t.global_batch_size)
    chosen = [session.prompts[i] for i in indices]
    t0 = time.perf_counter()
    groups = session.generator.generate(
        [p.prompt for p in chosen], n=rl.group_size, max_new_tokens=rl.max_new_tokens,
        temperature=rl.temperature, seed=t.seed * 1_000_003 + step,
    )  # fmt: skip
    t1 = time.perf_counter()
    samples = [
        Sample(
            _prompt_text(p.messages),
            _completion_text(session, c.ids),
            p.record,
            where=f"{config.data}:{p.line}",
        )
        for p, group in zip(chosen, groups, strict=True)
        for c in group
    ]
    scores = session.score(session.policy, samples, rl.reward_workers)
    t2 = time.perf_counter()
    advantages = (
        group_advantages(torch.tensor(scores.total).view(len(chosen), rl.group_size)).flatten().tolist()
    )
    rollouts = [
        {
            "prompt": p.prompt,
            "completion": c.ids,
            "gen_logps": c.logps,
            "advantage": advantages[k * rl.group_size + j],
        }
        for k, (p, group) in enumerate(zip(chosen, groups, strict=True))
        for j, c in enumerate(group)
    ]
    stats = session.trainer.train_step(step, rollouts)
    t3 = time.perf_counter()
    sync = session.generator.sync(step=step)
    t4 = time.perf_counter()
    if stats["ratio_alarm"]:
        log.warning(
            "step %d: mean trainer/generator probability ratio %.4f is outside %s: check the weight sync",
            step, stats["ratio_mean"], rl.ratio_alarm,
        )  # fmt: skip
    record: dict[str, Any] = {
        "step": step,
        "reward_mean": statistics.fmean(scores.total),
        "reward_std": statistics.pstdev(scores.total),
        "violation_rate": sum(scores.violations()) / len(samples),
    }
    for rule_id, values in scores.per_rule.items():
        record[f"reward/{rule_id}/mean"] = statistics.fmean(values)
        record[f"reward/{rule_id}/std"] = statistics.pstdev(values)
    return record | stats | {
        "completion_chars": statistics.fmean(len(s.completion) for s in samples),
        "generate_s": t1 - t0, "reward_s": t2 - t1, "train_s": t3 - t2, "sync_s": t4 - t3,
        "sync": sync.method, "probe_ok": sync.probe_ok, "time": time.time(),
    }  # fmt: skip


def _completion_text(session: _Session, ids: list[int]) -> str:
    """A completion's text up to its first stop sequence (what the rules judge)."""
    text = session.tokenizer.decode(ids, skip_special_tokens=False)
    for stop in session.stop_texts:
        text = text.split(stop, 1)[0] if stop else text
    return text


def _remote_score(policy: Reward, samples: list[Sample], workers: int) -> Any:
    """The step's rewards as a Ray task (the same code scores on a cluster node)."""
    import ray

    return ray.get(ray.remote(_score).remote(policy, samples, workers))


def _stop_trainer(trainer: _Handle) -> None:
    try:
        trainer.close()
    except Exception:  # the actor may already be gone
        log.debug("trainer close failed", exc_info=True)
    if trainer.remote:
        import ray

        ray.kill(trainer.target)


def _start_tracking(config: Any, start: int, policy: Reward) -> Any:
    from trainers.posttrain import start_tracking

    return start_tracking(
        config,
        start_step=start,
        tags={"vibe.rules_hash": policy.rules_hash, "vibe.rules": ",".join(policy.rule_ids)},
    )


def _end_tracking(tracker: Any, config: Any, *, status: str) -> None:
    from trainers.posttrain import end_tracking

    end_tracking(tracker, config, status=status)


def _read_metrics(path: Path) -> list[dict[str, Any]]:
    from trainers.posttrain import read_metrics

    return read_metrics(path)


def _result(config: Any, started: float) -> RLResult:
    from trainers.posttrain import read_metrics, write_posttrain_report

    wall = time.perf_counter() - started
    report = write_posttrain_report(config.out, config, wall_time_s=wall)
    records = read_metrics(config.out / "metrics.jsonl")
    return RLResult(
        run_dir=config.out,
        final_step=records[-1]["step"] if records else 0,
        first_reward=records[0]["reward_mean"] if records else None,
        last_reward=records[-1]["reward_mean"] if records else None,
        wall_time_s=wall,
        report=report,
    )
