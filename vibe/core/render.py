"""What every report is drawn with: matplotlib figures (Agg, no display) and Markdown -> HTML pages.

    from vibe.core.render import LossSeries, html_page, loss_plot, plot

    loss_plot(out / "loss.png", [LossSeries(records=read_metrics(run / "metrics.jsonl"))])
    with plot(out / "history.png", size=(7, 4)) as ax:
        ax.plot(xs, ys)
    (out / "report.html").write_text(html_page(markdown, title="Vibe run"))

Reports are Markdown first (``report.md``, readable in a terminal and in a repository) with PNGs beside them;
:func:`html_page` turns that small Markdown subset (headings, code blocks, tables, lists, images, paragraphs)
into one self-contained page.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LossSeries", "html_page", "loss_plot", "plot", "pyplot"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def plot(
    out: Path, *, size: tuple[float, float] = (7, 4), dpi: int = 110, title: str | None = None
) -> Iterator[Any]:
    """One axes to draw on; on exit the figure is laid out, saved to ``out`` and closed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=size)
    try:
        yield ax
        if title:
            ax.set_title(title)
        fig.tight_layout()
        fig.savefig(out, dpi=dpi)
    finally:
        plt.close(fig)


@dataclass
class LossSeries:
    """One run's ``metrics.jsonl`` records; ``label`` names it when several runs share a plot."""

    records: list[dict[str, Any]]
    label: str = ""
    dashed: bool = False


def loss_plot(out: Path, series: Sequence[LossSeries], *, title: str | None = None, dpi: int = 110) -> Path:
    """Training loss (a line) and validation loss (points joined) per step of every series."""
    labelled = any(s.label for s in series)
    with plot(out, dpi=dpi, title=title) as ax:
        for s in series:
            style = "--" if s.dashed else "-"
            train = [(m["step"], m["loss"]) for m in s.records if "loss" in m]
            val = [(m["step"], m["val_loss"]) for m in s.records if m.get("val_loss") is not None]
            if train:
                if labelled:
                    ax.plot(*zip(*train, strict=True), style, alpha=0.5, label=f"{s.label}: train")
                else:
                    ax.plot(*zip(*train, strict=True), label="train loss")
            if val:
                label = f"{s.label}: validation" if labelled else "validation loss"
                ax.plot(*zip(*val, strict=True), "o" + style, label=label)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small" if labelled else None)
    return out


_STYLE = "body{font-family:sans-serif;max-width:60em;margin:2em auto}pre{background:#f4f4f4;padding:1em}td{padding:0 1em}"


def html_page(markdown: str, *, title: str) -> str:
    """A readable HTML page from a report's small Markdown subset (headings, code, tables, lists, images)."""
    body: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            body.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
        elif in_code:
            body.append(html.escape(line))
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("![") and "](" in line:
            src = line.split("](", 1)[1].rstrip(")")
            alt = line[2:].split("]", 1)[0]
            body.append(f'<img src="{html.escape(src)}" alt="{html.escape(alt)}">')
        elif line.startswith("|"):
            if set(line) <= {"|", "-"}:
                continue
            cells = "".join(f"<td>{html.escape(c.strip())}</td>" for c in line.strip("|").split("|"))
            body.append(f"<table><tr>{cells}</tr></table>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line:
            body.append(f"<p>{html.escape(line).replace('**', '')}</p>")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
