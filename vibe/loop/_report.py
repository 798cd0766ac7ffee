"""The morning report: ``{loop_dir}/report.md`` and ``report.html`` with PNG plots beside them.

What ran (rounds, trials, full-size runs), the best settings and value, loss curves of the full-size runs,
the optimisation history over every round and the parameter importances of the best round's study, costs,
the gate's decisions from the ledger (outcome and rule ids) and the approval requests still pending.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vibe.core.render import LossSeries, html_page, loss_plot, plot
from vibe.loop._config import LoopConfig
from vibe.loop._state import LoopState, best_run_of, best_trial_of, clock, pending_approvals

__all__ = ["write_report"]


def _history_plot(state: LoopState, out: Path) -> Path | None:
    """Every finished trial's value in the order the rounds ran them, coloured by round, and the best so far."""
    points: list[tuple[int, float, int]] = []
    for r in state.rounds:
        for trial in (r.search or {}).get("trials", []):
            if trial.get("value") is not None and trial.get("state") in ("COMPLETE", "complete"):
                points.append((len(points), float(trial["value"]), r.number))
    if not points:
        return None
    with plot(out, title="optimisation history") as ax:
        _draw_history(ax, points, ylabel=_objective(state))
    return out


def _draw_history(ax: Any, points: list[tuple[int, float, int]], *, ylabel: str) -> None:
    for number in sorted({p[2] for p in points}):
        mine = [(i, v) for i, v, n in points if n == number]
        ax.plot(*zip(*mine, strict=True), "o", label=f"round {number}")
    best, line = float("inf"), []
    for i, v, _ in points:
        best = min(best, v)
        line.append((i, best))
    ax.step(*zip(*line, strict=True), where="post", color="black", label="best so far")
    ax.set_xlabel("trial (all rounds, in order)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()


def _objective(state: LoopState) -> str:
    return next((r.objective for r in state.rounds if r.space), "val_bpb")


def _importance_plot(state: LoopState, out: Path) -> tuple[Path | None, str]:
    """fANOVA importances of the study with the most complete trials (Optuna's default evaluator)."""
    rounds = [r for r in state.rounds if (r.search or {}).get("n_complete", 0) >= 2]
    if not rounds:
        return None, "parameter importances need a study with at least two complete trials"
    chosen = max(rounds, key=lambda r: r.search["n_complete"])  # type: ignore[index]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search: dict[str, Any] = chosen.search or {}
    try:
        study = optuna.load_study(study_name=search["study_name"], storage=search["storage"])
        importances = optuna.importance.get_param_importances(study)
    except (KeyError, RuntimeError, ValueError) as error:  # e.g. the study's file was removed since
        return None, f"parameter importances of round {chosen.number}: {error}"
    if not importances:
        return None, f"round {chosen.number}'s study varied no parameter"
    names = list(importances)[::-1]
    with plot(out, size=(7, 0.5 * len(names) + 1.5)) as ax:
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("importance (fANOVA)")
        ax.set_title(f"parameter importances, round {chosen.number}\n{study.study_name}", fontsize=11)
    return out, f"from round {chosen.number}'s study ({chosen.search['n_complete']} complete trials)"  # type: ignore[index]


def _loss_plot(state: LoopState, out: Path) -> Path | None:
    """Training and validation loss of every full-size run the loop trained, and of the best search trial
    (on the narrower proxy, dashed)."""
    from trainers import read_metrics

    runs = [(f"round {r.number} full run", Path(r.full_run["run_dir"])) for r in state.rounds if r.full_run]
    best = best_trial_of(state)
    if best and best.get("run_dir"):
        runs.append((f"best trial (round {best['round']}, #{best['number']}, proxy)", Path(best["run_dir"])))
    series = [(label, read_metrics(d / "metrics.jsonl")) for label, d in runs]
    series = [(label, m) for label, m in series if m]
    if not series:
        return None
    return loss_plot(
        out,
        [LossSeries(records=m, label=label, dashed=label.startswith("best trial")) for label, m in series],
        title="loss curves of the best runs",
    )


def _decisions(config: LoopConfig, state: LoopState) -> list[str]:
    """The gate's outcomes, approvals and transfers of every round's thread, from the ledger."""
    from vibe.ledger import SqliteLedger, default_ledger_path

    path = Path(config.agent.ledger or default_ledger_path(config.workdir))
    if not path.exists():
        return ["(no ledger)"]
    lines = ["| round | kind | action | outcome | rules | reason |", "|---|---|---|---|---|---|"]
    with SqliteLedger(path) as ledger:
        for r in state.rounds:
            for entry in ledger.entries(thread_id=r.thread_id):
                rec = entry.record
                if rec.kind not in (
                    "gate",
                    "approval",
                    "approval_requested",
                    "plan_chosen",
                ) and rec.outcome not in ("skipped",):
                    continue
                reason = rec.reason.replace("|", "/").replace("\n", " ")
                reason = reason if len(reason) <= 160 else reason[:157] + "..."
                lines.append(
                    f"| {r.number} | {rec.kind} | {rec.action or ''} | {rec.outcome or ''} | "
                    f"{', '.join(rec.rule_ids)} | {reason} |"
                )
    return lines


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={v:.4g}`" if isinstance(v, float) else f"`{k}={v}`" for k, v in params.items())


def write_report(loop_dir: Path, state: LoopState, config: LoopConfig) -> Path:
    """Write the morning report of ``state`` into ``loop_dir``; returns the Markdown file's path."""
    lines = [
        *_header(state),
        *_best(state),
        *_what_ran(state),
        *_plots(state, loop_dir),
        *_costs(state),
        "## Decisions",
        "",
        *_decisions(config, state),
        "",
        *_pending(config, state),
    ]
    markdown = "\n".join(lines)
    (loop_dir / "report.md").write_text(markdown)
    (loop_dir / "report.html").write_text(html_page(markdown, title=state.name))
    return loop_dir / "report.md"


def _header(state: LoopState) -> list[str]:
    """The title, the goal, the window and what stopped the loop."""
    ended = max((r.finished for r in state.rounds if r.finished), default=state.started)
    return [
        f"# Vibe overnight loop: {state.name}",
        "",
        f"**Goal:** {state.goal}",
        "",
        f"**Window:** {clock(state.started)} to {clock(state.deadline)} (deadline); last round ended "
        f"{clock(ended)}. **Stopped by:** {state.stopped_by or 'still running'}"
        + (f" — {state.note}" if state.note else ""),
        "",
    ]


def _best(state: LoopState) -> list[str]:
    """The best search trial and the best evaluated full-size run."""
    best_trial, best_run = best_trial_of(state), best_run_of(state)
    lines = ["## Best", ""]
    if best_trial:
        lines += [
            f"Best search trial: round {best_trial['round']}, trial {best_trial['number']}, "
            f"{best_trial['objective']} = {best_trial['value']:.4f}, settings {_fmt(best_trial['params'])}.",
            "",
        ]
    else:
        lines += ["No search trial finished.", ""]
    if best_run:
        optimizer = (best_run.get("config") or {}).get("optimizer", {})
        lines += [
            f"Best full-size run: round {best_run['round']} (`{best_run['run_dir']}`), held-out val_bpb "
            f"{best_run['val_bpb']:.4f}, val_loss {best_run['val_loss']:.4f}; optimizer "
            + _fmt(
                {k: v for k, v in optimizer.items() if k in ("lr", "min_lr", "warmup_steps", "weight_decay")}
            ),
            "",
        ]
    else:
        lines += ["No full-size run was evaluated.", ""]
    return lines


def _what_ran(state: LoopState) -> list[str]:
    """One table row per round, then each round's thread and study reports."""
    lines = [
        "## What ran",
        "",
        "| round | thread | status | trials (complete/pruned/failed) | stopped by | best trial | full run val_bpb | wall s | pending |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in state.rounds:
        s = r.search or {}
        best = s.get("best") or {}
        trials = f"{s.get('n_complete', 0)}/{s.get('n_pruned', 0)}/{s.get('n_failed', 0)}" if s else "not run"
        best_text = f"#{best['number']} {best['value']:.4f}" if best.get("value") is not None else ""
        run_text = f"{r.evaluation['val_bpb']:.4f}" if r.evaluation else "not run"
        lines.append(
            f"| {r.number} | {r.thread_id} | {r.status} | {trials} | {s.get('stopped_by', '')} | {best_text} | "
            f"{run_text} | {r.wall_s:.0f} | {', '.join(r.pending)} |"
        )
    lines.append("")
    for r in state.rounds:
        if r.report or (r.search or {}).get("report"):
            lines.append(
                f"- round {r.number}: thread report `{r.report}`"
                + (f", study report `{r.search['report']}`" if r.search else "")
            )
    lines.append("")
    return lines


def _plots(state: LoopState, loop_dir: Path) -> list[str]:
    """The loss curves, the optimisation history and the parameter importances, drawn into ``loop_dir``."""
    lines: list[str] = []
    for title, drawn in (("Loss curves of the best runs", _loss_plot(state, loop_dir / "loss.png")),
                        ("Optimisation history", _history_plot(state, loop_dir / "history.png"))):  # fmt: skip
        lines += [f"## {title}", ""]
        lines += [f"![{title}]({drawn.name})", ""] if drawn else ["(nothing to plot)", ""]
    importances, note = _importance_plot(state, loop_dir / "importances.png")
    lines += ["## Parameter importances", "", note, ""]
    if importances:
        lines += [f"![Parameter importances]({importances.name})", ""]
    return lines


def _costs(state: LoopState) -> list[str]:
    cpu = sum(r.cpu_hours for r in state.rounds)
    gpu = sum(r.gpu_hours for r in state.rounds)
    wall = sum(r.wall_s for r in state.rounds)
    return [
        "## Costs",
        "",
        f"{cpu:.3g} CPU core-hours, {gpu:.3g} GPU-hours, {wall:.0f} s of rounds "
        f"({len(state.rounds)} round(s)); searches: "
        f"{sum((r.search or {}).get('cpu_hours', 0.0) for r in state.rounds):.3g} CPU core-hours.",
        "",
    ]


def _pending(config: LoopConfig, state: LoopState) -> list[str]:
    """The approvals the loop waits for, each with the command that approves and trains it."""
    lines = ["## Pending approvals", ""]
    pending = pending_approvals(config, state)
    options = "".join(f" --policy {p}" for p in config.policies)
    options += f" --store {config.approvals}" if config.approvals else ""
    if pending:
        for request in pending:
            rules = ", ".join(r["rule"] for r in request["rules"])
            lines.append(
                f"- request {request['id']} ({request['action']['kind']}, thread {request['thread_id']}; {rules}): "
                f"approve and train it with `vibe approvals approve {request['id']}{options} --resume "
                f"--workdir {config.workdir}`"
            )
    else:
        lines.append("None.")
    lines.append("")
    return lines
