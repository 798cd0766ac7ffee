"""The run report: Markdown and HTML with the request, the plan and its numbers, what ran, results,
loss curves and cost. Written to ``<workdir>/<thread>/report.md`` and ``report.html``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from policies import PolicyGate
from tools import stop_training_ahead
from trainers import read_metrics
from vibe.agent._deps import AgentDeps
from vibe.agent._plan import Plan, summarize_plan
from vibe.agent._state import AgentState
from vibe.core.render import LossSeries, html_page, loss_plot

__all__ = ["report"]


def _loss_plot(run_dir: Path, out: Path) -> Path | None:
    metrics = read_metrics(run_dir / "metrics.jsonl")
    return loss_plot(out, [LossSeries(records=metrics)]) if metrics else None


def _results_table(plan: Plan, results: dict[str, Any]) -> list[str]:
    lines = ["| step | tool | result |", "|---|---|---|"]
    for step in plan.steps:
        result = results.get(step.id)
        text = (
            "not run"
            if result is None
            else ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in result.items()
                if isinstance(v, int | float | str) and len(str(v)) < 60
            )
        )
        lines.append(f"| {step.id} | {step.tool} | {text} |")
    return lines


def _search_section(result: dict[str, Any], out_dir: Path) -> list[str]:
    """The search: its best trial, what it cost, why it stopped, and the study's own plots."""
    best = result.get("best")
    lines = [
        "## Search",
        "",
        f"{result['n_complete']} trials complete, {result['n_pruned']} pruned, {result['n_failed']} failed; "
        f"stopped by {result['stopped_by']}; {result['cpu_hours']:.3g} CPU core-hours, "
        f"{result['gpu_hours']:.3g} GPU-hours, {result['wall_s']:.0f} s.",
        "",
    ]
    if best:
        lines += [
            f"Best: trial {best['number']}, value {best['value']:.4f}, settings "
            + ", ".join(
                f"`{k}={v:.4g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in best["params"].items()
            ),
            "",
        ]
    study = Path(result["out"])
    for png in sorted(study.glob("*.png")):
        try:
            lines += [f"![{png.stem}]({png.relative_to(out_dir)})", ""]
        except ValueError:
            lines += [f"![{png.stem}]({png})", ""]
    lines += [f"Study report: `{result['report']}`", ""]
    return lines


def report(state: AgentState, deps: AgentDeps) -> AgentState:
    thread = state["thread_id"]
    out_dir = Path(deps.settings.workdir) / thread
    stop_training_ahead(out_dir)  # a train step that did not run (stopped, denied, failed before it)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Vibe report: {thread}",
        "",
        f"**Request:** {state['request']}",
        "",
        f"**Status:** {state.get('status', 'new')}"
        + (f" — {state['reason']}" if state.get("reason") else ""),
        "",
    ]
    plot = None
    if state.get("plan"):
        plan = Plan.model_validate(state["plan"])
        lines += ["## Plan", "", "```", summarize_plan(plan), "```", ""]
        local = plan.runs_locally and bool(plan.steps)  # the full model trains here: no cluster plan
        lines += (
            ["No cluster run needed: the full model trains on this machine.", ""]
            if local
            else [
                "### Full-size run on the cluster",
                "",
                "Megatron run config:",
                "",
                "```json",
                json.dumps(plan.megatron_config, indent=2),
                "```",
                "",
                "Ray job:",
                "",
                "```json",
                json.dumps(plan.ray_job, indent=2),
                "```",
                "",
            ]
        )
        if plan.steps:
            lines += ["## What ran", "", *_results_table(plan, state.get("results", {})), ""]
            train = next((s for s in plan.steps if s.tool == "train"), None)
            if train is not None:
                run_dir = Path(train.args["config"]["out"])
                plot = _loss_plot(run_dir, out_dir / "loss.png")
                if plot:
                    lines += ["## Loss", "", "![loss curves](loss.png)", ""]
                if (run_dir / "report.md").exists():
                    lines += [f"Training report: `{run_dir / 'report.md'}`", ""]
        search = next((s for s in plan.steps if s.tool == "hpo"), None)
        if search is not None and state.get("results", {}).get(search.id):
            lines += _search_section(state["results"][search.id], out_dir)
        lines += (
            []
            if local
            else [
                "## Cost",
                "",
                f"Full-size: {plan.full.gpu_hours:,.0f} GPU-hours, ~{plan.full.cost:,.0f} {plan.full.cluster.currency} "
                f"on {plan.full.cluster.num_gpus}x{plan.full.cluster.spec.name} at "
                f"{plan.full.cluster.expected_mfu:.0%} MFU.",
                "",
            ]
        )
    lines += ["## Events", "", *[f"- {e}" for e in state.get("events", [])], ""]
    markdown = "\n".join(lines)
    (out_dir / "report.md").write_text(markdown)
    (out_dir / "report.html").write_text(html_page(markdown, title=thread))
    deps.record(
        thread,
        kind="report",
        actor="planner",
        inputs={},
        outputs={"path": str(out_dir / "report.md")},
        reason=state.get("status", ""),
    )
    head = _anchor(deps, thread)
    update = {"report": str(out_dir / "report.md"), "events": deps.say(f"report: {out_dir / 'report.md'}")}
    return {**update, "ledger_head": head} if head else update  # type: ignore[return-value]


def _anchor(deps: AgentDeps, thread: str) -> str | None:
    """Keep the ledger's head where a rewrite of the ledger cannot reach it: in this thread's checkpoint
    (returned), in the approvals store, and in the policy's ``retention.anchor_file`` when it names one."""
    ledger = deps.record.ledger
    head = ledger.head()
    if head is None:
        return None
    path = getattr(ledger, "path", None)
    if path is not None and deps.approvals is not None:
        deps.approvals.anchor(ledger=path, head=head, thread_id=thread)
    if path is not None and isinstance(deps.gate, PolicyGate):
        anchor_file = deps.gate.policies.retention.anchor_file
        if anchor_file:
            with open(anchor_file, "a", encoding="utf-8") as handle:
                handle.write(f"{Path(path).resolve()} {head} {thread}\n")
    return str(head)
