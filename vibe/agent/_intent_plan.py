"""Plans per intent: what each kind of request turns into, and the answers that run nothing.

- train / estimate / tune become a :class:`~vibe.agent._goal.TrainingGoal` for the planner (:func:`goal_of`),
  with the cluster the request names replacing the configured one (:func:`settings_for`), a money ceiling
  turned into GPU-hours, a clock time into hours from now, a tune's named parameters narrowing its space;
- continue re-plans an earlier thread's training step (found in the ledger) with the changes: more steps
  resume it in place from its last checkpoint; a new learning rate, more data or "as a new run" branch a new
  run from its latest checkpoint (``init_from``: weights only, fresh optimizer and schedule);
- eval plans the ``eval`` tool on an earlier run; synth plans ingest then ``synth``;
- status is answered from the ledger, the run's metrics, the approvals store and the loop's state;
- post_train, release and fine-tuning from a base model are planned in :mod:`vibe.agent._lifecycle`;
- refuse and unclear stop with the reason or the question.

Every plan says what it was asked next to what it chose (:func:`asked_line`).
"""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vibe.agent._goal import TrainingGoal
from vibe.agent._intent import Intent, Reading
from vibe.agent._plan import Plan, PlanSettings, PlanStep, count

if TYPE_CHECKING:
    from vibe.agent._deps import AgentDeps

__all__ = [
    "TRAINING_KINDS",
    "asked_line",
    "earlier_run",
    "goal_of",
    "hours_until",
    "settings_for",
    "status_answer",
]

TRAINING_KINDS = ("train", "estimate", "tune")
_SPACE_NAMES = {
    "lr": "optimizer.lr",
    "warmup": "optimizer.warmup_steps",
    "weight_decay": "optimizer.weight_decay",
    "batch": "training.global_batch_size",
    "width": "model.hidden_size",
    "depth": "model.num_layers",
}


def hours_until(clock: str, *, now: datetime | None = None) -> tuple[float, datetime]:
    """Hours from ``now`` to the next ``HH:MM`` local time, and that time (timezone-aware)."""
    now = (now or datetime.now()).astimezone()
    hour, minute = int(clock[:2]), int(clock[3:])
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at <= now:
        at += timedelta(days=1)
    return (at - now).total_seconds() / 3600, at


def settings_for(intent: Intent, settings: PlanSettings, *, now: datetime | None = None) -> PlanSettings:
    """``settings`` with what the request names: its cluster, and a tune's deadline and hours."""
    update: dict[str, Any] = {}
    cluster = getattr(intent, "cluster", None)
    if cluster is not None:
        per = cluster.gpus_per_node or min(settings.cluster.gpus_per_node, cluster.gpus)
        update["cluster"] = settings.cluster.model_copy(
            update={
                "gpu": cluster.gpu or settings.cluster.gpu,
                "gpu_spec": None if cluster.gpu else settings.cluster.gpu_spec,
                "gpus_per_node": per,
                "nodes": max(1, math.ceil(cluster.gpus / per)),
                "name": f"{cluster.gpus}x{cluster.gpu or settings.cluster.gpu} (named in the request)",
            }
        )
    if intent.kind == "tune":
        search: dict[str, Any] = {}  # what the settings already bound (the overnight loop's rounds) stays
        if intent.until and settings.search.deadline is None:
            search["deadline"] = hours_until(intent.until, now=now)[1]
        if intent.hours and settings.search.hours is None:
            search["hours"] = intent.hours
        if search:
            update["search"] = settings.search.model_copy(update=search)
    return settings.model_copy(update=update) if update else settings


