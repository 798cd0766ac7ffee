"""The driver: an Optuna study (ask/tell, RDB storage) whose trials are real short training runs on Ray.

Loop (one process, the *driver*, owns the study):

1. Before the search: bound the space by policy (:func:`tools.hpo._space.bound_by_policy`), ask the gate
   about ``hpo.search`` for the whole budget, open (or continue) the study, claim it, recover trials a
   crashed driver left RUNNING.
2. While the budget allows and Ray has room (``max_concurrent`` caps it): ``study.ask()``, ask the gate
   about this trial (hours spent so far + its estimate), prepare ``trials/trial_NNNN/`` and submit the trial
   as a Ray task with its own resource request (see ``_trial.py``).
3. Every half second: tail each running trial's ``metrics.jsonl``; every validation record becomes
   ``trial.report(value, step)``; ``trial.should_prune()`` (or a non-finite value: diverged) stops the trial
   through its attempt token and tells PRUNED. A finished task is told COMPLETE with the final validation
   value (the full valid split, at ``training.max_steps``).
4. Deadline or compute budget reached: no new trial starts and running ones are stopped (told FAILED with
   ``stopped: deadline|budget``; failed trials do not count as finished).

Accounting, stored as user attrs of every trial so a new driver (or ``SearchResult``) recomputes it from
storage alone: ``wall_s`` (from the task's start to its end, or to its last record when the driver died),
``cpu_hours = wall_s x cpus / 3600`` and ``gpu_hours`` likewise (what the trial held, used or not), and
``flops`` = training FLOPs (``trainers._model.flops_per_token`` x tokens trained; evaluation passes are not
counted), with ``tokens`` and ``steps``.

Resume: the study lives in storage, not in the driver. A new driver with the same study name and storage
continues it. Trials a killed driver left RUNNING are told FAILED with a user attr ``interrupted`` saying
why, their run directories get a new attempt token (so orphaned workers stop writing), and with
``on_interrupted="retry"`` their params are enqueued once (``retry_of`` = the old number) so the next
``ask()`` runs them again under a new number and a new run directory. ``max_trials`` counts COMPLETE and
PRUNED trials in storage, and a trial starts only while finished + running < max_trials, so the study never
finishes more than ``max_trials`` however often the driver dies. One driver per study at a time: the driver
writes a heartbeat into the study (user attr ``driver``) every few seconds and refuses to start while
another live driver's heartbeat is fresh.

Why explicit handling rather than ``RDBStorage(heartbeat_interval=...)``: Optuna's heartbeat thread runs in
``study.optimize`` only; with ask/tell the driver would have to start it per trial through private API, and
its ``fail_stale_trials`` cannot re-enqueue or stop orphans. Here a crash is detected at the next start,
which is the only moment it matters (no one else acts on the study meanwhile).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.hpo._config import Gatekeeper, HPOConfig, SearchResult, StoppedBy, TrialSummary
from tools.hpo._space import (
    SearchSpace,
    apply_params,
    bound_by_policy,
    max_space_parameters,
    model_parameters,
    space_size,
    suggest,
)
from tools.hpo._trial import prepare_trial_dir, run_launched_trial, run_trial, stop_trial
from vibe.core.errors import UserError
from vibe.core.log import get_logger, progress, setup_logging
from vibe.core.procs import pid_alive
from vibe.tracking import Tracker, start_run

if TYPE_CHECKING:
    import optuna

    from trainers import RunConfig

__all__ = ["open_study", "policy_max_parameters", "run_search", "summarize"]

log = get_logger("vibe.hpo")

POLL_S = 0.05  # how often the driver reads metrics: a pruned trial trains on for about this long
HEARTBEAT_S = 5.0
HEARTBEAT_GRACE_S = 30.0


@dataclass
class _Running:
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
    tracker: Tracker | None = None  # its MLflow run, nested under the study's

    @property
    def run_dir(self) -> Path:
        return Path(self.config.out)


# ------------------------------------------------------------------------------------------------ storage
def open_study(config: HPOConfig, *, load_only: bool = False) -> optuna.Study:
    """The study in ``config``'s storage (created unless ``load_only``), with its sampler and pruner."""
    import optuna

    url = _with_driver(config.storage_url())
    try:
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": 60}}
            if url.startswith("sqlite")
            else {"pool_pre_ping": True},
        )
    except Exception as error:  # bad URL, unreachable server, missing driver
        raise UserError(f"storage: cannot open {url!r} ({str(error).splitlines()[0][:300]})") from None
    try:  # a continued study: how many trials it holds already (see _sampler)
        held = len(
            optuna.load_study(study_name=config.study_name, storage=storage).get_trials(deepcopy=False)
        )
    except KeyError:
        held = 0
    sampler = _sampler(config, held=held)
    pruner = _pruner(config)
    if load_only:
        return optuna.load_study(
            study_name=config.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    return optuna.create_study(
        study_name=config.study_name,
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        direction="minimize",
        load_if_exists=True,
    )


def _with_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; Vibe ships psycopg 3, so name it when psycopg2 is absent."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg2") is None:
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sampler(config: HPOConfig, *, held: int = 0) -> optuna.samplers.BaseSampler:
    """TPE (multivariate, so width/depth/lr interact; constant liar for parallel trials), CMA-ES (with
    random start-up trials; categorical params fall back to independent random sampling) or random. The seed
    also mixes in how many trials the study holds, so a resumed driver does not replay the first draws."""
    import optuna

    seed = config.seed + held
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if config.sampler == "cmaes":
        return optuna.samplers.CmaEsSampler(
            seed=seed, n_startup_trials=4, warn_independent_sampling=False, consider_pruned_trials=True
        )
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5, multivariate=True, constant_liar=True)


