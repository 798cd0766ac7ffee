"""The gate node: the plan and every step pass the policy; denials replan, approvals pause or are skipped.

What :func:`gate_node` does, each time the graph reaches the gate:

1. **Before the first step** the whole plan is checked: the full-size cluster run (advisory: the agent
   does not submit it, so its verdict is recorded and said, not enforced) and every local step; a step
   denied with no smaller version that passes stops the thread before anything runs.
2. **The current step** becomes an action (:func:`describe_step`) and is judged.
   - ``allow``: it runs.
   - ``deny``: a train step is shrunk (fewer steps, then a smaller model) to the largest version the
     policy does not deny; otherwise the thread stops and says why (rule ids on the ledger record).
   - ``require_approval``: a request is filed in the :class:`ApprovalStore` — once per thread and action,
     so a re-run node finds it instead of filing twice — holding the plan summary, cost, data touched and
     the rules that fired. **The store is the source of truth**: approved (every signature re-verified
     against the policy) -> the signed decisions go into the ledger and the step runs; rejected -> a
     smaller train step that needs no approval, or stop; pending -> the thread pauses (``interrupt``) and
     re-reads the store whenever it is resumed. Unattended, a pending step is skipped with the steps that
     depend on it, other work goes on, and the report lists the request.

:func:`continue_thread` continues a thread once its request is decided — paused on it, or finished
unattended with the step skipped — also from a new process (the checkpointer holds the thread).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from langgraph.types import interrupt

from policies import Action, AllowAll, GateDecision, PolicyGate, PolicySet
from vibe.agent._actions import (
    STEP_KINDS,
    describe_plan,
    describe_step,
    judged_when_reached,
    shrink_train_step,
)
from vibe.agent._plan import Plan, plan_of, summarize_plan
from vibe.agent._search import shrink_search_step
from vibe.agent._step import PlanStep
from vibe.approvals import (
    ApprovalError,
    ApprovalRequest,
    ApprovalStore,
    Cost,
    approval_record,
    verify_approval,
)
from vibe.core.errors import UserError
from vibe.ledger import digest

if TYPE_CHECKING:
    from vibe.agent._deps import AgentDeps
    from vibe.agent._state import AgentState

__all__ = ["find_request", "gate_node", "policy_refusal", "verify_approved"]

verify_approved = verify_approval  # the one signature check lives in vibe.approvals


# ---------------------------------------------------------------------------------------------- the node
def gate_node(state: AgentState, deps: AgentDeps) -> AgentState:
    thread = state["thread_id"]
    run = state.get("run_id") or thread  # this run of the thread (an approval is spent by one run)
    plan = plan_of(state)  # a private copy: replanning edits it
    steps = plan.steps
    cursor = state["cursor"]
    results = state.get("results", {})
    events: list[str] = []
    replanned = False

    drift = policy_refusal(state, deps)
    if drift:  # an error, not a stop: the thread stays where it was, to be resumed with the policy
        raise UserError(drift)

    if cursor == 0 and not results:  # the plan, once, before anything runs
        stop, changed = _preflight(plan, deps, thread, events, said=set(state.get("events", [])))
        replanned |= changed
        if stop:
            return _stop(deps, thread, stop, events, plan=plan if replanned else None)

    skipped = [s.id for s in steps[:cursor] if s.id not in results]  # skipped earlier, unattended
    waiting = False  # a step was skipped for approval in this pass
    while cursor < len(steps):
        step = steps[cursor]
        blocked_by = [sid for sid in skipped if _depends(step, steps, sid)]
        if blocked_by:
            skipped.append(step.id)
            line = f"{step.id} skipped: it needs {', '.join(blocked_by)}, which waits for approval"
            _record_once(
                deps,
                thread,
                kind="note",
                actor="planner",
                action=step.tool,
                inputs=step,
                outputs={},
                reason=line,
                outcome="skipped",
            )
            events += deps.say(line)
            cursor += 1
            continue
        verdict, new_step, why = _judge(step, plan, deps, thread, events, run=run)
        if new_step is not None:
            steps[cursor] = new_step
            replanned = True
        if verdict == "run":
            update: dict[str, Any] = {"cursor": cursor, "events": events}
            if replanned:
                update["plan"] = plan.model_dump(mode="json")
            if waiting:
                update["reason"] = _waiting(deps, thread)
            return update  # type: ignore[return-value]
        if verdict == "stop":
            return _stop(deps, thread, why, events, plan=plan if replanned else None)
        skipped.append(step.id)  # "skip": unattended, waiting for approval
        waiting = True
        cursor += 1

    update = {"cursor": cursor, "status": "stopped", "reason": _waiting(deps, thread), "events": events}
    if replanned:
        update["plan"] = plan.model_dump(mode="json")
    return update  # type: ignore[return-value]


def _waiting(deps: AgentDeps, thread: str) -> str:
    """The thread's pending requests, from the store (the report shows this line)."""
    pending = [r for r in deps.approvals.pending() if r.thread_id == thread] if deps.approvals else []
    if not pending:
        return "every remaining step was skipped"
    return "waiting for approval: " + "; ".join(
        f"request {r.id} for {r.summary.split(':', 1)[0].removeprefix('step ')} ({r.action.kind}; "
        f"{', '.join(n.rule for n in r.rules)}); approve it and continue with `vibe approvals approve {r.id} "
        f"--resume --workdir {deps.settings.workdir}`"
        for r in pending
    )