def goal_of(
    intent: Intent, *, request: str, settings: PlanSettings, now: datetime | None = None
) -> TrainingGoal:
    """The planner's goal for a train, estimate or tune intent (``settings``: already :func:`settings_for`)."""
    assert intent.kind in TRAINING_KINDS
    budget = intent.gpu_hours
    if intent.money is not None and settings.cluster.gpu_hour_cost > 0:
        by_money = intent.money / settings.cluster.gpu_hour_cost
        budget = min(budget, by_money) if budget else by_money
    deadline = intent.hours
    if intent.until:
        left = hours_until(intent.until, now=now)[0]
        deadline = min(deadline, left) if deadline else left
    search = intent.kind == "tune" or bool(getattr(intent, "search", False))
    return TrainingGoal(
        request=request,
        objective="estimate" if intent.kind == "estimate" else "train",
        parameters=intent.parameters,
        architecture=intent.architecture,
        num_experts=intent.num_experts,
        data_sources=intent.data,
        gpu_hour_budget=budget,
        deadline_hours=deadline,
        target_cluster=settings.cluster.name if intent.cluster else None,
        search=search,
        search_objective=getattr(intent, "objective", "val_bpb"),
    )


def asked_line(reading: Reading, settings: PlanSettings) -> str:
    """What the request constrained, in words, so the user sees it was understood."""
    intent = reading.intent
    parts: list[str] = []
    if getattr(intent, "parameters", None):
        parts.append(f"{count(intent.parameters)} parameters")  # type: ignore[union-attr]
    elif intent.kind in TRAINING_KINDS and not getattr(intent, "base_model", None):
        parts.append("no size (sized for the data)")
    if getattr(intent, "data", None):
        parts.append(f"data {', '.join(intent.data)}")  # type: ignore[union-attr]
    if getattr(intent, "architecture", "dense") == "moe":
        parts.append(f"MoE with {intent.num_experts} experts")  # type: ignore[union-attr]
    if getattr(intent, "gpu_hours", None):
        parts.append(f"at most {intent.gpu_hours:g} GPU-hours")  # type: ignore[union-attr]
    if getattr(intent, "money", None):
        cluster = settings.cluster
        parts.append(
            f"at most {intent.money:,.0f} {cluster.currency} (= {intent.money / max(cluster.gpu_hour_cost, 1e-9):,.0f} "  # type: ignore[union-attr]
            f"GPU-hours at {cluster.gpu_hour_cost:g} {cluster.currency}/GPU-hour)"
        )
    if getattr(intent, "hours", None):
        parts.append(f"within {intent.hours:g} h")  # type: ignore[union-attr]
    if getattr(intent, "until", None):
        left = hours_until(intent.until)[0]  # type: ignore[union-attr, arg-type]
        parts.append(f"done by {intent.until} ({left:.1f} h from now)")  # type: ignore[union-attr]
    if getattr(intent, "cluster", None):
        c = settings.cluster
        parts.append(f"cluster {c.nodes} x {c.gpus_per_node} {c.gpu} (named in the request)")
    if getattr(intent, "params", None):
        parts.append(f"search {', '.join(intent.params)}")  # type: ignore[union-attr]
    if getattr(intent, "overnight", False):
        parts.append("a night's work")
    if intent.kind == "train" and intent.search:
        parts.append("a search first")
    if intent.kind == "continue":
        parts.append(f"run {intent.run}")
        if intent.lr_factor:
            parts.append(f"learning rate x{intent.lr_factor:g}")
        if intent.more_steps:
            parts.append(f"{intent.more_steps} more steps")
        if intent.steps_factor:
            parts.append(f"{intent.steps_factor:g}x the steps")
        if intent.data:
            parts.append(f"more data {', '.join(intent.data)}")
        if intent.branch:
            parts.append("as a new run")
    if reading.refused:
        parts.append(f"refused: sending to {', '.join(r.destination for r in reading.refused)}")
    return "asked: " + (
        "; ".join(parts) if parts else "nothing beyond the data (sizes and budgets chosen here)"
    )


def narrow_space(plan: Plan, params: list[str]) -> Plan:
    """``plan`` with its search step's space cut to the parameters the request named."""
    if not params:
        return plan
    wanted = {_SPACE_NAMES[p] for p in params}
    return plan.model_copy(
        update={"steps": [_narrowed(s, wanted) if s.tool == "hpo" else s for s in plan.steps]}
    )