def _pruner(config: HPOConfig) -> optuna.pruners.BasePruner:
    """Rungs in optimizer steps, from the first validation after a quarter of ``max_steps`` to ``max_steps``.

    Why not from the very first validation: early validation values rank how far warmup has got and how
    fast a wide model starts, not where a run ends; in ``bench/hpo_efficiency.py`` a first rung at 1/8 of the
    steps pruned the narrow models that end best. A quarter is the usual end of warmup in the default space.
    """
    import optuna

    t = config.base.training
    every = t.eval_interval or t.max_steps
    first = min(t.max_steps, every * math.ceil(max(1, t.max_steps // 4) / every))
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=first, max_resource=t.max_steps, reduction_factor=3
        )
    if config.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=3)
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=first - 1)
    return optuna.pruners.NopPruner()


def _claim(study: optuna.Study) -> None:
    """Refuse to drive a study another live driver drives; then write our heartbeat."""
    other = study.user_attrs.get("driver")
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    if other and time.time() - float(other.get("beat", 0)) < HEARTBEAT_GRACE_S:
        same_host = other.get("host") == me["host"]
        if (
            same_host and other.get("pid") != me["pid"] and pid_alive(int(other.get("pid", 0)))
        ) or not same_host:
            raise UserError(
                f"study {study.study_name}: another driver (pid {other.get('pid')} on {other.get('host')}) is "
                f"running it (heartbeat {time.time() - float(other['beat']):.0f}s ago); wait for it to finish, "
                f"or stop it, then run again"
            )
    _beat(study)


def _beat(study: optuna.Study) -> None:
    study.set_user_attr("driver", {"host": socket.gethostname(), "pid": os.getpid(), "beat": time.time()})


def _release(study: optuna.Study) -> None:
    study.set_user_attr("driver", {"host": socket.gethostname(), "pid": os.getpid(), "beat": 0.0})