def _stop(
    deps: AgentDeps, thread: str, reason: str, events: list[str], *, plan: Plan | None = None
) -> AgentState:
    update: dict[str, Any] = {"status": "stopped", "reason": reason, "events": [*events, *deps.say(reason)]}
    if plan is not None:
        update["plan"] = plan.model_dump(mode="json")
    return update  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------- judging a step
def _check(step: PlanStep, plan: Plan, deps: AgentDeps) -> tuple[str, GateDecision]:
    kind = STEP_KINDS.get(step.tool, step.tool)
    attributes = {
        "step": step.id,
        **step.args,
        **describe_step(step, plan=plan, local_flops_per_second=deps.settings.local_flops_per_second),
    }
    return kind, deps.gate.check(kind=kind, attributes=attributes)


def allowed_now(step: PlanStep, plan: Plan, deps: AgentDeps) -> bool:
    """Whether the gate would allow ``step`` as planned, asked now and not recorded: what work started
    ahead of a step goes by (the step is judged again, and recorded, when its turn comes)."""
    return _check(step, plan, deps)[1].outcome == "allow"


def _judge(
    step: PlanStep,
    plan: Plan,
    deps: AgentDeps,
    thread: str,
    events: list[str],
    *,
    run: str,
) -> tuple[str, PlanStep | None, str]:
    """("run" | "stop" | "skip", a replacement step or None, why) for ``step``; records every decision."""
    kind, decision = _check(step, plan, deps)
    _record_gate(deps, thread, kind=kind, inputs=step, decision=decision)
    if decision.outcome == "allow":
        return "run", None, ""
    if decision.outcome == "deny":
        rules = ", ".join(decision.rule_ids)
        smaller = _replan(step, plan, deps, thread, events, why=f"denied ({rules})", allow_approval=True)
        if smaller is not None:
            verdict, again, note = _judge(smaller, plan, deps, thread, events, run=run)
            return verdict, again or smaller, note
        return "stop", None, f"{step.id} denied by policy: {decision.reason} ({rules})"
    if not isinstance(deps.gate, PolicyGate) or not decision.approvals or decision.action is None:
        return _ask_in_thread(
            step, decision, deps, thread
        )  # a gate without approver groups: ask in the thread
    return _approval(step, kind, decision, plan, deps, thread, events, run=run)


def _replan(
    step: PlanStep,
    plan: Plan,
    deps: AgentDeps,
    thread: str,
    events: list[str],
    *,
    why: str,
    allow_approval: bool,
) -> PlanStep | None:
    """A smaller train step (or search) within policy (not denied; with ``allow_approval`` False, needing
    no approval)."""
    if step.tool not in ("train", "hpo"):
        return None
    ok = ("allow", "require_approval") if allow_approval else ("allow",)

    def accept(candidate: PlanStep) -> bool:
        return _check(candidate, plan, deps)[1].outcome in ok

    if step.tool == "hpo":
        smaller = shrink_search_step(step, accept=accept)
        if smaller is None:
            return None
        trials = smaller.args["config"]["budget"]["max_trials"]
        line = f"{step.id} {why}: planned again within policy with {trials} trial(s)"
    else:
        smaller = shrink_train_step(step, plan=plan, accept=accept)
        if smaller is None:
            return None
        size = describe_step(smaller, plan=plan, local_flops_per_second=deps.settings.local_flops_per_second)
        max_steps = smaller.args["config"]["training"]["max_steps"]
        line = (
            f"{step.id} {why}: planned again within policy with {size['parameters'] / 1e6:.2f}M parameters "
            f"and {max_steps} steps"
        )
    _record_once(
        deps,
        thread,
        kind="plan_chosen",
        actor="planner",
        action=step.tool,
        inputs=step,
        outputs=smaller,
        reason=line,
        outcome="replanned",
    )
    events += deps.say(line)
    return smaller