def _narrowed(step: PlanStep, wanted: set[str]) -> PlanStep:
    config = step.args["config"]  # the search, a tools.hpo.HPOConfig as data
    kept = [p for p in config["space"]["params"] if p["name"] in wanted]
    if not kept:
        return step
    return step.with_args(
        config={**config, "space": {**config["space"], "params": kept}},
        why=step.why + f" (searching {', '.join(p['name'] for p in kept)}, as asked)",
    )


def scale_lr(plan: Plan, factor: float) -> Plan:
    """``plan`` with its training step's learning rate times ``factor``."""
    return plan.model_copy(
        update={"steps": [_scaled(s, factor) if s.tool == "train" else s for s in plan.steps]}
    )


def _scaled(step: PlanStep, factor: float) -> PlanStep:
    config = step.args["config"]  # a trainers.RunConfig as data
    lr = config["optimizer"]["lr"] * factor
    optimizer = {**config["optimizer"], "lr": lr, "min_lr": min(config["optimizer"]["min_lr"], lr)}
    return step.with_args(
        config={**config, "optimizer": optimizer}, why=step.why + f" (learning rate x{factor:g}, as asked)"
    )


# ------------------------------------------------------------------------------------------- earlier runs
def _threads(deps: AgentDeps) -> dict[str, dict[str, Any]]:
    """Every thread in the ledger: its first request, last plan, train result, outcome and times."""
    threads: dict[str, dict[str, Any]] = {}
    for entry in deps.record.ledger.entries():
        r = entry.record
        t = threads.setdefault(r.thread_id, {"thread": r.thread_id, "first": r.time, "plan": None,
                                              "train": None, "outcome": None, "request": None})  # fmt: skip
        t["last"] = r.time
        outputs = r.outputs if isinstance(r.outputs, dict) else {}
        if r.kind == "goal_parsed" and t["request"] is None:
            value = outputs.get("value", outputs)
            t["request"] = value.get("request") if isinstance(value, dict) else None
        elif r.kind == "plan_chosen" and any(s.get("tool") == "train" for s in outputs.get("steps") or []):
            t["plan"] = outputs
        elif r.kind == "tool_result" and r.action == "train":
            t["train"] = outputs
        elif r.kind in ("run_finished", "report") or r.outcome in ("failed", "stopped"):
            t["outcome"] = r.outcome if r.kind != "report" else t["outcome"] or r.outcome
    return threads


def earlier_run(ref: str, deps: AgentDeps, *, current: str) -> dict[str, Any] | None:
    """The thread ``ref`` means ('last', 'yesterday', a thread id, a run directory), with a training plan."""
    runs = [t for t in _threads(deps).values() if t["thread"] != current and t["plan"] is not None]
    runs.sort(key=lambda t: t["last"])
    if ref in ("last", "yesterday"):
        if ref == "yesterday":
            day = (datetime.now().astimezone() - timedelta(days=1)).date()
            dated = [t for t in runs if t["last"].astimezone().date() == day]
            runs = dated or runs  # nothing from yesterday: the last one, said so in the plan
        return runs[-1] if runs else None
    for t in reversed(runs):
        train_dir = (t["train"] or {}).get("run_dir") or next(
            (s["args"]["config"]["out"] for s in t["plan"]["steps"] if s["tool"] == "train"), ""
        )
        if ref == t["thread"] or ref.rstrip("/") in (train_dir, str(Path(train_dir).parent)) or (
            ref in train_dir.split("/")
        ):  # fmt: skip
            return t
    return None


def _branches(intent: Intent) -> bool:
    """Whether a continue needs a new run: a new learning rate or more data change what the earlier run's
    optimizer and data loader hold, so they start a new run from its weights; more steps alone resume it."""
    return bool(intent.branch or intent.lr_factor or intent.data)  # type: ignore[union-attr]


