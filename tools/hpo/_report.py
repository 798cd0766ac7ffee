"""The study report: ``{out}/report.md`` with the best trial, a table of every trial and three plots.

Plots (matplotlib, through ``optuna.visualization.matplotlib``): ``history.png`` (objective per trial and the
best so far), ``importances.png`` (parameter importances by Optuna's default evaluator, PED-ANOVA in Optuna 5,
which needs neither scikit-learn nor many trials) and ``intermediate.png`` (the validation curves Optuna saw,
pruned trials included). A plot that cannot be drawn yet (too few complete trials) is replaced by a line
saying why. The report is rebuilt from storage alone, so ``write_study_report`` works on any study.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.hpo._storage import trial_values
from vibe.core.render import pyplot

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = ["write_study_report"]


def write_study_report(*, storage: str, study_name: str, out: Path, notes: list[str] | None = None) -> Path:
    """Write ``{out}/report.md`` (+ PNGs) for the study ``study_name`` in ``storage``; returns its path."""
    import optuna

    from tools.hpo._storage import with_driver

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study = optuna.load_study(study_name=study_name, storage=with_driver(storage))
    trials = study.get_trials(deepcopy=False)
    objective = study.user_attrs.get("objective", "value")
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    plots = _plots(study, out, complete=len(complete))
    lines = [
        *_summary(study_name, storage, trials, objective=objective, notes=notes or []),
        *_best(complete, objective=objective),
        "## Plots",
        "",
        *[f"{p}\n" for p in plots],
        "## Trials",
        "",
        *_trials_table(trials),
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def _plots(study: optuna.Study, out: Path, *, complete: int) -> list[str]:
    """Draw the study's history, importances and intermediate values into ``out``; the report's line for
    each (its image, or why it is not drawn)."""
    from optuna.visualization import matplotlib as vis

    plt = pyplot()
    plots: list[str] = []
    for name, title, draw, need in (
        ("history.png", "Optimisation history", lambda: vis.plot_optimization_history(study), 1),
        ("importances.png", "Parameter importances", lambda: vis.plot_param_importances(study), 2),
        ("intermediate.png", "Intermediate values", lambda: vis.plot_intermediate_values(study), 1),
    ):
        target = out / name
        if complete < need:
            target.unlink(missing_ok=True)
            plots.append(f"*{title}: needs at least {need} complete trial(s).*")
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ax = draw()
                fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
                fig.set_size_inches(8, 4.5)
                fig.tight_layout()
                fig.savefig(target, dpi=100)
                plt.close(fig)
            plots.append(f"![{title}]({name})")
        except Exception as error:  # e.g. importances of a single-valued param set
            target.unlink(missing_ok=True)
            plots.append(f"*{title}: not drawn ({str(error).splitlines()[0][:200]}).*")
    return plots


def _summary(
    study_name: str, storage: str, trials: list[FrozenTrial], *, objective: str, notes: list[str]
) -> list[str]:
    """The title, where the study lives, its trials by state, their compute, and the notes."""

    def count(state: str) -> int:
        return sum(t.state.name == state for t in trials)

    lines = [
        f"# Hyper-parameter search `{study_name}`",
        "",
        f"Storage: `{storage}`. Open it live with `optuna-dashboard {storage}` "
        "(`pip install optuna-dashboard`; not a Vibe dependency).",
        "",
        f"Trials: {count('COMPLETE')} complete, {count('PRUNED')} pruned, {count('FAIL')} failed, "
        f"{count('RUNNING')} running, {count('WAITING')} waiting. Objective: {objective} (minimised).",
        f"Compute: {sum(float(t.user_attrs.get('cpu_hours', 0)) for t in trials):.4f} CPU-hours, "
        f"{sum(float(t.user_attrs.get('gpu_hours', 0)) for t in trials):.4f} GPU-hours, "
        f"{sum(float(t.user_attrs.get('flops', 0)) for t in trials):.3g} training FLOPs.",
        "",
    ]
    lines += [f"- {note}" for note in notes]
    return [*lines, ""] if notes else lines


def _best(complete: list[FrozenTrial], *, objective: str) -> list[str]:
    """The best complete trial: its value, parameters and run directory."""
    if not complete:
        return ["## Best: no trial complete yet", ""]
    best = min(complete, key=lambda t: t.value if t.value is not None else math.inf)
    return [
        f"## Best: trial {best.number}, {objective} {best.value:.4f}",
        "",
        "| param | value |",
        "|---|---|",
        *[f"| `{k}` | {_fmt(v)} |" for k, v in trial_values(best).items()],
        "",
        f"Run directory: `{best.user_attrs.get('run_dir', '')}`",
        "",
    ]


def _trials_table(trials: list[FrozenTrial]) -> list[str]:
    """One row per trial: state, value, steps, wall time, FLOPs, parameters and why it stopped."""
    values = {t.number: trial_values(t) for t in trials}
    names = sorted({k for t in trials for k in values[t.number]})
    lines = [
        "| # | state | value | steps | wall s | FLOPs | "
        + " | ".join(n.split(".")[-1] for n in names)
        + " | note |",
        "|" + "---|" * (7 + len(names)),
    ]
    for t in trials:
        a = t.user_attrs
        note = (
            a.get("stopped")
            or a.get("interrupted")
            or a.get("error")
            or (f"retry of {a['retry_of']}" if "retry_of" in a else "")
        )
        lines.append(
            f"| {t.number} | {t.state.name} | {_fmt(t.value)} | {a.get('steps', '')} | "
            f"{float(a.get('wall_s', 0)):.1f} | {float(a.get('flops', 0)):.3g} | "
            + " | ".join(_fmt(values[t.number].get(n)) for n in names)
            + f" | {str(note)[:120]} |"
        )
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