def _depends(step: PlanStep, steps: list[PlanStep], on: str) -> bool:
    """Whether ``step`` reads what step ``on`` writes (its ``out`` or run directory appears in its arguments)."""
    earlier = next((s for s in steps if s.id == on), None)
    if earlier is None:
        return False
    args = earlier.args
    outputs = [str(o) for o in (args.get("out"), args.get("config", {}).get("out")) if o]
    text = json.dumps(step.args)
    return any(o.rstrip("/") in text for o in outputs)


# ------------------------------------------------------------------------------------------- whole plan
def _preflight(
    plan: Plan, deps: AgentDeps, thread: str, events: list[str], *, said: set[str]
) -> tuple[str | None, bool]:
    """Check every local step, then the full-size run (advisory); (why to stop or None, whether replanned)."""
    if isinstance(deps.gate, AllowAll):
        return None, False
    replanned = False
    for i, step in enumerate(plan.steps):
        if judged_when_reached(step):
            continue
        _, verdict = _check(step, plan, deps)
        if verdict.outcome != "deny":
            continue
        rules = ", ".join(verdict.rule_ids)
        smaller = _replan(step, plan, deps, thread, events, why=f"denied ({rules})", allow_approval=True)
        if smaller is None:
            kind = STEP_KINDS.get(step.tool, step.tool)
            _record_gate(deps, thread, kind=kind, inputs=step, decision=verdict)
            return (
                f"the plan cannot run within policy: {step.id} denied by policy: {verdict.reason} ({rules})",
                replanned,
            )
        plan.steps[i] = smaller
        replanned = True
    attributes = describe_plan(plan)
    decision = deps.gate.check(kind="train.run", attributes={"step": "plan", **attributes})
    _record_gate(
        deps,
        thread,
        kind="train.run",
        inputs={"plan": "full-size run", **attributes},
        decision=decision,
        about="the full-size cluster run (advisory, not submitted by the agent): ",
    )
    line = {
        "deny": f"the full-size cluster run may not be submitted as planned: {decision.reason} "
        f"({', '.join(decision.rule_ids)}); the local steps are checked on their own",
        "require_approval": f"submitting the full-size cluster run would need approval: {decision.reason} "
        f"({', '.join(decision.rule_ids)})",
    }.get(decision.outcome)
    if line and line not in said:
        events += deps.say(line)
    return None, replanned


def policy_refusal(state: AgentState | dict[str, Any], deps: AgentDeps) -> str | None:
    """Why this thread may not go on under the gate in force (None if it may).

    The policy a thread started under (each file's sha256) is part of its durable state; resuming it under
    a different policy, or none, is refused, naming the files expected. A thread checkpointed before the
    policy was kept in its state falls back to its ledger's gate records.
    """
    thread = state.get("thread_id", "?")
    current = dict(deps.gate.policies.policy_hashes) if isinstance(deps.gate, PolicyGate) else {}
    if "policy_hashes" in state:
        expected = dict(state["policy_hashes"] or {})
        if expected == current:
            return None
        if not expected:
            return None  # started without a policy: a policy now only adds checks
        files = ", ".join(f"{p} (sha256 {h[:12]})" for p, h in expected.items())
        given = ", ".join(f"{p} (sha256 {h[:12]})" for p, h in current.items()) or "no policy"
        return (
            f"thread {thread} was started under the policy files {files}; it cannot go on under {given}: "
            "resume it with the same policy: exactly those files (--policy, in the same order)"
        )
    if current:
        return None
    for entry in deps.record.ledger.entries(thread_id=thread):
        record = entry.record
        if record.kind == "gate" and record.policy_hashes:
            files = ", ".join(record.policy_hashes)
            return (
                f"thread {thread} was checked against the policy files {files}; resume it with the same "
                "policy (AgentSettings.policies / --policy), never without"
            )
    return None


