"""The search: an Optuna study (ask/tell, RDB storage) whose trials are real short training runs on Ray.

:func:`run_search`, top-down:

1. Before the search: bound the space by policy (:func:`tools.hpo.bound_by_policy`, with the model size limit
   found through the gate, ``_policy.py``), ask the gate about ``hpo.search`` for the whole budget
   (``_budget.py`` estimates it), open (or continue) the study and claim it (``_storage.py``: its heartbeat),
   recover trials a crashed driver left RUNNING, and seed a fresh TPE study with its start (``_start.py``:
   the base run's values, then scrambled Sobol points).
2. The driver loop (``_driver.py``): trials start, are followed and pruned, and are reaped, until the budget,
   the deadline, ``max_trials``, the space or the policy stops the search.
3. The result: every trial summarised from storage, the study report written (``_report.py``).

Tracking: the study is one MLflow run in the ``vibe-hpo`` experiment (``vibe.kind=hpo.study``; its
objective, sampler, pruner, space and budget as params), each trial a run nested under it (``_driver.py``);
at the end the study's run gets the counts, the best value, the report and the plots.

Accounting, stored as user attrs of every trial so a new driver (or ``SearchResult``) recomputes it from
storage alone: ``wall_s`` (from the task's start to its end, or to its last record when the driver died),
``cpu_hours``, ``gpu_hours`` and ``flops`` (see ``_budget.py``), with ``tokens`` and ``steps``.

Resume: the study lives in storage, not in the driver. A new driver with the same study name and storage
continues it. Trials a killed driver left RUNNING are told FAILED with a user attr ``interrupted`` saying
why, their run directories get a new attempt token (so orphaned workers stop writing), and with
``on_interrupted="retry"`` their params are enqueued once (``retry_of`` = the old number) so the next
``ask()`` runs them again under a new number and a new run directory. ``max_trials`` counts COMPLETE and
PRUNED trials in storage, and a trial starts only while finished + running < max_trials, so the study never
finishes more than ``max_trials`` however often the driver dies. One driver per study at a time (see
:class:`tools.hpo._storage.Heartbeat`).
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import Gate
from tools.hpo._budget import search_hours
from tools.hpo._config import HPOConfig, SearchResult, StoppedBy
from tools.hpo._driver import optimize
from tools.hpo._policy import ask_gate, data_paths, policy_max_parameters
from tools.hpo._report import write_study_report
from tools.hpo._space import SearchSpace, bound_by_policy, max_space_parameters
from tools.hpo._start import enqueue_start
from tools.hpo._storage import Heartbeat, open_study, recover, summarize
from vibe.core.errors import UserError
from vibe.core.log import run_log
from vibe.tracking import Tracker, start_run

if TYPE_CHECKING:
    import optuna

    from trainers import RunConfig

__all__ = ["open_study", "policy_max_parameters", "run_search", "summarize"]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------- search
def run_search(
    config: HPOConfig,
    *,
    gate: Gate | None = None,
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

    started = time.time()
    out = Path(config.out).resolve()
    config = config.model_copy(update={"out": out, "base": _resolved_base(config.base)})
    out.mkdir(parents=True, exist_ok=True)
    (out / "trials").mkdir(exist_ok=True)
    with run_log(out / "hpo.log"):
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return _search(config, gate=gate, on_trial=on_trial, started=started)


def _search(config: HPOConfig, *, gate: Gate | None, on_trial: Any, started: float) -> SearchResult:
    """The search in its prepared directory: the space bounded by policy, the search as a whole through the
    gate, then the study optimised (or stopped by the gate's deny before it starts)."""
    from trainers import read_sources

    base = config.base
    vocab = read_sources(base)[0].vocab_size
    facts = {"architecture": "moe" if base.model.num_experts else "dense", "paths": data_paths(base)}
    space, notes = _bounded_space(config, gate, vocab=vocab, facts=facts)
    largest = max_space_parameters(space, base, vocab_size=vocab)
    whole = search_hours(config, space, vocab=vocab) if gate is not None else {}
    decision = ask_gate(
        gate,
        {"cpu_hours": whole.get("cpu_hours"), "gpu_hours": whole.get("gpu_hours"), "parameters": largest,
         **facts},
    )  # fmt: skip
    study = open_study(config)
    study.set_user_attr("space", space.model_dump(mode="json"))
    study.set_user_attr("objective", config.objective)
    if decision is not None and decision.outcome == "require_approval":
        raise UserError(
            f"hpo.search needs approval under rule(s) {', '.join(decision.rule_ids)}: {decision.reason}; "
            "file an approval request for this search (the agent does), then run it again"
        )
    tracker = _study_tracker(config, space)
    if decision is not None and decision.outcome == "deny":
        log.warning("hpo.search denied: %s", decision.reason)
        reason = f"denied before the search: {decision.reason}"
        return _finish(config, study, started, "policy", reason, space, tracker=tracker)
    budget = config.budget
    deadline = budget.deadline.timestamp() if budget.deadline else math.inf
    if budget.max_wall_s is not None:
        deadline = min(deadline, started + budget.max_wall_s)
    try:  # the study's run ends FAILED if the study is held elsewhere or the driver raises
        heartbeat = Heartbeat(study)
        heartbeat.claim()
        recover(study, config)
        if config.sampler == "tpe" and config.start == "sobol":
            enqueue_start(study, space, base, seed=config.seed, limit=budget.max_trials)
        stopped_by, reason = optimize(
            study,
            config,
            space,
            gate=gate,
            heartbeat=heartbeat,
            deadline=deadline,
            vocab=vocab,
            architecture=facts["architecture"],
            paths=facts["paths"],
            on_trial=on_trial,
            tracker=tracker,
        )
    except BaseException:
        tracker.finish(status="FAILED", timeout_s=5)
        raise
    return _finish(config, study, started, stopped_by, reason, space, notes=notes, tracker=tracker)


def _bounded_space(
    config: HPOConfig, gate: Gate | None, *, vocab: int, facts: dict[str, Any]
) -> tuple[SearchSpace, list[str]]:
    """The space bounded by the policy's ``models.max_parameters`` (unchanged without a gate), and the notes
    saying what was cut."""
    space, base, budget = config.space, config.base, config.budget
    if gate is None:
        return space, []
    upper = max_space_parameters(space, base, vocab_size=vocab)
    limit = policy_max_parameters(
        gate,
        attributes={"cpu_hours": budget.cpu_hours, "gpu_hours": budget.gpu_hours, **facts},
        upper=upper,
    )
    space, notes = bound_by_policy(space, base, vocab_size=vocab, limit=limit)
    for note in notes:
        log.info("space bounded by policy: %s", note)
    return space, notes


def _study_tracker(config: HPOConfig, space: SearchSpace) -> Tracker:
    """The study's MLflow run, under which every trial's run is nested."""
    return start_run(
        config.base.tracking,
        experiment="vibe-hpo",
        name=config.study_name,
        params={
            "objective": config.objective,
            "sampler": config.sampler,
            "pruner": config.pruner,
            "space": space.model_dump(mode="json"),
            "budget": config.budget.model_dump(mode="json"),
        },
        tags={"vibe.kind": "hpo.study", "vibe.out": str(config.out), "vibe.storage": config.storage_url()},
    )


def _resolved_base(base: RunConfig) -> RunConfig:
    sources = [s.model_copy(update={"path": Path(s.path).resolve()}) for s in base.data.sources]
    return base.model_copy(update={"data": base.data.model_copy(update={"sources": sources})})


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
    from optuna.trial import TrialState

    ran = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]  # not the queue
    trials = [summarize(t, out=config.out) for t in ran]
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
        _track_study(tracker, result, config)
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


def _track_study(tracker: Tracker, result: SearchResult, config: HPOConfig) -> None:
    """Close the study's MLflow run: its counts and best value, why it stopped, its report and plots."""
    tracker.log_metrics(
        {
            "best_value": result.best.value if result.best else None,
            "n_complete": result.n_complete,
            "n_pruned": result.n_pruned,
            "n_failed": result.n_failed,
            "cpu_hours": result.cpu_hours,
        }
    )
    tracker.set_tags({"vibe.stopped_by": result.stopped_by, "vibe.stop_reason": result.stop_reason})
    for path in [*sorted(Path(config.out).glob("*.png")), result.report]:
        tracker.log_artifact(path)
    tracker.finish()
