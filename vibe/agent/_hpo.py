"""The gate a step's tool sees once the gate node cleared the step, and the search step's hand-over.

Every step's tool runs through the registry with :class:`ClearedGate` as its context's gate: the gate node
judged the step on its whole estimate (and, where the policy asked, an approver approved exactly that
action), so a ``require_approval`` the tool meets again for the step's own kind, within what was cleared
(hours and parameters at most those of the step's action), stands for that approved work and is let
through; anything larger, and every deny, stands. The search step is the case that asks most: every trial
is judged as well (``hpo.search`` with the hours spent so far and the trial's estimate), and a ``deny`` stops
the search (``stopped_by="policy"``). :func:`transfer_best` moves the best trial's settings onto the
training step after the search.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import Gate, GateDecision
from vibe.agent._plan import Plan, plan_of
from vibe.agent._search import TRANSFER_RULE, transfer_into

if TYPE_CHECKING:
    from vibe.agent._deps import AgentDeps
    from vibe.agent._state import AgentState

__all__ = ["ClearedGate", "ClearedSearchGate", "transfer_best"]


class ClearedGate(Gate):
    """``gate`` for the checks a step's tool makes after the gate node cleared the step (action ``kind`` with
    the attributes ``cleared``): a ``require_approval`` for ``kind`` within what was cleared is let through;
    anything larger, any other kind, and every deny, stand. Checks of ``kind`` are judged on the sources the
    data came from (the agent's own derived data in ``workdir`` left out), as the step was."""

    def __init__(self, gate: Gate, *, kind: str, cleared: dict[str, Any], workdir: str) -> None:
        self.gate, self.kind, self.cleared, self.workdir = gate, kind, cleared, Path(workdir).resolve()

    def _sources(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """Without the agent's own derived data (the ingested dataset in its workdir): the gate judges the
        sources the data came from, as for every ``train.run`` the agent proposes."""
        paths = attributes.get("paths")
        if not paths:
            return attributes
        kept = [p for p in paths if not Path(p).resolve().is_relative_to(self.workdir)]
        return {**attributes, "paths": kept or list(self.cleared.get("paths", []))}

    def _within(self, attributes: dict[str, Any]) -> bool:
        for key in ("cpu_hours", "gpu_hours", "parameters"):
            asked = attributes.get(key)
            if asked is not None and asked > (self.cleared.get(key) or 0) * (1 + 1e-9):
                return False
        return True

    def check(self, *, kind: str, attributes: dict[str, Any]) -> GateDecision:
        if kind != self.kind:
            return self.gate.check(kind=kind, attributes=attributes)
        attributes = self._sources(attributes)
        decision = self.gate.check(kind=kind, attributes=attributes)
        if decision.outcome == "require_approval" and self._within(attributes):
            return decision.model_copy(
                update={
                    "outcome": "allow",
                    "reason": f"within what the gate cleared before the step started ({decision.reason})",
                }
            )
        return decision


class ClearedSearchGate(ClearedGate):
    """:class:`ClearedGate` for a search step (``hpo.search``)."""

    def __init__(self, gate: Gate, *, cleared: dict[str, Any], workdir: str) -> None:
        super().__init__(gate, kind="hpo.search", cleared=cleared, workdir=workdir)


def transfer_best(state: AgentState, deps: AgentDeps) -> dict[str, Any]:
    """After the search step at ``state["cursor"]``: the next training step with the best trial's settings
    transferred onto it (the gate judges that step next), recorded with where its settings came from."""
    thread = state["thread_id"]
    plan = plan_of(state)  # a private copy: the transfer edits it
    steps = plan.steps
    cursor = state["cursor"]
    search_step = steps[cursor]
    search = search_step.args["config"]
    result = state.get("results", {}).get(search_step.id, {})
    index = next((i for i in range(cursor + 1, len(steps)) if steps[i].tool == "train"), None)
    if index is None:
        return {}
    beat = search_step.args.get("beat")
    best = result.get("best") or {}
    if beat is not None and (best.get("value") is None or best["value"] >= beat):
        found = f"{best['value']:.4f}" if best.get("value") is not None else "no value"
        reason = (
            f"the search's best ({found}) does not beat {beat:.4f}, the best before it: no new run to train; "
            f"{', '.join(s.id for s in steps[cursor + 1 :])} left out"
        )
        deps.record.once(thread, kind="note", actor="planner", action="hpo", inputs=search_step,
                     outputs={"best": best, "beat": beat}, reason=reason, outcome="skipped")  # fmt: skip
        plan.steps = steps[: cursor + 1]
        return {"plan": plan.model_dump(mode="json"), "events": deps.say(reason)}
    moved = transfer_into(steps[index], search=search, result=result)
    if moved is None:
        reason = (
            f"the search found no best trial ({result.get('n_failed', 0)} failed, stopped by "
            f"{result.get('stopped_by', '?')}): {steps[index].id} keeps the planner's settings"
        )
        deps.record.once(
            thread,
            kind="note",
            actor="planner",
            action="train",
            inputs=steps[index],
            outputs=result,
            reason=reason,
        )
        return {"events": deps.say(reason)}
    new_step, overrides, reason = moved
    steps[index] = new_step
    cluster = _transfer_to_cluster(plan, search=search, best=result["best"])
    deps.record.once(  # once: observe runs again if the agent stopped before its update was checkpointed
        thread,
        kind="plan_chosen",
        actor="planner",
        action="train",
        inputs={"search": search_step.id, "best": result["best"]},
        outputs={
            "step": new_step.model_dump(mode="json"),
            "overrides": overrides,
            "cluster_overrides": cluster,
        },
        reason=reason,
        outcome="transferred",
    )
    best = result["best"]
    line = (
        f"best trial {best['number']} ({search.get('objective', 'val_bpb')} "
        f"{best['value']:.4f}); {new_step.id} takes its settings by the µP-style rule: "
        + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in overrides.items())
    )
    return {"plan": plan.model_dump(mode="json"), "events": deps.say(line)}


def _transfer_to_cluster(plan: Plan, *, search: dict[str, Any], best: dict[str, Any]) -> dict[str, Any]:
    """The optimizer settings of the best trial, transferred onto the full-size cluster config (advisory:
    the agent does not submit it); its batch and layout stay the planner's, sized for the cluster."""
    from tools.hpo import transfer
    from trainers import ModelConfig

    proxy_model = dict(search["base"]["model"])
    for name, value in best["params"].items():
        if name.startswith("model."):
            proxy_model[name.removeprefix("model.")] = value
    megatron = plan.megatron_config
    overrides = {
        k: v
        for k, v in transfer(
            best["params"],
            proxy=ModelConfig.model_validate(proxy_model),
            target=ModelConfig.model_validate(megatron["model"]),
        ).items()
        if k.startswith("optimizer.") and k.removeprefix("optimizer.") != "warmup_steps"
    }
    for dotted, value in overrides.items():
        megatron["optimizer"][dotted.removeprefix("optimizer.")] = value
    megatron["optimizer"]["min_lr"] = min(megatron["optimizer"]["min_lr"], megatron["optimizer"]["lr"])
    plan.notes = [
        *plan.notes,
        f"cluster run optimizer settings from the search, by {TRANSFER_RULE}",
    ]
    return overrides