# ------------------------------------------------------------------------------------------- approvals
def _approval(
    step: PlanStep,
    kind: str,
    decision: GateDecision,
    plan: Plan,
    deps: AgentDeps,
    thread: str,
    events: list[str],
    *,
    run: str,
) -> tuple[str, PlanStep | None, str]:
    """File (once) or find the request for this exact step, wait for it, and spend its approval once."""
    assert isinstance(deps.gate, PolicyGate)  # (_judge sends only a PolicyGate's decisions here)
    store = deps.approvals
    if store is None:
        why = f"{step.id} needs approval ({', '.join(decision.rule_ids)}) but no approvals store is open"
        return "stop", None, why
    assert decision.action is not None
    action = Action.model_validate(decision.action)

    def file(expired: ApprovalRequest | None) -> ApprovalRequest:
        return _file(store, step, action, decision, plan, deps, thread, events, run=run, expired=expired)

    request = find_request(
        store, thread_id=thread, action=action, step=step, run=run
    )  # filed before a re-run?
    if request is None or request.status == "expired":
        request = file(request)
    waited = _wait(store, request, file, step, kind, deps, thread, events)
    if isinstance(waited, tuple):
        return waited
    if waited.status == "approved":
        return _spend(store, waited, step, deps, events, run=run)
    return _rejected(waited, step, plan, deps, thread, events, run=run)


def _file(
    store: ApprovalStore,
    step: PlanStep,
    action: Action,
    decision: GateDecision,
    plan: Plan,
    deps: AgentDeps,
    thread: str,
    events: list[str],
    *,
    run: str,
    expired: ApprovalRequest | None,
) -> ApprovalRequest:
    """A new request for this exact step, for this run of the thread only (``expired``: the one it replaces)."""
    if expired is not None:
        events.extend(deps.say(f"approval request {expired.id} expired unanswered; asking again"))
    filed = store.request(
        action=action,
        decision=decision.policy_decision(),
        thread_id=thread,
        summary=_summary(step, plan),
        cost=_cost(action, plan),
        ttl=timedelta(hours=deps.approval_ttl_hours),
        ledger=deps.record.ledger,
        arguments={"step": step.model_dump(mode="json"), "run": run},  # this exact step, for this run only
    )
    events.extend(
        deps.say(
            f"{step.id} needs approval ({decision.reason}): filed request {filed.id}; a lead approves "
            f"it with `vibe approvals approve {filed.id}` or on the approvals page"
        )
    )
    return filed


def _wait(
    store: ApprovalStore,
    request: ApprovalRequest,
    file: Callable[[ApprovalRequest | None], ApprovalRequest],
    step: PlanStep,
    kind: str,
    deps: AgentDeps,
    thread: str,
    events: list[str],
) -> ApprovalRequest | tuple[str, PlanStep | None, str]:
    """The request once decided (an expired one filed again), or the verdict when the thread does not wait:
    unattended ("skip"), or cancelled by the user ("stop"). The store decides, never the interrupt's answer."""
    while request.status == "pending":
        if deps.unattended:
            _record_once(
                deps,
                thread,
                kind="note",
                actor="planner",
                action=step.tool,
                inputs=step,
                outputs={"request_id": request.id},
                reason=f"unattended: {step.id} skipped, waiting for approval",
                outcome="skipped",
            )
            events += deps.say(f"unattended: {step.id} skipped until request {request.id} is approved")
            return "skip", None, f"request {request.id} for {step.id} ({kind})"
        answer = interrupt(
            {
                "kind": "approval",
                "request_id": request.id,
                "step": step.model_dump(mode="json"),
                "rules": [r.model_dump() for r in request.rules],
                "summary": request.summary,
                "approve": f"vibe approvals approve {request.id}",
                "resume": f"vibe resume {thread} --yes",
            }
        )
        if answer in (False, "no", "n"):
            why = f"cancelled by the user while {step.id} waited for approval ({request.id})"
            return "stop", None, why
        request = store.get(request.id)
        if request.status == "expired":
            request = file(request)
    return request


def _spend(
    store: ApprovalStore,
    request: ApprovalRequest,
    step: PlanStep,
    deps: AgentDeps,
    events: list[str],
    *,
    run: str,
) -> tuple[str, PlanStep | None, str]:
    """An approved request, verified against the policy's approver groups and spent once, by this run."""
    assert isinstance(deps.gate, PolicyGate)
    policies = deps.gate.policies
    problem = verify_approval(request, policies)
    if problem:
        return "stop", None, f"{step.id}: request {request.id} is marked approved but {problem}"
    try:
        store.use(request.id, by=run)
    except ApprovalError as error:
        return "stop", None, f"{step.id}: {error}"
    _record_approvals(deps, request, policies)
    approvers = ", ".join(d.signed.approver for d in request.decisions if d.signed.decision == "approve")
    events += deps.say(f"{step.id} approved by {approvers} (request {request.id})")
    return "run", None, ""