def _recover(study: optuna.Study, config: HPOConfig) -> list[int]:
    """Fail (and maybe re-enqueue) every trial a previous driver left RUNNING; returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    recovered = []
    for t in trials:
        if t.state != TrialState.RUNNING:
            continue
        run_dir = Path(t.user_attrs.get("run_dir", config.out / "trials" / f"trial_{t.number:04d}"))
        stop_trial(run_dir, reason="driver-restarted")
        handle = optuna.trial.Trial(study, t._trial_id)
        for key, value in _usage_from_dir(run_dir, t.user_attrs).items():
            handle.set_user_attr(key, value)
        why = "the driver stopped (crash or kill) while this trial ran"
        if "started_at" not in t.user_attrs:  # killed between ask and start: nothing ran, nothing to retry
            why = "the driver stopped (crash or kill) before this trial started; not retried (nothing ran)"
        elif config.on_interrupted == "retry":
            if t.number not in retried:
                study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            why += "; its params were enqueued again (see the trial whose retry_of is this number)"
        handle.set_user_attr("interrupted", why)
        study.tell(t.number, state=TrialState.FAIL)
        recovered.append(t.number)
        log.warning("trial %d: %s", t.number, why)
    return recovered


def _usage_from_dir(run_dir: Path, attrs: dict[str, Any]) -> dict[str, Any]:
    """Wall time and compute of an interrupted trial, from what its run directory shows."""
    from trainers._metrics import read_metrics

    path = run_dir / "metrics.jsonl"
    records = read_metrics(path) if path.is_file() else []
    started = float(attrs.get("started_at", 0.0))
    end = records[-1]["time"] if records else started
    wall = max(0.0, end - started) if started else 0.0
    steps = int(records[-1]["step"]) if records else 0
    tokens = steps * int(attrs.get("tokens_per_step", 0))
    return {
        "wall_s": wall,
        "cpu_hours": wall * float(attrs.get("cpus", 0.0)) / 3600,
        "gpu_hours": wall * float(attrs.get("gpus", 0.0)) / 3600,
        "steps": steps,
        "tokens": tokens,
        "flops": tokens * float(attrs.get("flops_per_token", 0.0)),
    }


# ------------------------------------------------------------------------------------------------- policy
def policy_max_parameters(gate: Gatekeeper, *, attributes: dict[str, Any], upper: int) -> int | None:
    """The largest parameter count the policy allows for ``hpo.search``, through ``gate.check`` alone.

    The gate protocol has no "what is the limit" question, and ``tools`` may not reach into
    ``vibe.agent``'s policy objects, so this bisects: a count is over the limit when the decision's rule ids
    name ``models.max_parameters``. Returns None when ``upper`` (the space's largest model) is allowed.
    About 40 pure, in-memory checks.
    """

    def over(n: int) -> bool:
        decision = gate.check(kind="hpo.search", attributes={**attributes, "parameters": n})
        return any(str(r).endswith("models.max_parameters") for r in getattr(decision, "rule_ids", []) or [])

    if not over(upper):
        return None
    lo, hi = 0, upper  # lo allowed (or 0), hi over
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if over(mid) else (mid, hi)
    return lo


def _data_paths(base: RunConfig) -> list[str]:
    """The dataset directories and, from their manifests, the raw inputs they were made from (the policy's
    data classification applies to those)."""
    paths: list[str] = []
    for source in base.data.sources:
        root = Path(source.path).resolve()
        paths.append(str(root))
        try:
            manifest = json.loads((root / "manifest.json").read_text())
            paths += [str(Path(p).resolve()) for p in manifest.get("config", {}).get("inputs", [])]
        except (OSError, ValueError):
            pass
    return list(dict.fromkeys(paths))


def _ask_gate(gate: Gatekeeper | None, attributes: dict[str, Any]) -> Any:
    if gate is None:
        return None
    return gate.check(kind="hpo.search", attributes={k: v for k, v in attributes.items() if v is not None})


# --------------------------------------------------------------------------------------------------- search
def run_search(
    config: HPOConfig,
    *,
    gate: Gatekeeper | None = None,
    on_trial: Any = None,
) -> SearchResult:
    """Run (or continue) the search in ``config``; see the module docstring for the loop.

    ``gate`` is asked ``hpo.search`` before the search (the budget's cpu/gpu hours, the space's largest
    model in ``parameters``, ``architecture``, the data ``paths``) and before each new trial (hours spent so
    far + the trial's estimate, that trial's parameters). A deny stops the search (``stopped_by="policy"``);
    ``require_approval`` before the search raises ``UserError`` naming the rule (callers that queue approvals
    check first); during it, it stops the search like a deny. The space is bounded by the policy's
    ``models.max_parameters`` first. ``on_trial`` is called with each trial's summary when it ends.
    """
    import optuna

    from trainers._data import read_sources
    from trainers._model import flops_per_token

    started = time.time()
    out = Path(config.out).resolve()
    base = _resolved_base(config.base)
    config = config.model_copy(update={"out": out, "base": base})
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials").mkdir(exist_ok=True)
    setup_logging(log_file=out / "hpo.log")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    vocab = read_sources(base)[0].vocab_size
    budget, res = config.budget, config.resources
    architecture = "moe" if base.model.num_experts else "dense"
    paths = _data_paths(base)

    # --- the space, bounded by policy; the search as a whole through the gate
    space, notes = config.space, []
    if gate is not None:
        upper = max_space_parameters(space, base, vocab_size=vocab)
        limit = policy_max_parameters(
            gate,
            attributes={
                "cpu_hours": budget.cpu_hours,
                "gpu_hours": budget.gpu_hours,
                "architecture": architecture,
                "paths": paths,
            },
            upper=upper,
        )
        space, notes = bound_by_policy(space, base, vocab_size=vocab, limit=limit)
        for note in notes:
            log.info("space bounded by policy: %s", note)
    largest = max_space_parameters(space, base, vocab_size=vocab)
    whole = _search_hours(config, space, vocab=vocab) if gate is not None else {}
    decision = _ask_gate(
        gate,
        {
            "cpu_hours": whole.get("cpu_hours"),
            "gpu_hours": whole.get("gpu_hours"),
            "parameters": largest,
            "architecture": architecture,
            "paths": paths,
        },
    )
    study = open_study(config)
    tracker = start_run(
        base.tracking,
        experiment="vibe-hpo",
        name=config.study_name,
        params={
            "objective": config.objective,
            "sampler": config.sampler,
            "pruner": config.pruner,
            "space": space.model_dump(mode="json"),
            "budget": budget.model_dump(mode="json"),
        },
        tags={"vibe.kind": "hpo.study", "vibe.out": str(out), "vibe.storage": config.storage_url()},
    )
    study.set_user_attr("space", space.model_dump(mode="json"))
    study.set_user_attr("objective", config.objective)
    if decision is not None and decision.outcome == "require_approval":
        raise UserError(
            f"hpo.search needs approval under rule(s) {', '.join(decision.rule_ids)}: {decision.reason}; "
            "file an approval request for this search (the agent does), then run it again"
        )
    if decision is not None and decision.outcome == "deny":
        log.warning("hpo.search denied: %s", decision.reason)
        return _finish(
            config,
            study,
            started,
            "policy",
            f"denied before the search: {decision.reason}",
            space,
            tracker=tracker,
        )

    _claim(study)
    _recover(study, config)
    _init_ray(base)
    import ray

    deadline = budget.deadline.timestamp() if budget.deadline else math.inf
    if budget.max_wall_s is not None:
        deadline = min(deadline, started + budget.max_wall_s)
    world = base.parallel.world_size
    in_process = world == 1 and res.gpus == 0
    task = ray.remote(run_trial if in_process else run_launched_trial)
    capacity = _capacity(config)
    running: dict[int, _Running] = {}
    log.info(
        "study %s (%s): %s sampler, %s pruner, up to %d trials at once; dashboard: optuna-dashboard %s",
        config.study_name,
        config.storage_url(),
        config.sampler,
        config.pruner,
        capacity,
        config.storage_url(),
    )
    bar_total = budget.max_trials or 0
    try:
        stopped_by, reason = _loop(
            study,
            config,
            space,
            gate,
            task,
            capacity,
            deadline,
            running,
            vocab=vocab,
            architecture=architecture,
            paths=paths,
            in_process=in_process,
            on_trial=on_trial,
            bar_total=bar_total,
            flops_per_token=flops_per_token,
            tracker=tracker,
        )
    finally:  # on an exception in the driver: stop its trials (the next start recovers them)
        for r in running.values():
            stop_trial(r.run_dir, reason="driver-exception")
            if r.tracker is not None:
                r.tracker.finish(status="KILLED", timeout_s=5)
        _release(study)
    return _finish(config, study, started, stopped_by, reason, space, notes=notes, tracker=tracker)


def _loop(
    study: optuna.Study,
    config: HPOConfig,
    space: SearchSpace,
    gate: Gatekeeper | None,
    task: Any,
    capacity: int,
    deadline: float,
    running: dict[int, _Running],
    *,
    vocab: int,
    architecture: str,
    paths: list[str],
    in_process: bool,
    on_trial: Any,
    bar_total: int,
    flops_per_token: Any,
    tracker: Tracker | None = None,
) -> tuple[StoppedBy, str]:
    """The scheduling loop of :func:`run_search` (see the module docstring); returns why it stopped."""
    import ray
    from optuna.trial import TrialState

    budget, res, base, out = config.budget, config.resources, config.base, config.out
    stopped_by: StoppedBy | None = None
    reason = ""
    last_beat = time.time()
    closed: dict[str, float] | None = None
    with progress() as bar:
        task_id = bar.add_task("hpo", total=bar_total or None, completed=_n_finished(study))
        while True:
            now = time.time()
            if closed is None:  # what trials no longer running used (storage is read once, then summed up)
                closed = _spent({"cpu_hours": 0.0, "gpu_hours": 0.0, "flops": 0.0}, {}, config, study=study)
            if now - last_beat > HEARTBEAT_S:
                _beat(study)
                last_beat = now
            # --- follow running trials
            for r in list(running.values()):
                _follow(r, config)
            done, _ = (
                ray.wait([r.ref for r in running.values()], num_returns=len(running), timeout=0)
                if running
                else ([], [])
            )
            for ref in done:
                number = next(n for n, r in running.items() if r.ref == ref)
                r = running.pop(number)
                summary = _conclude(study, r, config, ref)
                closed = {
                    "cpu_hours": closed["cpu_hours"] + summary.cpu_hours,
                    "gpu_hours": closed["gpu_hours"] + summary.gpu_hours,
                    "flops": closed["flops"] + summary.flops,
                }
                if on_trial is not None:
                    on_trial(summary)
                bar.update(task_id, completed=_n_finished(study), description=_describe(study, running))
            # --- stop conditions that end running trials
            spent = _spent(closed, running, config)
            if stopped_by is None and now >= deadline:
                stopped_by, reason = "deadline", "the deadline passed"
            if stopped_by is None:
                over = _over_budget(spent, budget)
                if over:
                    stopped_by, reason = "budget", over
            if stopped_by in ("deadline", "budget"):
                for r in running.values():
                    if r.stop is None:
                        r.stop = stopped_by
                        stop_trial(r.run_dir, reason=stopped_by)
            # --- start new trials
            while stopped_by is None and len(running) < capacity:
                finished = _n_finished(study)
                if budget.max_trials is not None and finished + len(running) >= budget.max_trials:
                    if finished >= budget.max_trials:
                        stopped_by, reason = "max_trials", f"{finished} trials finished (max_trials)"
                    break
                if space_size(space) <= len(_finished_points(study)) + len(running):
                    if not running:
                        stopped_by, reason = "exhausted", "every point of the space was tried"
                    break
                if _over_budget(spent, budget):  # a trial starts while the budget is not used up
                    break
                trial = study.ask()
                params = suggest(trial, space)
                run_dir = out / "trials" / f"trial_{trial.number:04d}"
                try:
                    trial_config = _trial_config(base, params, run_dir=run_dir, cpus=res.cpus)
                except Exception as error:  # an invalid combination (e.g. heads vs width)
                    trial.set_user_attr("error", f"invalid config: {str(error)[:500]}")
                    stop_trial(run_dir, reason="invalid-config")
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning("trial %d: invalid params %s: %s", trial.number, params, error)
                    continue
                wall = (
                    _trial_flops(trial_config, vocab=vocab) * _seconds_per_flop(study, config)
                    if gate
                    else 0.0
                )
                estimate = {"cpu_hours": wall * res.cpus / 3600, "gpu_hours": wall * res.gpus / 3600}
                check = _ask_gate(
                    gate,
                    {
                        "cpu_hours": spent["cpu_hours"] + estimate["cpu_hours"],
                        "gpu_hours": (spent["gpu_hours"] + estimate["gpu_hours"]) if res.gpus else None,
                        "parameters": model_parameters(trial_config.model, vocab_size=vocab),
                        "architecture": architecture,
                        "paths": paths,
                    },
                )
                if check is not None and check.outcome != "allow":
                    trial.set_user_attr("error", f"policy: {check.outcome}: {check.reason}")
                    stop_trial(run_dir, reason="policy")
                    study.tell(trial, state=TrialState.FAIL)
                    stopped_by, reason = "policy", f"trial {trial.number}: {check.outcome}: {check.reason}"
                    log.warning("search stopped by policy: %s", reason)
                    break
                running[trial.number] = _submit(
                    task,
                    trial,
                    trial_config,
                    config,
                    in_process=in_process,
                    vocab=vocab,
                    flops_per_token=flops_per_token,
                )
                running[trial.number].tracker = start_run(
                    base.tracking,
                    experiment="vibe-hpo",
                    name=f"{config.study_name}-trial-{trial.number:04d}",
                    params={
                        "trial": params,
                        "run": trial_config.model_dump(mode="json", exclude={"tracking"}),
                    },
                    tags={
                        "vibe.kind": "hpo.trial",
                        "vibe.run_dir": str(run_dir),
                        "vibe.trial": str(trial.number),
                    },
                    parent=tracker,
                )
                log.info("trial %d started: %s", trial.number, _fmt_params(params))
            if not running and (stopped_by is not None or capacity == 0):
                break
            time.sleep(POLL_S)
    return stopped_by or "exhausted", reason


def _seconds_per_flop(study: optuna.Study | None, config: HPOConfig) -> float:
    """Wall seconds per training FLOP of one trial: measured on this study's finished trials, else the
    hardware peak at 25% utilisation (CPU: the measured fp32 matmul peak of the trial's threads; GPU: an
    assumed 100 TFLOP/s per GPU)."""
    if study is not None:
        done = [t for t in study.get_trials(deepcopy=False) if float(t.user_attrs.get("flops", 0)) > 0]
        if done:
            return sum(float(t.user_attrs["wall_s"]) for t in done) / sum(
                float(t.user_attrs["flops"]) for t in done
            )
    res = config.resources
    if res.gpus:
        return 1 / (0.25 * 1e14 * res.gpus)
    from trainers._metrics import cpu_peak_flops

    return 1 / (0.25 * cpu_peak_flops(max(1, int(res.cpus))))


def _trial_flops(config: RunConfig, *, vocab: int) -> float:
    from trainers._model import flops_per_token

    t = config.training
    return (
        flops_per_token(config.model, vocab_size=vocab)
        * t.max_steps
        * t.global_batch_size
        * config.model.seq_length
    )


def _search_hours(config: HPOConfig, space: SearchSpace, *, vocab: int) -> dict[str, float]:
    """The hours the gate is asked about before the search: the budget's own, else an upper estimate from
    the other limits (max_trials x the largest trial, or the wall-clock limit x the trials that fit at once).
    """
    from tools.hpo._space import _largest

    budget, res = config.budget, config.resources
    if budget.cpu_hours is not None or budget.gpu_hours is not None:
        return {k: v for k, v in (("cpu_hours", budget.cpu_hours), ("gpu_hours", budget.gpu_hours)) if v}
    bounds = []
    if budget.max_trials is not None:
        wall = _trial_flops(_largest(space, config.base), vocab=vocab) * _seconds_per_flop(None, config)
        bounds.append(budget.max_trials * wall)
    end = budget.deadline.timestamp() if budget.deadline else math.inf
    if budget.max_wall_s is not None:
        end = min(end, time.time() + budget.max_wall_s)
    if math.isfinite(end):
        at_once = config.max_concurrent or max(1, int((os.cpu_count() or 1) // res.cpus))
        bounds.append(max(0.0, end - time.time()) * at_once)
    if not bounds:
        return {}
    wall_h = min(bounds) / 3600
    return {"cpu_hours": wall_h * res.cpus, **({"gpu_hours": wall_h * res.gpus} if res.gpus else {})}


def _resolved_base(base: RunConfig) -> RunConfig:
    sources = [s.model_copy(update={"path": Path(s.path).resolve()}) for s in base.data.sources]
    return base.model_copy(update={"data": base.data.model_copy(update={"sources": sources})})


def _init_ray(base: RunConfig) -> None:
    """Join Ray: the running instance, ``ray.address`` / ``$RAY_ADDRESS``, or an embedded local one."""
    import ray

    if ray.is_initialized():
        return
    from trainers._launch import _init_ray as init  # one way to start or join Ray, shared with training

    init(base)


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
    flops_per_token: Any,
) -> _Running:
    res = hpo.resources
    fpt = flops_per_token(config.model, vocab_size=vocab)
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
    }
    options: dict[str, Any] = {
        "num_cpus": res.cpus if in_process else 0,
        "num_gpus": res.gpus if in_process else 0,
        "max_retries": 0,
    }
    ref = task.options(**options).remote(payload)
    return _Running(
        trial=trial,
        config=config,
        ref=ref,
        submitted=time.time(),
        flops_per_token=fpt,
        tokens_per_step=tokens_per_step,
    )


def _follow(r: _Running, config: HPOConfig) -> None:
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
        if r.stop is not None:
            stop_trial(r.run_dir, reason=r.stop)
            log.info(
                "trial %d: %s at step %d (%s %s)", r.trial.number, r.stop, r.step, config.objective, value
            )
            return


def _conclude(study: optuna.Study, r: _Running, config: HPOConfig, ref: Any) -> TrialSummary:
    """Tell the study how the trial ended and record its usage."""
    import ray
    from optuna.trial import TrialState

    from trainers._metrics import read_metrics

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
    if r.stop in ("pruned", "diverged"):
        r.trial.set_user_attr("stopped", r.stop)
        study.tell(r.trial, state=TrialState.PRUNED)
    elif r.stop is not None:
        r.trial.set_user_attr("stopped", r.stop)
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
        r.tracker.log_metrics(
            {k: v for k, v in usage.items() if k != "ended_at"} | {"value": summary.value}, step=steps
        )
        r.tracker.set_tags({"vibe.state": summary.state, "vibe.stopped": r.stop, "vibe.error": error})
        for name in ("metrics.jsonl", "config.yaml"):
            r.tracker.log_artifact(r.run_dir / name)
        r.tracker.finish(status="FINISHED" if summary.state == "COMPLETE" else "KILLED", timeout_s=10)
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


def _n_finished(study: optuna.Study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def _finished_points(study: optuna.Study) -> set[str]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
    return {json.dumps(t.params, sort_keys=True) for t in trials}


def _spent(
    closed: dict[str, float],
    running: dict[int, _Running],
    config: HPOConfig,
    *,
    study: optuna.Study | None = None,
) -> dict[str, float]:
    """Compute used so far: ``closed`` (plus every trial in ``study``, if given) and running ones up to now."""
    spent = dict(closed)
    for t in study.get_trials(deepcopy=False) if study is not None else []:
        if t.number not in running:
            for key in spent:
                spent[key] += float(t.user_attrs.get(key, 0.0))
    now, res = time.time(), config.resources
    for r in running.values():
        wall = now - r.submitted
        spent["cpu_hours"] += wall * res.cpus / 3600
        spent["gpu_hours"] += wall * res.gpus / 3600
        spent["flops"] += r.step * r.tokens_per_step * r.flops_per_token
    return spent


def _over_budget(spent: dict[str, float], budget: Any) -> str:
    """Why the budget is used up ('' if not). A trial starts while it is not; the trial that uses it up
    is stopped (and its compute counts)."""
    for key, limit in (
        ("cpu_hours", budget.cpu_hours),
        ("gpu_hours", budget.gpu_hours),
        ("flops", budget.flops),
    ):
        if limit is not None and spent[key] >= limit:
            return f"{key}: {spent[key]:.4g} of the budget's {limit:.4g} used"
    return ""


def _describe(study: optuna.Study, running: dict[int, _Running]) -> str:
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


def summarize(frozen: optuna.trial.FrozenTrial, *, out: Path) -> TrialSummary:
    a = frozen.user_attrs
    return TrialSummary(
        number=frozen.number,
        state=frozen.state.name,
        value=frozen.value,
        params=dict(frozen.params),
        run_dir=Path(a.get("run_dir", out / "trials" / f"trial_{frozen.number:04d}")),
        steps=int(a.get("steps", 0)),
        cpu_hours=float(a.get("cpu_hours", 0.0)),
        gpu_hours=float(a.get("gpu_hours", 0.0)),
        flops=float(a.get("flops", 0.0)),
        wall_s=float(a.get("wall_s", 0.0)),
        user_attrs=dict(a),
    )


def _finish(
    config: HPOConfig,
    study: optuna.Study,
    started: float,
    stopped_by: StoppedBy,
    reason: str,
    space: SearchSpace,
    *,
    notes: list[str] | None = None,
    tracker: Tracker | None = None,
) -> SearchResult:
    from tools.hpo._report import write_study_report

    trials = [summarize(t, out=config.out) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in trials if t.state == "COMPLETE" and t.value is not None]
    best = min(complete, key=lambda t: t.value or math.inf) if complete else None
    study.set_user_attr(
        "last_stop", {"stopped_by": stopped_by, "reason": reason, "at": datetime.now(UTC).isoformat()}
    )
    report = write_study_report(
        storage=config.storage_url(),
        study_name=config.study_name,
        out=config.out,
        notes=[*(notes or []), f"stopped by {stopped_by}: {reason}"],
    )
    result = SearchResult(
        study_name=config.study_name,
        storage=config.storage_url(),
        out=config.out,
        best=best,
        n_complete=sum(t.state == "COMPLETE" for t in trials),
        n_pruned=sum(t.state == "PRUNED" for t in trials),
        n_failed=sum(t.state == "FAIL" for t in trials),
        cpu_hours=sum(t.cpu_hours for t in trials),
        gpu_hours=sum(t.gpu_hours for t in trials),
        flops=sum(t.flops for t in trials),
        wall_s=time.time() - started,
        stopped_by=stopped_by,
        report=report,
        trials=trials,
        stop_reason=reason,
        space=space,
    )
    if tracker is not None:
        tracker.log_metrics(
            {
                "best_value": best.value if best else None,
                "n_complete": result.n_complete,
                "n_pruned": result.n_pruned,
                "n_failed": result.n_failed,
                "cpu_hours": result.cpu_hours,
            }
        )
        tracker.set_tags({"vibe.stopped_by": stopped_by, "vibe.stop_reason": reason})
        for path in [*sorted(config.out.glob("*.png")), report]:
            tracker.log_artifact(path)
        tracker.finish()
    log.info(
        "study %s: %d complete, %d pruned, %d failed; best %s; stopped by %s (%s); report %s; "
        "open it with: optuna-dashboard %s",
        result.study_name,
        result.n_complete,
        result.n_pruned,
        result.n_failed,
        None if best is None else f"{best.value:.4f} (trial {best.number})",
        stopped_by,
        reason,
        report,
        result.storage,
    )
    return result
