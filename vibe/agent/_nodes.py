"""The graph's nodes: plain functions of (state, deps) -> state update.

intake -> plan -> confirm -> gate -> execute -> observe -> (gate | report), with estimate-only requests
going from plan straight to report. Every decision is recorded through ``deps.record`` before the node
returns, so the record and the checkpointed state never disagree about what happened.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from langgraph.types import interrupt

from tools import ToolContext, ToolError, profile, registered, start_training_ahead
from tools.data import load_dataset_info
from trainers import read_metrics
from vibe.agent._actions import STEP_KINDS, describe_step
from vibe.agent._approval import allowed_now
from vibe.agent._deps import AgentDeps
from vibe.agent._goal import TrainingGoal
from vibe.agent._hpo import ClearedGate, transfer_best
from vibe.agent._lifecycle import COMPARE_STEPS, compare_line
from vibe.agent._plan import (
    Plan,
    PlanSettings,
    Proposal,
    apply_proposal,
    data_dir_for,
    make_plan,
    plan_of,
    summarize_plan,
)
from vibe.agent._state import AgentState
from vibe.agent._step import PlanStep
from vibe.core.errors import UserError
from vibe.llm import LLMError

__all__ = ["MAX_ATTEMPTS", "confirm", "diagnose", "execute", "intake", "observe", "plan"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # tries per step, the first included

_PROPOSAL_PROMPT = (
    "A planner chose a local training run. You may propose a learning_rate (1e-5..1e-2) or max_steps "
    "(at most twice the planned steps), or leave both null. Give a one-sentence reason."
)


# ---------------------------------------------------------------------------------------------------- intake
def intake(state: AgentState, deps: AgentDeps) -> AgentState:
    """The request read into a typed intent (see :mod:`vibe.agent._intake`)."""
    from vibe.agent._intake import intake as read_intent

    return read_intent(state, deps)


def _describe_goal(goal: TrainingGoal) -> str:
    size = (
        f"{goal.parameters / 1e9:g}B"
        if goal.parameters and goal.parameters >= 1e9
        else (f"{goal.parameters / 1e6:g}M" if goal.parameters else "a data-sized")
    )
    what = "estimate the cost of" if goal.objective == "estimate" else "train"
    sources = ", ".join(goal.data_sources) or "no data named"
    search = f", after a search minimising {goal.search_objective}" if goal.search else ""
    return f"goal: {what} {size} {goal.architecture} model on {sources}{search}"


# ------------------------------------------------------------------------------------------------------ plan
def _tokens_available(goal: TrainingGoal, data_dir: Path) -> tuple[int | None, str]:
    if (data_dir / "manifest.json").exists():
        return load_dataset_info(data_dir).splits["train"].tokens, "tokens counted by the ingest"
    if not goal.data_sources:
        return None, "no data named"
    prof = profile(goal.data_sources)
    if prof.missing:
        raise UserError(f"data source not found: {', '.join(prof.missing)}; check the path in the request")
    return (
        prof.estimated_tokens,
        f"estimated from {prof.text_bytes + prof.archive_bytes:,} bytes in {prof.files} files",
    )


def plan(state: AgentState, deps: AgentDeps) -> AgentState:
    """The plan for the intake's intent, or its answer (see :mod:`vibe.agent._intake`)."""
    from vibe.agent._intake import plan_request

    return plan_request(state, deps, plan_training=_plan_training)