def _rejected(
    request: ApprovalRequest,
    step: PlanStep,
    plan: Plan,
    deps: AgentDeps,
    thread: str,
    events: list[str],
    *,
    run: str,
) -> tuple[str, PlanStep | None, str]:
    """A rejected request on record (signed rejections too), then a smaller step needing no approval, or stop."""
    assert isinstance(deps.gate, PolicyGate)
    _record_approvals(deps, request, deps.gate.policies)
    who = "; ".join(
        f"{d.signed.approver}: {d.signed.reason or 'no reason given'}"
        for d in request.decisions
        if d.signed.decision == "reject"
    )
    smaller = _replan(step, plan, deps, thread, events, why=f"rejected ({who})", allow_approval=False)
    if smaller is not None:
        verdict, again, note = _judge(smaller, plan, deps, thread, events, run=run)
        return verdict, again or smaller, note
    return "stop", None, f"{step.id} was rejected (request {request.id}) by {who}"


def _ask_in_thread(
    step: PlanStep, decision: GateDecision, deps: AgentDeps, thread: str
) -> tuple[str, PlanStep | None, str]:
    """A gate that names no approvers: the thread pauses and the answer to ``resume`` decides."""
    answer = interrupt(
        {"kind": "approval", "step": step.model_dump(mode="json"), "decision": decision.model_dump()}
    )
    if isinstance(answer, dict) and answer.get("approved"):
        deps.record(
            thread,
            kind="approval",
            actor="user",
            action=STEP_KINDS.get(step.tool, step.tool),
            inputs=step,
            outputs=answer,
            reason=answer.get("reason", "approved"),
            outcome="allow",
        )
        return "run", None, ""
    why = answer.get("reason", "rejected") if isinstance(answer, dict) else "rejected"
    return "stop", None, f"{step.id} was not approved: {why}"


def find_request(
    store: ApprovalStore,
    *,
    thread_id: str,
    action: Action,
    step: PlanStep | dict[str, Any] | None = None,
    run: str | None = None,
) -> ApprovalRequest | None:
    """The newest request of ``thread_id`` for exactly ``action`` (and, when given, exactly ``step`` filed by
    ``run``) that no other run has spent: what makes filing idempotent for a node that re-runs, without
    letting a new run of the same thread id (another work directory, say) reuse an old approval."""
    if isinstance(step, PlanStep):
        step = step.model_dump(mode="json")
    arguments = digest({"step": step, "run": run}) if step is not None else None
    found = [
        r
        for r in store.list()
        if r.thread_id == thread_id
        and r.action == action
        and (arguments is None or r.arguments_hash == arguments)
        and (run is None or store.used_by(r.id) in (None, run))
    ]
    return found[-1] if found else None


def _record_approvals(deps: AgentDeps, request: ApprovalRequest, policies: PolicySet) -> None:
    """The signed decisions on ``request`` into this thread's ledger, each once (the CLI may have put it there)."""
    ledger = deps.record.ledger
    seen = {
        json.dumps(e.record.signature, sort_keys=True)
        for e in ledger.entries(thread_id=request.thread_id)
        if e.record.kind == "approval" and e.record.signature
    }
    for recorded in request.decisions:
        record = approval_record(request, recorded.signed, policies=policies)
        if json.dumps(record.signature, sort_keys=True) not in seen:
            ledger.append(record)


def _summary(step: PlanStep, plan: Plan) -> str:
    return f"step {step.id}: {step.why}\n{summarize_plan(plan)}"


def _cost(action: Action, plan: Plan) -> Cost:
    full = plan.full
    note = (
        f"this step: {action.cpu_hours or 0:.3g} CPU core-hours, {action.gpu_hours or 0:.3g} GPU-hours here; "
        f"the full-size run it stands for: {full.gpu_hours:,.0f} GPU-hours, ~{full.cost:,.0f} "
        f"{full.cluster.currency}"
    )
    return Cost(gpu_hours=action.gpu_hours, cpu_hours=action.cpu_hours, note=note)


def _record_once(deps: AgentDeps, thread: str, **record: Any) -> bool:
    """Append a decision unless this thread's ledger already holds it (:meth:`Recorder.once`)."""
    return deps.record.once(thread, **record)


def _record_gate(
    deps: AgentDeps,
    thread: str,
    *,
    kind: str,
    inputs: PlanStep | dict[str, Any],
    decision: GateDecision,
    about: str = "",
) -> bool:
    """The gate's decision on ``inputs`` (a step, or the plan), with its rule ids and policy file hashes."""
    return _record_once(
        deps,
        thread,
        kind="gate",
        actor="policy",
        action=kind,
        inputs=inputs,
        outputs=decision.model_dump(),
        reason=about + decision.reason,
        outcome=decision.outcome,
        rule_ids=decision.rule_ids,
        policy_hashes=decision.policy_hashes,
    )


# ------------------------------------------------------------------------------------ after the decision
