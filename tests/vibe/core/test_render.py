"""Every report draws with vibe.core.render: loss curves as PNG, the Markdown report as one HTML page."""

from __future__ import annotations

from pathlib import Path

from vibe.core.render import LossSeries, html_page, loss_plot, plot

PNG = b"\x89PNG\r\n\x1a\n"


def test_loss_plot_draws_train_and_validation_of_each_run(tmp_path: Path) -> None:
    records = [{"step": s, "loss": 5.0 / s} for s in range(1, 11)] + [{"step": 10, "val_loss": 0.7}]
    one = loss_plot(tmp_path / "one.png", [LossSeries(records=records)])
    two = loss_plot(
        tmp_path / "two.png",
        [LossSeries(records=records, label="run"), LossSeries(records=records, label="trial", dashed=True)],
        title="two runs",
    )
    for path in (one, two):
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 1000


def test_plot_saves_what_was_drawn(tmp_path: Path) -> None:
    with plot(tmp_path / "bars.png", size=(4, 3)) as ax:
        ax.barh(["a", "b"], [0.3, 0.7])
    assert (tmp_path / "bars.png").read_bytes().startswith(PNG)


def test_html_page_renders_the_markdown_subset_and_escapes_text() -> None:
    page = html_page(
        "# Run <x>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item\n\n![loss](loss.png)\n\n```\ncode & more\n```\n",
        title="t & u",
    )
    assert "<title>t &amp; u</title>" in page
    assert "<h1>Run &lt;x&gt;</h1>" in page
    assert "<td>1</td><td>2</td>" in page and "<li>item</li>" in page
    assert '<img src="loss.png" alt="loss">' in page
    assert "<pre>code &amp; more</pre>" in page