def _plan_training(
    state: AgentState,
    deps: AgentDeps,
    *,
    settings: PlanSettings,
    adjust: Callable[[Plan], Plan] = lambda plan: plan,
) -> AgentState:
    thread = state["thread_id"]
    goal = TrainingGoal.model_validate(state["goal"])
    data_dir = Path(data_dir_for(goal, settings))
    try:
        tokens, source = _tokens_available(goal, data_dir)
    except UserError as error:
        deps.record(
            thread,
            kind="error",
            actor="planner",
            inputs=state["goal"],
            outputs={},
            reason=str(error),
            outcome="stopped",
        )
        return {"status": "stopped", "reason": str(error), "events": deps.say(str(error))}
    if tokens == 0:
        if goal.objective == "train":
            reason = f"no text or code found in {', '.join(goal.data_sources)}: nothing to train on"
            deps.record(
                thread,
                kind="error",
                actor="planner",
                inputs=state["goal"],
                outputs={},
                reason=reason,
                outcome="stopped",
            )
            return {"status": "stopped", "reason": reason, "events": deps.say(reason)}
        tokens, source = None, "no text found in the named sources"
    result = adjust(make_plan(goal, tokens_available=tokens, settings=settings, thread_id=thread))
    deps.record(
        thread,
        kind="plan_chosen",
        actor="planner",
        inputs=state["goal"],
        outputs=result.model_dump(mode="json"),
        reason=f"deterministic planner; data: {source}",
    )
    if deps.llm is not None and deps.llm_proposals and result.steps:
        result = _llm_proposal(result, thread, deps)
    events = deps.say(summarize_plan(result))
    status = "estimated" if goal.objective == "estimate" or not result.steps else "planned"
    return {
        "plan": result.model_dump(mode="json"),
        "cursor": 0,
        "results": {},
        "attempts": {},
        "status": status,
        "events": events,
    }


def _llm_proposal(result: Plan, thread: str, deps: AgentDeps) -> Plan:
    assert deps.llm is not None
    train = next(s for s in result.steps if s.tool == "train")
    messages = [
        {"role": "system", "content": _PROPOSAL_PROMPT},
        {
            "role": "user",
            "content": json.dumps(
                train.args["config"]["optimizer"]
                | {"max_steps": train.args["config"]["training"]["max_steps"]}
            ),
        },
    ]
    try:
        answer = deps.llm.structured(messages, Proposal)
    except LLMError as error:
        deps.record(
            thread,
            kind="fallback",
            actor="planner",
            inputs={},
            outputs={"error": str(error)},
            reason="LLM unavailable for a proposal: planner's numbers kept",
        )
        return result
    if answer.value is None:
        deps.record(
            thread,
            kind="proposal_rejected",
            actor="planner",
            inputs={"raw": answer.raw},
            outputs={},
            reason="proposal failed validation",
        )
        return result
    updated, verdict, why = apply_proposal(result, answer.value)
    deps.record(
        thread,
        kind="plan_proposed" if verdict == "accepted" else "proposal_rejected",
        actor="planner",
        inputs=answer.value.model_dump(),
        outputs={},
        reason=why,
    )
    return updated


# --------------------------------------------------------------------------------------------------- confirm
def confirm(state: AgentState, deps: AgentDeps) -> AgentState:
    """Shows the plan before anything runs; pauses the thread for yes / no / edit unless auto-confirmed."""
    from vibe.agent._intake import confirm_system_dirs

    stop = confirm_system_dirs(state, deps)
    if stop is not None:
        return stop
    thread = state["thread_id"]
    if deps.auto_confirm:
        deps.record(
            thread, kind="confirmation", actor="user", inputs={}, outputs={}, reason="--yes", outcome="yes"
        )
        return {"status": "running"}
    answer = interrupt({"kind": "confirm", "plan": state["plan"]})
    if isinstance(answer, dict) and "edit" in answer:
        result, verdict, why = apply_proposal(Plan.model_validate(state["plan"]), Proposal(**answer["edit"]))
        deps.record(
            thread,
            kind="confirmation",
            actor="user",
            inputs=answer["edit"],
            outputs={},
            reason=why,
            outcome=verdict,
        )
        if verdict == "rejected":
            return {
                "status": "stopped",
                "reason": f"edit rejected: {why}",
                "events": deps.say(f"edit rejected: {why}"),
            }
        return {
            "plan": result.model_dump(mode="json"),
            "status": "running",
            "events": deps.say(f"plan edited: {why}"),
        }
    if answer in (True, "yes", "y"):
        deps.record(
            thread,
            kind="confirmation",
            actor="user",
            inputs={},
            outputs={},
            reason="confirmed",
            outcome="yes",
        )
        return {"status": "running"}
    deps.record(
        thread, kind="confirmation", actor="user", inputs={}, outputs={}, reason="cancelled", outcome="no"
    )
    return {"status": "stopped", "reason": "cancelled by the user", "events": deps.say("cancelled")}


# --------------------------------------------------------------------------------------------------- execute
def _result_path(deps: AgentDeps, thread: str, step_id: str) -> Path:
    return Path(deps.settings.workdir) / thread / "steps" / f"{step_id}.json"


