"""The driver loop: trials start, are followed and reaped, and are stopped, until the search stops.

Learned from Optuna's ``_optimize`` -> ``_optimize_sequential`` -> ``_run_trial``: :func:`optimize` joins Ray,
sizes the pool and makes sure running trials are stopped whatever happens; :meth:`Driver.run` is the loop,
one pass every ``POLL_S``:

1. :meth:`Driver.reap`: tail each running trial's ``metrics.jsonl`` (every validation record becomes
   ``trial.report(value, step)``; ``trial.should_prune()`` or a non-finite value stops the trial through its
   attempt token) and tell the study how each finished Ray task ended;
2. :meth:`Driver.stop_if_due`: deadline or compute budget reached: running trials are stopped (told FAILED
   with ``stopped: deadline|budget``; failed trials do not count as finished);
3. :meth:`Driver.start`: while the budget allows and Ray has room, :meth:`Driver.start_trial`:
   ``study.ask()``, ask the gate about this trial (hours spent so far + its estimate), prepare
   ``trials/trial_NNNN/`` and submit it as a Ray task with its own resource request (see ``_trial.py``).

Tracking: each submitted trial gets an MLflow run nested under the study's (``vibe.kind=hpo.trial``); the
records the driver reads from its ``metrics.jsonl`` are forwarded to it, and it is finished when the trial
ends (FINISHED, KILLED when the driver stopped it, FAILED otherwise) or the driver raises (KILLED).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import Gate
from tools.hpo._budget import over_budget, seconds_per_flop, spent_so_far, trial_flops
from tools.hpo._config import HPOConfig, StoppedBy, TrialSummary
from tools.hpo._policy import ask_gate
from tools.hpo._space import SearchSpace, apply_params, model_parameters, space_size, suggest
from tools.hpo._storage import Heartbeat, finished_points, n_finished, rung_steps, summarize
from tools.hpo._trial import go_on, prepare_trial_dir, run_launched_trial, run_trial, stop_trial
from vibe.core.errors import UserError
from vibe.core.log import progress
from vibe.tracking import Tracker, start_run

if TYPE_CHECKING:
    import optuna

    from trainers import RunConfig

__all__ = ["Driver", "Running", "optimize"]

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often the driver reads metrics: a pruned trial trains on for about this long


@dataclass
class Running:
    """A trial in flight: its Optuna handle, its Ray task and how far the driver has read its metrics."""

    trial: optuna.Trial
    config: RunConfig
    ref: Any
    submitted: float
    flops_per_token: float
    tokens_per_step: int
    offset: int = 0
    step: int = 0
    values: dict[int, float] = field(default_factory=dict)
    stop: str | None = None  # why the driver stopped it: pruned, diverged, deadline, budget, policy
    hold_at: frozenset[int] = frozenset()  # the rungs where the worker waits for go_on (rung_steps)
    tracker: Tracker | None = None  # its MLflow run, nested under the study's

    @property
    def run_dir(self) -> Path:
        return Path(self.config.out)


def optimize(
    study: optuna.Study,
    config: HPOConfig,
    space: SearchSpace,
    *,
    gate: Gate | None,
    heartbeat: Heartbeat,
    deadline: float,
    vocab: int,
    architecture: str,
    paths: list[str],
    on_trial: Any = None,
    tracker: Tracker | None = None,
) -> tuple[StoppedBy, str]:
    """Drive the study until it stops; returns why. Running trials are stopped on any exception.

    ``tracker`` is the study's MLflow run; each trial's run is nested under it."""
    import ray

    from trainers import init_ray

    if not ray.is_initialized():
        init_ray(config.base.ray)  # one way to start or join Ray, shared with training
    in_process = config.base.parallel.world_size == 1 and config.resources.gpus == 0
    driver = Driver(
        study,
        config,
        space,
        gate=gate,
        heartbeat=heartbeat,
        task=ray.remote(run_trial if in_process else run_launched_trial),
        in_process=in_process,
        capacity=_capacity(config),
        deadline=deadline,
        vocab=vocab,
        architecture=architecture,
        paths=paths,
        on_trial=on_trial,
        tracker=tracker,
    )
    log.info(
        "study %s (%s): %s sampler, %s pruner, up to %d trials at once; dashboard: optuna-dashboard %s",
        config.study_name,
        config.storage_url(),
        config.sampler,
        config.pruner,
        driver.capacity,
        config.storage_url(),
    )
    try:
        return driver.run()
    finally:  # on an exception in the driver: stop its trials (the next start recovers them)
        for r in driver.running.values():
            stop_trial(r.run_dir, reason="driver-exception")
            if r.tracker is not None:
                r.tracker.finish(status="KILLED", timeout_s=5)
        heartbeat.release()


class Driver:
    """One study's scheduling loop: start, reap and stop trials (see the module docstring)."""

    def __init__(
        self,
        study: optuna.Study,
        config: HPOConfig,
        space: SearchSpace,
        *,
        gate: Gate | None,
        heartbeat: Heartbeat,
        task: Any,
        in_process: bool,
        capacity: int,
        deadline: float,
        vocab: int,
        architecture: str,
        paths: list[str],
        on_trial: Any = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.study, self.config, self.space, self.gate, self.heartbeat = study, config, space, gate, heartbeat
        self.task, self.in_process, self.capacity, self.deadline = task, in_process, capacity, deadline
        self.vocab, self.architecture, self.paths, self.on_trial = vocab, architecture, paths, on_trial
        self.tracker = tracker  # the study's MLflow run
        self.running: dict[int, Running] = {}
        self.stopped_by: StoppedBy | None = None
        self.reason = ""
        self.closed: dict[str, float] | None = None  # what trials no longer running used

    def run(self) -> tuple[StoppedBy, str]:
        with progress() as bar:
            task_id = bar.add_task(
                "hpo", total=self.config.budget.max_trials or None, completed=n_finished(self.study)
            )
            while True:
                if self.closed is None:  # storage is read once, then summed up as trials end
                    self.closed = spent_so_far(
                        {"cpu_hours": 0.0, "gpu_hours": 0.0, "flops": 0.0}, {}, self.config, study=self.study
                    )
                self.heartbeat.beat_if_due()
                if self.reap():  # trials ended: show the new count and the best so far
                    bar.update(
                        task_id,
                        completed=n_finished(self.study),
                        description=_describe(self.study, self.running),
                    )
                spent = spent_so_far(self.closed, self.running, self.config)
                self.stop_if_due(spent)
                self.start(spent)
                if not self.running and (self.stopped_by is not None or self.capacity == 0):
                    break
                time.sleep(POLL_S)
        return self.stopped_by or "exhausted", self.reason

    # ------------------------------------------------------------------------------------------------ reap
    def reap(self) -> list[TrialSummary]:
        """Follow every running trial; tell the study about those whose Ray task ended."""
        import ray

        for r in list(self.running.values()):
            _follow(r, self.config)
        if not self.running:
            return []
        done, _ = ray.wait([r.ref for r in self.running.values()], num_returns=len(self.running), timeout=0)
        summaries = []
        for ref in done:
            number = next(n for n, r in self.running.items() if r.ref == ref)
            summary = _conclude(self.study, self.running.pop(number), self.config, ref)
            assert self.closed is not None
            self.closed = {
                "cpu_hours": self.closed["cpu_hours"] + summary.cpu_hours,
                "gpu_hours": self.closed["gpu_hours"] + summary.gpu_hours,
                "flops": self.closed["flops"] + summary.flops,
            }
            if self.on_trial is not None:
                self.on_trial(summary)
            summaries.append(summary)
        return summaries

    # ------------------------------------------------------------------------------------------------ stop
    def stop_if_due(self, spent: dict[str, float]) -> None:
        """The deadline or the budget: stop the search and every running trial."""
        if self.stopped_by is None and time.time() >= self.deadline:
            self.stopped_by, self.reason = "deadline", "the deadline passed"
        if self.stopped_by is None:
            over = over_budget(spent, self.config.budget)
            if over:
                self.stopped_by, self.reason = "budget", over
        if self.stopped_by in ("deadline", "budget"):
            for r in self.running.values():
                if r.stop is None:
                    r.stop = self.stopped_by
                    stop_trial(r.run_dir, reason=self.stopped_by)

    # ----------------------------------------------------------------------------------------------- start
    def start(self, spent: dict[str, float]) -> None:
        """Start trials while the search goes on and Ray has room."""
        while self.stopped_by is None and len(self.running) < self.capacity and self._may_start(spent):
            self.start_trial(spent)

    def _may_start(self, spent: dict[str, float]) -> bool:
        budget, study = self.config.budget, self.study
        finished = n_finished(study)
        if budget.max_trials is not None and finished + len(self.running) >= budget.max_trials:
            if finished >= budget.max_trials:
                self.stopped_by, self.reason = "max_trials", f"{finished} trials finished (max_trials)"
            return False
        if space_size(self.space) <= len(finished_points(study)) + len(self.running):
            if not self.running:
                self.stopped_by, self.reason = "exhausted", "every point of the space was tried"
            return False
        return not over_budget(spent, budget)  # a trial starts while the budget is not used up

    def start_trial(self, spent: dict[str, float]) -> None:
        """Ask the study for a trial, check it with the gate, submit it (or tell why it did not start)."""
        from optuna.trial import TrialState

        config, res = self.config, self.config.resources
        trial = self.study.ask()
        params = suggest(trial, self.space)
        trial.set_user_attr("values", params)  # what runs (an ordered categorical is an index in params)
        run_dir = config.out / "trials" / f"trial_{trial.number:04d}"
        try:
            trial_config = _trial_config(config.base, params, run_dir=run_dir, cpus=res.cpus)
        except Exception as error:  # an invalid combination (e.g. heads vs width)
            trial.set_user_attr("error", f"invalid config: {str(error)[:500]}")
            stop_trial(run_dir, reason="invalid-config")
            self.study.tell(trial, state=TrialState.FAIL)
            log.warning("trial %d: invalid params %s: %s", trial.number, params, error)
            return
        check = self._check(trial_config, spent)
        if check is not None and check.outcome != "allow":
            trial.set_user_attr("error", f"policy: {check.outcome}: {check.reason}")
            stop_trial(run_dir, reason="policy")
            self.study.tell(trial, state=TrialState.FAIL)
            self.stopped_by, self.reason = "policy", f"trial {trial.number}: {check.outcome}: {check.reason}"
            log.warning("search stopped by policy: %s", self.reason)
            return
        running = _submit(
            self.task, trial, trial_config, config, in_process=self.in_process, vocab=self.vocab
        )
        running.tracker = self._trial_tracker(trial.number, params, trial_config)
        self.running[trial.number] = running
        log.info("trial %d started: %s", trial.number, _fmt_params(params))

    def _trial_tracker(self, number: int, params: dict[str, Any], trial_config: RunConfig) -> Tracker | None:
        """The trial's MLflow run, nested under the study's (none when the study is not tracked)."""
        if self.tracker is None:
            return None
        return start_run(
            self.config.base.tracking,
            experiment="vibe-hpo",
            name=f"{self.config.study_name}-trial-{number:04d}",
            params={"trial": params, "run": trial_config.model_dump(mode="json", exclude={"tracking"})},
            tags={"vibe.kind": "hpo.trial", "vibe.run_dir": str(trial_config.out), "vibe.trial": str(number)},
            parent=self.tracker,
        )

    def _check(self, trial_config: RunConfig, spent: dict[str, float]) -> Any:
        """The gate on this trial: the hours spent so far plus its estimate, and its model's size."""
        res = self.config.resources
        wall = (
            trial_flops(trial_config, vocab=self.vocab) * seconds_per_flop(self.study, self.config)
            if self.gate
            else 0.0
        )
        estimate = {"cpu_hours": wall * res.cpus / 3600, "gpu_hours": wall * res.gpus / 3600}
        return ask_gate(
            self.gate,
            {
                "cpu_hours": spent["cpu_hours"] + estimate["cpu_hours"],
                "gpu_hours": (spent["gpu_hours"] + estimate["gpu_hours"]) if res.gpus else None,
                "parameters": model_parameters(trial_config.model, vocab_size=self.vocab),
                "architecture": self.architecture,
                "paths": self.paths,
            },
        )


def _capacity(config: HPOConfig) -> int:
    """Trials at once: what Ray's CPUs (and GPUs, if trials ask for them) fit, capped by max_concurrent."""
    import ray

    total = ray.cluster_resources()
    res = config.resources
    fit = math.floor(total.get("CPU", 0) / res.cpus + 1e-9)
    if res.gpus:
        fit = min(fit, math.floor(total.get("GPU", 0) / res.gpus + 1e-9))
    if fit < 1:
        raise UserError(
            f"resources: a trial asks for {res.cpus:g} CPUs and {res.gpus:g} GPUs but the Ray cluster has "
            f"{total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs; lower resources.cpus / resources.gpus"
        )
    return min(fit, config.max_concurrent or fit)


def _trial_config(base: RunConfig, params: dict[str, Any], *, run_dir: Path, cpus: float) -> RunConfig:
    """The trial's run: base + params, its own directory and cache, every step logged (so a stop is quick),
    checkpoints only at the end (a trial is never resumed; a retry starts over)."""
    config = apply_params(base, params, out=str(run_dir))
    t = config.training
    world = config.parallel.world_size
    return config.model_copy(
        update={
            "training": t.model_copy(
                update={"log_interval": 1, "checkpoint_interval": 0, "keep_checkpoints": 1}
            ),
            "ray": config.ray.model_copy(update={"cpus_per_worker": cpus / world}),
        }
    )


def _submit(
    task: Any,
    trial: optuna.Trial,
    config: RunConfig,
    hpo: HPOConfig,
    *,
    in_process: bool,
    vocab: int,
) -> Running:
    res = hpo.resources
    fpt = config.model.flops_per_token(vocab_size=vocab)
    tokens_per_step = config.training.global_batch_size * config.model.seq_length
    attrs = {
        "run_dir": str(config.out),
        "started_at": time.time(),
        "cpus": res.cpus,
        "gpus": res.gpus,
        "flops_per_token": fpt,
        "tokens_per_step": tokens_per_step,
        "max_steps": config.training.max_steps,
    }
    for key, value in attrs.items():
        trial.set_user_attr(key, value)
    attempt = prepare_trial_dir(config)
    payload = {
        "config": config.model_dump(mode="json"),
        "attempt": attempt,
        "threads": max(1, int(res.cpus)),
        "precision": "fp32" if res.gpus == 0 else "bf16",
        "hold_at": rung_steps(hpo),  # the worker waits there for the pruner's verdict (see _follow)
    }
    options: dict[str, Any] = {
        "num_cpus": res.cpus if in_process else 0,
        "num_gpus": res.gpus if in_process else 0,
        "max_retries": 0,
    }
    ref = task.options(**options).remote(payload)
    return Running(
        trial=trial,
        config=config,
        ref=ref,
        hold_at=frozenset(payload["hold_at"]),
        submitted=time.time(),
        flops_per_token=fpt,
        tokens_per_step=tokens_per_step,
    )


def _follow(r: Running, config: HPOConfig) -> None:
    """Read the trial's new metrics records; report validation values; prune (or stop a diverged run)."""
    path = r.run_dir / "metrics.jsonl"
    if not path.is_file() or r.stop is not None:
        return
    with path.open("rb") as f:
        f.seek(r.offset)
        chunk = f.read()
    complete = chunk[: chunk.rfind(b"\n") + 1]
    r.offset += len(complete)
    for line in complete.decode("utf-8").splitlines():
        record = json.loads(line)
        r.step = int(record["step"])
        if r.tracker is not None:
            r.tracker.log_metrics({k: v for k, v in record.items() if k != "step"}, step=r.step)
        loss = record.get("loss")
        value = record.get(config.objective)
        if (loss is not None and not math.isfinite(loss)) or (value is not None and not math.isfinite(value)):
            r.stop = "diverged"
        elif value is not None and r.step < config.base.training.max_steps:
            r.values[r.step] = value
            r.trial.report(value, r.step)
            if r.trial.should_prune():
                r.stop = "pruned"
            elif r.step in r.hold_at:
                go_on(r.run_dir, r.step)
        if r.stop is not None:
            stop_trial(r.run_dir, reason=r.stop)
            log.info(
                "trial %d: %s at step %d (%s %s)", r.trial.number, r.stop, r.step, config.objective, value
            )
            return


def _conclude(study: optuna.Study, r: Running, config: HPOConfig, ref: Any) -> TrialSummary:
    """Tell the study how the trial ended and record its usage."""
    import ray
    from optuna.trial import TrialState

    from trainers import read_metrics

    error: str | None = None
    timing: dict[str, Any] = {}
    try:
        timing = ray.get(ref)
    except Exception as exc:  # a stopped trial raises here too (superseded attempt token)
        error = str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else repr(exc)
    records = read_metrics(r.run_dir / "metrics.jsonl") if (r.run_dir / "metrics.jsonl").is_file() else []
    steps = int(records[-1]["step"]) if records else 0
    wall = (timing["finished"] - timing["started"]) if timing else time.time() - r.submitted
    res = config.resources
    tokens = steps * r.tokens_per_step
    usage = {
        "wall_s": wall,
        "cpu_hours": wall * res.cpus / 3600,
        "gpu_hours": wall * res.gpus / 3600,
        "steps": steps,
        "tokens": tokens,
        "flops": tokens * r.flops_per_token,
        "ended_at": time.time(),
    }
    for key, value in usage.items():
        r.trial.set_user_attr(key, value)
    t = config.base.training
    final = next(
        (rec for rec in reversed(records) if rec["step"] == t.max_steps and config.objective in rec), None
    )
    # stopped_at: the step it was stopped at (it may train a few more before it reads the stop)
    if r.stop is not None:
        r.trial.set_user_attr("stopped", r.stop)
        r.trial.set_user_attr("stopped_at", r.step)
    if r.stop in ("pruned", "diverged"):
        study.tell(r.trial, state=TrialState.PRUNED)
    elif r.stop is not None:
        study.tell(r.trial, state=TrialState.FAIL)
    elif error is None and final is not None and math.isfinite(final[config.objective]):
        study.tell(r.trial, final[config.objective])
    else:
        r.trial.set_user_attr("error", error or f"no final {config.objective} at step {t.max_steps}")
        study.tell(r.trial, state=TrialState.FAIL)
        log.warning("trial %d failed: %s (see %s/logs/)", r.trial.number, error, r.run_dir)
    frozen = study._storage.get_trial(r.trial._trial_id)
    summary = summarize(frozen, out=config.out)
    if r.tracker is not None:
        _track_end(r, summary, usage, error)
    log.info(
        "trial %d %s: %s=%s, %d steps, %.1fs",
        summary.number,
        summary.state,
        config.objective,
        summary.value,
        summary.steps,
        summary.wall_s,
    )
    return summary


def _track_end(r: Running, summary: TrialSummary, usage: dict[str, Any], error: str | None) -> None:
    """Close the trial's MLflow run: its usage and value, how it ended, its metrics and config files."""
    assert r.tracker is not None
    metrics = {k: v for k, v in usage.items() if k != "ended_at"} | {"value": summary.value}
    r.tracker.log_metrics(metrics, step=int(usage["steps"]))
    r.tracker.set_tags({"vibe.state": summary.state, "vibe.stopped": r.stop, "vibe.error": error})
    for name in ("metrics.jsonl", "config.yaml"):
        r.tracker.log_artifact(r.run_dir / name)
    status = "FINISHED" if summary.state == "COMPLETE" else "KILLED" if r.stop is not None else "FAILED"
    r.tracker.finish(status=status, timeout_s=10)


def _describe(study: optuna.Study, running: dict[int, Running]) -> str:
    try:
        best = f"best {study.best_value:.4f}"
    except ValueError:
        best = "no trial complete yet"
    return f"hpo: {best}, {len(running)} running"


def _fmt_params(params: dict[str, Any]) -> str:
    return ", ".join(
        f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
        for k, v in params.items()
    )
