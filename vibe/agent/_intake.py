"""The intake and the per-intent planning of the graph: a request read into a typed intent, then planned.

``intake``: both readers (:func:`vibe.agent._read.read_request`), every refusal, policy-override request and
ignored URL on the record; an unreadable request stops with a question (status ``question``), a refused one
with the reason (``refused``). ``plan_request``: training kinds go to the planner with what the request named
(cluster, budgets, deadline, search space), a fine-tune of a named base model its own plan; eval, post-train
and release plan on an earlier run (:mod:`vibe.agent._lifecycle`); status gets an answer (``answered``).
``confirm_system_dirs``: without a policy, reading a system directory needs a confirmation naming it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.types import interrupt

from policies import AllowAll
from tools import EvalArgs
from tools.synth import SynthArgs
from vibe.agent._intent import Reading
from vibe.agent._intent_plan import (
    TRAINING_KINDS,
    asked_line,
    continue_plan,
    earlier_run,
    goal_of,
    narrow_space,
    scale_lr,
    settings_for,
    status_answer,
)
from vibe.agent._lifecycle import find_base_model, finetune_plan, model_roots, posttrain_step, release_steps
from vibe.agent._plan import Plan, PlanSettings, PlanStep, data_dir_for
from vibe.agent._read import read_request
from vibe.core.errors import UserError

if TYPE_CHECKING:
    from vibe.agent._deps import AgentDeps
    from vibe.agent._state import AgentState

__all__ = ["confirm_system_dirs", "describe_intent", "intake", "plan_request"]

PlanTraining = Callable[..., "AgentState"]


def describe_intent(reading: Reading) -> str:
    intent = reading.intent
    fields = intent.model_dump(exclude_defaults=True, exclude={"kind"}, mode="json")
    shown = ", ".join(f"{k}={v}" for k, v in fields.items() if k != "question")
    return f"understood: {intent.kind}" + (f" ({shown})" if shown else "") + f" [read by {reading.reader}]"


def _record_reading(deps: AgentDeps, thread: str, outcome: Any, request: str) -> list[str]:
    events: list[str] = []
    if outcome.llm == "unavailable":
        deps.record(thread, kind="fallback", actor="planner", inputs={"request": request},
                    outputs={"error": outcome.error}, reason="LLM unavailable: rules-only parser used")  # fmt: skip
        events += deps.say(f"LLM unavailable ({outcome.error}); reading the request with rules instead")
    for i, problem in enumerate(outcome.problems):
        deps.record(thread, kind="retry" if i == 0 and len(outcome.problems) > 1 else "fallback", actor="llm",
                    inputs={"request": request, "raw": outcome.raw[i] if i < len(outcome.raw) else ""},
                    outputs={"error": problem[:500]}, reason="LLM draft failed validation")  # fmt: skip
    if outcome.llm == "rejected":
        times = "twice" if len(outcome.problems) == 2 else f"{len(outcome.problems)} time(s)"
        events += deps.say(
            f"the LLM's draft failed validation {times}; reading the request with rules instead"
        )
    if outcome.llm == "disagreed":
        deps.record(thread, kind="proposal_rejected", actor="llm", inputs={"request": request},
                    outputs=outcome.draft or {}, reason="the LLM's valid draft read another kind or other "
                    "values than the rules: the rules decide")  # fmt: skip
    reading: Reading = outcome.reading
    for refusal in reading.refused:
        deps.record(thread, kind="note", actor="policy", action="send_out", inputs={"request": request},
                    outputs={"destination": refusal.destination}, reason=refusal.reason, outcome="refused")  # fmt: skip
        events += deps.say(f"refused: sending anything to {refusal.destination}. {refusal.reason}")
    if reading.policy_override:
        line = "the request asks to ignore the policy: that changes nothing, the policy applies as always"
        deps.record(thread, kind="note", actor="policy", inputs={"request": request}, outputs={},
                    reason=line, outcome="ignored")  # fmt: skip
        events += deps.say(line)
    for url in reading.urls:
        deps.record(thread, kind="note", actor="planner", inputs={"url": url}, outputs={},
                    reason="a URL is never a data source: not read", outcome="ignored")  # fmt: skip
        events += deps.say(f"{url}: URLs are never data sources; not read")
    return events


def intake(state: AgentState, deps: AgentDeps) -> AgentState:
    """Read the request (or take the reading a chat follow-up made) into a typed intent."""
    request, thread = state["request"], state["thread_id"]
    if state.get("reading"):
        from vibe.agent._read import ReadOutcome

        outcome = ReadOutcome(reading=Reading.model_validate(state["reading"]))
    else:
        outcome = read_request(request, llm=deps.llm)
    events = _record_reading(deps, thread, outcome, request)
    reading = outcome.reading
    intent = reading.intent
    update: AgentState = {"reading": reading.model_dump(mode="json"), "status": "new"}
    outputs = reading.model_dump(mode="json")
    if intent.kind in TRAINING_KINDS:
        settings = settings_for(intent, deps.settings)
        goal = goal_of(intent, request=request, settings=settings)
        update["goal"] = goal.model_dump(mode="json")
        outputs = {**update["goal"], "reading": outputs}
    actor = "llm" if outcome.llm in ("accepted", "merged", "agreed") else "planner"
    reason = {"accepted": "LLM draft validated (the rules could not read it)",
              "merged": "rules, with fields the LLM's validated draft added",
              "agreed": "LLM draft validated; it agrees with the rules"}.get(outcome.llm, "rules-only parser")  # fmt: skip
    deps.record(thread, kind="goal_parsed", actor=actor, inputs={"request": request}, outputs=outputs,
                reason=reason, usage=outcome.usage.model_dump() if outcome.usage.calls else None)  # fmt: skip
    if intent.kind == "unclear":
        deps.record(thread, kind="note", actor="planner", inputs={"request": request}, outputs={},
                    reason=intent.question, outcome="question")  # fmt: skip
        return {**update, "status": "question", "reason": intent.question,
                "events": [*events, *deps.say(intent.question)]}  # fmt: skip
    if intent.kind == "refuse":
        why = f"refused: {intent.reason} (asked to send to {', '.join(intent.destinations)})"
        return {**update, "status": "refused", "reason": why, "events": events}
    return {**update, "events": [*events, *deps.say(describe_intent(reading))]}


def _answer(deps: AgentDeps, thread: str, text: str, *, inputs: dict[str, Any]) -> AgentState:
    deps.record(thread, kind="note", actor="planner", inputs=inputs, outputs={"answer": text}, reason=text,
                outcome="answered")  # fmt: skip
    return {"status": "answered", "reason": text, "events": deps.say(text)}


def _stop(deps: AgentDeps, thread: str, text: str, *, inputs: dict[str, Any]) -> AgentState:
    deps.record(
        thread, kind="error", actor="planner", inputs=inputs, outputs={}, reason=text, outcome="stopped"
    )
    return {"status": "stopped", "reason": text, "events": deps.say(text)}


def _texts(paths: list[str], *, limit: int = 8, max_chars: int = 20_000) -> list[str]:
    texts: list[str] = []
    for path in map(Path, paths):
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files[:limit]:
            try:
                texts.append(file.read_text(encoding="utf-8")[:max_chars])
            except (OSError, UnicodeDecodeError):
                continue
    return texts


def _planned(deps: AgentDeps, thread: str, plan: Plan, *, why: str, head: list[str]) -> AgentState:
    """The state of a chosen plan (serialised here, at the graph's state), recorded; told as ``head`` then one
    line per step."""
    data = plan.model_dump(mode="json")
    deps.record(thread, kind="plan_chosen", actor="planner", inputs={}, outputs=data, reason=why)
    lines = [*head, *[f"{s.id}: {s.why}" for s in plan.steps]]
    return {"plan": data, "cursor": 0, "results": {}, "attempts": {}, "status": "planned",
            "events": deps.say("\n".join(lines))}  # fmt: skip


def plan_request(state: AgentState, deps: AgentDeps, *, plan_training: PlanTraining) -> AgentState:
    """The plan (or the answer) for the intake's intent."""
    thread = state["thread_id"]
    reading = Reading.model_validate(state["reading"]) if state.get("reading") else None
    if reading is None:  # a thread checkpointed before intents: the goal is all there is
        return plan_training(state, deps, settings=deps.settings)
    intent = reading.intent
    inputs = {"intent": intent.model_dump(mode="json")}
    if intent.kind in TRAINING_KINDS:
        base = _base_of(intent, deps)
        if base is not None:
            return _finetune(state, deps, reading, base, inputs=inputs)
        settings = settings_for(intent, deps.settings)
        asked = asked_line(reading, settings)

        def adjust(plan: Plan) -> Plan:
            notes = []
            if intent.kind == "tune":
                plan = narrow_space(plan, intent.params)
                if intent.overnight:
                    notes.append(
                        "a night's work: this searches until the deadline; `vibe loop` runs the overnight "
                        "loop (rounds of narrowed searches, a morning report) for the same request"
                    )
            if getattr(intent, "lr_factor", None):
                plan = scale_lr(plan, intent.lr_factor)  # type: ignore[union-attr]
            return plan.model_copy(update={"notes": [asked, *plan.notes, *notes]})

        return plan_training(state, deps, settings=settings, adjust=adjust)
    if intent.kind == "status":
        return _answer(deps, thread, status_answer(intent, deps, current=thread), inputs=inputs)
    if intent.kind in ("eval", "continue", "post_train", "release"):
        run = earlier_run(intent.run or "last", deps, current=thread)
        if run is None:
            return _stop(deps, thread, f"no earlier training run matches {intent.run!r} in the ledger "
                         f"({deps.settings.workdir}); name a thread id (see `vibe audit show`)", inputs=inputs)  # fmt: skip
        if intent.kind in ("post_train", "release"):
            return _lifecycle_plan(deps, thread, reading, run, inputs=inputs)
        if intent.kind == "continue":
            plan, _ = continue_plan(intent, run, deps.settings, thread_id=thread)
            head = [asked_line(reading, deps.settings)]
            return _planned(deps, thread, plan, why=f"continue thread {run['thread']}", head=head)
        return _eval_plan(deps, thread, reading, run)
    if intent.kind == "synth":
        return _synth_plan(state, deps, reading, plan_training=plan_training)
    return _answer(deps, thread, f"nothing to plan for a {intent.kind} request", inputs=inputs)


def _run_dir(run: dict[str, Any]) -> str:
    return (run["train"] or {}).get("run_dir") or next(
        s["args"]["config"]["out"] for s in run["plan"]["steps"] if s["tool"] == "train"
    )


def _eval_plan(deps: AgentDeps, thread: str, reading: Reading, run: dict[str, Any]) -> AgentState:
    """Evaluate the earlier run ``run`` (its plan, with the eval step; and the release gates' verdict if asked)."""
    intent = reading.intent
    assert intent.kind == "eval"
    run_dir = _run_dir(run)
    texts = _texts(intent.data)
    notes = [f"evaluates thread {run['thread']} ({run_dir})"]
    why = "held-out loss and bits per byte" + (f", and on {len(texts)} text(s) of {', '.join(intent.data)}"
                                                if texts else "")  # fmt: skip
    steps = [PlanStep.of(id="eval", tool="eval", args=EvalArgs(run_dir=run_dir, texts=texts), why=why)]
    if intent.gates:  # the suites the gates read, then the gates' verdict (nothing registered)
        steps, more = release_steps(run_dir=run_dir, name=None, deps=deps, register=False, texts=texts)
        notes += more
    plan = Plan.model_validate(run["plan"]).model_copy(update={"steps": steps, "notes": notes})
    return _planned(deps, thread, plan, why=f"evaluate thread {run['thread']}", head=notes)


def _lifecycle_plan(
    deps: AgentDeps, thread: str, reading: Reading, run: dict[str, Any], *, inputs: dict[str, Any]
) -> AgentState:
    """Post-train or release the earlier run ``run`` (its plan, with these steps)."""
    intent = reading.intent
    run_dir = _run_dir(run)
    if intent.kind == "post_train":
        try:
            step, notes = posttrain_step(method=intent.method, base=run_dir, data=intent.data, deps=deps,
                                         thread_id=thread)  # fmt: skip
        except UserError as error:
            return _stop(deps, thread, str(error), inputs=inputs)
        steps = [step]
        what = f"{intent.method} post-training of thread {run['thread']}"
    else:
        steps, notes = release_steps(run_dir=run_dir, name=None, deps=deps, register=True)
        what = f"release of thread {run['thread']}"
    notes = [f"{what} ({run_dir})", *notes]
    plan = Plan.model_validate(run["plan"]).model_copy(update={"steps": steps, "notes": notes})
    return _planned(deps, thread, plan, why=what, head=notes)


def _base_of(intent: Any, deps: AgentDeps) -> Path | None:
    """The base model a train intent fine-tunes: the one it names, or a named data path that is a model
    directory (an HF ``config.json`` with ``architectures``); None: train from scratch."""
    if intent.kind != "train":
        return None
    if intent.base_model:
        return find_base_model(intent.base_model, model_roots(deps)) or Path(
            f"/nonexistent/{intent.base_model}"
        )
    for path in map(Path, intent.data):
        config = path / "config.json"
        try:
            if config.is_file() and json.loads(config.read_text()).get("architectures"):
                return path.resolve()
        except (OSError, ValueError):
            continue
    return None


def _finetune(
    state: AgentState, deps: AgentDeps, reading: Reading, base: Path, *, inputs: dict[str, Any]
) -> AgentState:
    from tools import profile

    thread = state["thread_id"]
    intent = reading.intent
    assert intent.kind == "train"
    if not base.exists():
        roots = ", ".join(str(r) for r in model_roots(deps))
        return _stop(deps, thread, f"no base model {intent.base_model!r} in the local models ({roots}): name its "
                     "directory (an HF model with config.json), or import it with `vibe model import`", inputs=inputs)  # fmt: skip
    data = [d for d in intent.data if Path(d).resolve() != base]
    prof = profile(data) if data else None
    if prof is not None and prof.missing:
        return _stop(deps, thread, f"data source not found: {', '.join(prof.missing)}; check the path in the "
                     "request", inputs=inputs)  # fmt: skip
    settings = settings_for(intent, deps.settings)
    try:
        plan = finetune_plan(request=state["request"], base=base, data=data, settings=settings, thread_id=thread,
                             tokens_available=prof.estimated_tokens if prof else None,
                             lr_factor=intent.lr_factor)  # fmt: skip
    except UserError as error:
        return _stop(deps, thread, str(error), inputs=inputs)
    plan = plan.model_copy(update={"notes": [asked_line(reading, settings), *plan.notes]})
    update = _planned(deps, thread, plan, why=f"fine-tune {base.name}", head=plan.notes)
    return {**update, "goal": update["plan"]["goal"]}


def _synth_plan(
    state: AgentState, deps: AgentDeps, reading: Reading, *, plan_training: PlanTraining
) -> AgentState:
    from vibe.agent._goal import TrainingGoal

    thread = state["thread_id"]
    intent = reading.intent
    assert intent.kind == "synth"
    sources = intent.data
    if not sources:
        run = earlier_run("last", deps, current=thread)
        if run is None:
            return _stop(deps, thread, "the request names no data to make synthetic samples from, and there is no "
                         "earlier run to take it from: name a path, e.g. 'from /data/code'", inputs={})  # fmt: skip
        sources = run["plan"]["goal"]["data_sources"]
    goal = TrainingGoal(request=state["request"], data_sources=sources)
    settings: PlanSettings = deps.settings
    data_dir = data_dir_for(goal, settings)
    out = f"{settings.workdir}/{thread}/synth"
    synth = PlanStep.of(
        id="synth", tool="synth",
        args=SynthArgs(dataset=data_dir, out=out, templates=intent.templates or None, samples=intent.samples or 100),
        why=f"{intent.samples or 100} candidate samples ({', '.join(intent.templates) or 'every template'}) "
            f"from {', '.join(sources)}, verified before they are kept",
    )  # fmt: skip

    def blended(step: PlanStep, share: float) -> PlanStep:
        """The training step reading the dataset and the kept synthetic samples (``share`` of them)."""
        data = {"sources": [{"path": data_dir, "weight": 1 - share}, {"path": out, "weight": share}]}
        why = step.why + f"; blended with the kept synthetic samples at {share:.0%}"
        return step.with_args(config={**step.args["config"], "data": data}, why=why)

    def adjust(plan: Plan) -> Plan:
        ingest = [s for s in plan.steps if s.tool == "ingest"]
        if intent.blend:
            share = intent.share or 0.1
            rest = [blended(s, share) if s.tool == "train" else s for s in plan.steps if s.tool != "ingest"]
            steps = [*ingest, synth, *rest]
        else:
            steps = [*ingest, synth]
        return plan.model_copy(update={"steps": steps, "notes": [asked_line(reading, settings), *plan.notes]})

    state = {**state, "goal": goal.model_dump(mode="json")}
    update = plan_training(state, deps, settings=settings, adjust=adjust)
    if update.get("status") == "estimated":
        update["status"] = "planned"
    return {**update, "goal": goal.model_dump(mode="json")}


def confirm_system_dirs(state: AgentState, deps: AgentDeps) -> AgentState | None:
    """Without a policy, a plan that reads a system directory waits for a confirmation naming it (even with
    --yes). None: nothing to confirm, or confirmed; else the stop."""
    if not isinstance(deps.gate, AllowAll) or not state.get("reading"):
        return None
    dirs = Reading.model_validate(state["reading"]).confirm_dirs
    if not dirs or not any(s["tool"] == "ingest" for s in state.get("plan", {}).get("steps", [])):
        return None
    thread = state["thread_id"]
    answer = interrupt({"kind": "confirm_dirs", "dirs": dirs,
                        "question": f"no policy is in force and the plan reads {', '.join(dirs)}: answer with "
                                    "the directory to confirm"})  # fmt: skip
    text = (
        answer
        if isinstance(answer, str)
        else str((answer or {}).get("confirm", ""))
        if isinstance(answer, dict)
        else ""
    )
    missing = [d for d in dirs if d not in text.split()]
    if missing:
        reason = f"not confirmed: reading {', '.join(missing)} needs a confirmation naming it"
        deps.record(thread, kind="confirmation", actor="user", inputs={"dirs": dirs}, outputs={}, reason=reason,
                    outcome="no")  # fmt: skip
        return {"status": "stopped", "reason": reason, "events": deps.say(reason)}
    deps.record(thread, kind="confirmation", actor="user", inputs={"dirs": dirs}, outputs={},
                reason=f"confirmed reading {', '.join(dirs)}", outcome="yes")  # fmt: skip
    return None