def continue_plan(
    intent: Intent, run: dict[str, Any], settings: PlanSettings, *, thread_id: str | None = None
) -> tuple[Plan, list[str]]:
    """The earlier thread's plan with its training step changed as asked: resumed in place from its last
    checkpoint when only the steps change; otherwise a new run (in ``thread_id``'s directory) started from
    the earlier run's latest checkpoint (``init_from``: its weights, a fresh optimizer and schedule)."""
    from trainers import latest_checkpoint

    assert intent.kind == "continue"
    earlier_plan = Plan.model_validate(run["plan"])  # as the ledger recorded it
    train = next(s for s in earlier_plan.steps if s.tool == "train")
    config = copy.deepcopy(train.args["config"])  # the new run's trainers.RunConfig as data, changed below
    if run["train"] and run["train"].get("run_dir"):
        config["out"] = run["train"]["run_dir"]  # where its checkpoints are (a retry may have moved it)
    earlier = config["out"]
    branch = _branches(intent)
    changes = _branched(config, intent, settings, thread_id=thread_id) if branch else _resumed(config, intent)
    if intent.lr_factor:
        opt = config["optimizer"]
        lr = opt["lr"]
        opt["lr"] = lr * intent.lr_factor
        opt["min_lr"] = min(opt["min_lr"] * intent.lr_factor, opt["lr"])
        changes.append(f"learning rate {lr:.3g} -> {opt['lr']:.3g} (x{intent.lr_factor:g})")
    goal, ingest = earlier_plan.goal, []
    if intent.data:
        goal, step = _more_data(earlier_plan.goal, config, intent.data, settings)
        ingest = [step]
        changes.append(f"data + {', '.join(intent.data)}")
    notes = [f"continues thread {run['thread']} ({run.get('request') or 'its request'})"]
    if branch:
        why = (f"branch {earlier} into {config['out']}: weights from its latest checkpoint, a fresh "
               f"optimizer and schedule; " + ", ".join(changes[1:] or ["nothing else changed"]))  # fmt: skip
        if latest_checkpoint(Path(earlier)) is None:
            notes.append(
                f"{earlier} has no complete checkpoint yet: the new run cannot start until it has one"
            )
    else:
        why = f"resume {earlier} from its last checkpoint: " + (", ".join(changes) or "no changes")
    evals = [s.with_args(run_dir=config["out"]) for s in earlier_plan.steps if s.tool == "eval"]
    steps = [*ingest, train.with_args(config=config, why=why), *evals]
    plan = earlier_plan.model_copy(
        update={"goal": goal, "steps": steps, "notes": [*notes, *earlier_plan.notes]}
    )
    return plan, changes