def execute(state: AgentState, deps: AgentDeps) -> AgentState:
    """Runs the current step's tool. Idempotent: a finished step's saved result is reused, never rerun."""
    thread = state["thread_id"]
    plan = plan_of(state)
    step = plan.steps[state["cursor"]]
    record = partial(deps.record, thread, action=step.tool, inputs=step)
    done = _result_path(deps, thread, step.id)
    attempts = dict(state.get("attempts", {}))
    attempts[step.id] = attempts.get(step.id, 0) + 1

    def finished(payload: dict[str, Any], events: list[str]) -> AgentState:
        results = {**state.get("results", {}), step.id: payload}
        return {"results": results, "attempts": attempts, "last_error": None, "events": events}

    if done.exists():
        result = json.loads(done.read_text())
        record(kind="tool_result", actor="tool", outputs=result,
               reason="already finished before a restart: result reused, not run again")  # fmt: skip
        return finished(result, [])
    record(kind="tool_called", actor="planner", outputs={}, reason=step.why)
    events = deps.say(f"running {step.id}: {step.why}")
    cleared = describe_step(step, plan=plan, local_flops_per_second=deps.settings.local_flops_per_second)
    context = ToolContext(
        workdir=Path(deps.settings.workdir) / thread,
        thread_id=thread,
        gate=ClearedGate(deps.gate, kind=STEP_KINDS.get(step.tool, step.tool), cleared=cleared,
                         workdir=deps.settings.workdir),
        ledger=deps.record.ledger,
        progress=deps.on_event,
    )  # fmt: skip
    if deps.train_ahead and step.tool != "train":
        _start_training_ahead(plan, state["cursor"], context, deps)
    try:
        result = registered()[step.tool](step.args, context)
    except (ToolError, UserError) as error:
        retryable = getattr(error, "retryable", False)
        record(kind="error", actor="tool", outputs={"error": str(error)},
               reason="retryable" if retryable else "not retryable", outcome="error")  # fmt: skip
        if not retryable:  # a retry cannot fix it (bad config, bad data): spend no more attempts on it
            attempts[step.id] = MAX_ATTEMPTS
        return {
            "attempts": attempts,
            "last_error": str(error),
            "events": [*events, *deps.say(f"{step.id} failed: {error}")],
        }
    payload = result.model_dump(mode="json")
    done.parent.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(done)
    record(kind="tool_result", actor="tool", outputs=payload, reason="finished")
    said = [payload["summary"]] if isinstance(payload.get("summary"), str) else []
    compared = compare_line({**state.get("results", {}), step.id: payload})
    if compared and step.id in COMPARE_STEPS:
        said.append(compared)
        record(kind="note", actor="planner", outputs={"compare": compared}, reason=compared)
    return finished(payload, [*events, *[line for text in said for line in deps.say(text)]])


def _start_training_ahead(plan: Plan, cursor: int, context: ToolContext, deps: AgentDeps) -> None:
    """The plan's next train step gets its child process now (imports and Ray start-up overlap this step);
    it waits, touching no data, until that step has passed the gate and runs (``tools/_ahead.py``). Only
    for a step the gate would allow as planned: none for one that waits for approval or is denied."""
    train = next((s for s in plan.steps[cursor + 1 :] if s.tool == "train"), None)
    if train is None or not allowed_now(train, plan, deps):
        return
    if start_training_ahead(train.args["config"], context):
        log.info("training child for step %s started ahead (Ray and imports while %s runs)",
                 train.id, plan.steps[cursor].id)  # fmt: skip


# --------------------------------------------------------------------------------------------------- observe
def diagnose(metrics: list[dict[str, Any]]) -> str | None:
    """'diverged' (NaN/inf loss, or a spike above 3x the running minimum late in the run), else None."""
    losses = [m["loss"] for m in metrics if "loss" in m]
    if any(not math.isfinite(x) for x in losses):
        return "diverged: the loss became NaN or infinite"
    if len(losses) >= 10:
        best = min(losses[: len(losses) // 2])
        if losses[-1] > 3 * best:
            return f"diverged: the loss spiked to {losses[-1]:.3f}, over 3x its best {best:.3f}"
    return None


def observe(state: AgentState, deps: AgentDeps) -> AgentState:
    """Reads what the step produced and decides, in this order:

    1. it succeeded (no error, and a training run did not diverge): go on to the next step (after a search
       step, its best settings move onto the training step: :func:`transfer_best`);
    2. it failed :data:`MAX_ATTEMPTS` times: stop the thread with the reason;
    3. a training run diverged: **replan** it, :func:`_replan_diverged` (half the learning rate, a new run
       directory, the eval step pointed at it);
    4. anything else (a crash, a stall, a killed worker): run the step again, resuming where it stopped.
    """
    plan = plan_of(state)
    step = plan.steps[state["cursor"]]
    tries = state.get("attempts", {}).get(step.id, 0)
    problem = _problem(state, step, deps)
    if problem is None:
        return _succeeded(state, plan, step, deps)
    if tries >= MAX_ATTEMPTS:
        return _give_up(state, step, problem, deps)
    if step.tool == "train" and problem.startswith("diverged"):
        return _replan_diverged(state, plan, step, problem, tries, deps)
    deps.record(
        state["thread_id"],
        kind="retry",
        actor="planner",
        action=step.tool,
        inputs={"problem": problem},
        outputs={},
        reason="resume the step from where it stopped",
    )
    return {"last_error": None, "events": deps.say(f"{problem}; resuming {step.id}")}


def _problem(state: AgentState, step: PlanStep, deps: AgentDeps) -> str | None:
    """The step's error, or for a training run whose metrics show divergence, that (its saved result is
    dropped, so the retried run is executed, not reused)."""
    problem = state.get("last_error")
    if problem is None and step.tool == "train":
        problem = diagnose(read_metrics(Path(step.args["config"]["out"]) / "metrics.jsonl"))
        if problem:
            _result_path(deps, state["thread_id"], step.id).unlink(missing_ok=True)
    return problem


def _succeeded(state: AgentState, plan: Plan, step: PlanStep, deps: AgentDeps) -> AgentState:
    deps.record(
        state["thread_id"],
        kind="observed",
        actor="planner",
        action=step.tool,
        inputs={"step": step.id},
        outputs=state.get("results", {}).get(step.id, {}),
        reason="step succeeded",
    )
    cursor = state["cursor"] + 1
    update: AgentState = {"cursor": cursor}
    if step.tool == "hpo":
        update.update(transfer_best(state, deps))  # type: ignore[typeddict-item]
    if cursor >= len(update["plan"]["steps"] if "plan" in update else plan.steps):
        update["status"] = "done"
    return update


def _give_up(state: AgentState, step: PlanStep, problem: str, deps: AgentDeps) -> AgentState:
    reason = f"{step.id} failed, no retry left: {problem}"
    deps.record(
        state["thread_id"],
        kind="run_finished",
        actor="planner",
        inputs={"step": step.id},
        outputs={},
        reason=reason,
        outcome="failed",
    )
    return {"status": "failed", "reason": reason, "events": deps.say(f"stopping: {reason}")}


def _replan_diverged(
    state: AgentState, plan: Plan, step: PlanStep, problem: str, tries: int, deps: AgentDeps
) -> AgentState:
    """The replanning rule for a diverged training run: the same step with half the learning rate (and
    ``min_lr`` at most that), trained into a new run directory ``<out>-lr<N>``; the eval step reads it."""
    config = step.args["config"]  # the plan is a private copy (plan_of): edited in place
    config["optimizer"]["lr"] /= 2
    config["optimizer"]["min_lr"] = min(config["optimizer"]["min_lr"], config["optimizer"]["lr"])
    config["out"] = f"{config['out'].rstrip('/').split('-lr')[0]}-lr{tries + 1}"
    step.why = f"retry with lr {config['optimizer']['lr']:.2e}"
    for s in plan.steps:
        if s.tool == "eval":
            s.args["run_dir"] = config["out"]
    deps.record(
        state["thread_id"],
        kind="retry",
        actor="planner",
        action="train",
        inputs={"problem": problem},
        outputs={"lr": config["optimizer"]["lr"]},
        reason="diverged: halve the learning rate",
    )
    return {
        "plan": plan.model_dump(mode="json"),
        "last_error": None,
        "events": deps.say(f"{problem}; retrying with half the lr"),
    }