def _branched(
    config: dict[str, Any], intent: Intent, settings: PlanSettings, *, thread_id: str | None
) -> list[str]:
    """A new run from the earlier one's latest checkpoint: its own schedule, so its steps are the steps asked
    for (the earlier run's count if none). Changes ``config`` (a RunConfig as data); what changed."""
    assert intent.kind == "continue"
    earlier, training = config["out"], config["training"]
    before = training["max_steps"]
    config["init_from"] = earlier
    config["out"] = f"{settings.workdir}/{thread_id or 'branch'}/train"
    steps = intent.more_steps or (int(before * (intent.steps_factor - 1)) if intent.steps_factor else before)
    training["max_steps"] = max(1, steps)
    training["eval_interval"] = max(25, training["max_steps"] // 5)
    training["checkpoint_interval"] = max(10, training["max_steps"] // 10)
    opt = config["optimizer"]
    opt["warmup_steps"] = max(1, min(opt.get("warmup_steps", 1), training["max_steps"] // 10 or 1))
    return [f"a new run of {training['max_steps']} steps from {earlier}'s latest checkpoint"]


def _resumed(config: dict[str, Any], intent: Intent) -> list[str]:
    """The earlier run resumed in place, to the steps asked for. Changes ``config``; what changed."""
    assert intent.kind == "continue"
    training = config["training"]
    before = training["max_steps"]
    if intent.more_steps:
        training["max_steps"] = before + intent.more_steps
    if intent.steps_factor:
        training["max_steps"] = int(before * intent.steps_factor)
    return [f"steps {before} -> {training['max_steps']}"] if training["max_steps"] != before else []


def _more_data(
    goal: TrainingGoal, config: dict[str, Any], data: list[str], settings: PlanSettings
) -> tuple[TrainingGoal, PlanStep]:
    """The goal with ``data`` added, and the ingest of all its sources with the earlier run's tokenizer (its
    weights read those token ids); ``config`` then reads the new dataset."""
    from tools import IngestArgs
    from vibe.agent._plan import data_dir_for

    goal = goal.model_copy()
    goal.data_sources = [*goal.data_sources, *data]  # validated on assignment: absolute paths only
    data_dir = data_dir_for(goal, settings)
    old_data = next(iter((config.get("data") or {}).get("sources") or []), {}).get("path")
    args = IngestArgs(
        paths=goal.data_sources,
        out=data_dir,
        vocab_size=settings.local_vocab_size,
        **({"tokenizer": old_data} if old_data else {}),
    )
    config["data"] = {"sources": [{"path": data_dir}]}
    why = "ingest the earlier sources with the added data, with the earlier run's tokenizer"
    return goal, PlanStep.of(id="ingest", tool="ingest", args=args, why=why)


# --------------------------------------------------------------------------------------------- answers
def _metrics_line(run_dir: str) -> str:
    from trainers import read_metrics

    metrics = read_metrics(Path(run_dir) / "metrics.jsonl")
    if not metrics:
        return f"{run_dir}: no metrics yet"
    last = metrics[-1]
    val = next((m for m in reversed(metrics) if m.get("val_loss") is not None), None)
    text = f"{run_dir}: step {last.get('step')}, loss {last.get('loss', float('nan')):.4f}"
    return text + (f", validation loss {val['val_loss']:.4f} at step {val['step']}" if val else "")


def status_answer(intent: Intent, deps: AgentDeps, *, current: str) -> str:
    """The answer to a status question, from the ledger, the run's metrics, approvals and the loop's state."""
    if intent.kind != "status":
        raise ValueError(f"not a status intent: {intent.kind}")
    if intent.topic == "approvals":
        if deps.approvals is None:
            return "no approvals store is open (no policy in force): nothing waits for approval"
        pending = deps.approvals.pending()
        if not pending:
            return "nothing is waiting for approval"
        return "\n".join(
            [f"{len(pending)} waiting for approval:"]
            + [
                f"- {p.id}: {getattr(p, 'summary', '') or getattr(p, 'kind', '')} (thread {p.thread_id})"
                for p in pending
            ]
        )
    if intent.topic == "loop":
        loops = sorted(Path(deps.settings.workdir).glob("loop-*/loop.json"))
        if not loops:
            return f"no overnight loop in {deps.settings.workdir}"
        state = json.loads(loops[-1].read_text())
        rounds = state.get("rounds", [])
        values = [((r.get("search") or {}).get("best") or {}).get("value") for r in rounds]
        evals = [(r.get("evaluation") or {}).get("val_bpb") for r in rounds]
        best = min((v for v in [*values, *evals] if v is not None), default=None)
        return (f"loop {state.get('name')}: {state.get('status')}, {len(rounds)} round(s)"
                + (f", best {best:.4f}" if best is not None else "") + (f"; {state['note']}" if state.get("note") else "")
                + f"; report: {loops[-1].parent / 'report.md'}")  # fmt: skip
    threads = [t for t in _threads(deps).values() if t["thread"] != current]
    if intent.topic == "run" or intent.run:
        run = earlier_run(intent.run or "last", deps, current=current)
        if run is None:
            return "no training run in the ledger yet"
        run_dir = (run["train"] or {}).get("run_dir") or next(
            s["args"]["config"]["out"] for s in run["plan"]["steps"] if s["tool"] == "train"
        )
        return f"thread {run['thread']} ({run['outcome'] or 'in progress'}): {_metrics_line(run_dir)}"
    if not threads:
        return "no runs in the ledger yet"
    lines = [f"{len(threads)} thread(s):"]
    for t in sorted(threads, key=lambda t: t["last"])[-10:]:
        lines.append(
            f"- {t['thread']} {t['last']:%Y-%m-%d %H:%M}: {t['outcome'] or 'open'}: {t['request'] or ''}"
        )
    return "\n".join(lines)
