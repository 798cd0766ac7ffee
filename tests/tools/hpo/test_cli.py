"""``vibe hpo`` from flags alone: the default space around a tiny proxy, gated by a policy file."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from vibe.cli import app


def test_vibe_hpo_from_flags_is_gated_by_the_policy(hpo_data: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    rules = [{"id": "no-hpo", "kinds": ["hpo.search"], "effect": "deny", "reason": "no searches today"}]
    policy.write_text(yaml.safe_dump({"version": 1, "name": "lab", "scope": "organisation", "rules": rules}))
    out = tmp_path / "study"
    result = CliRunner().invoke(
        app, ["hpo", "--data", str(hpo_data), "--out", str(out), "--trials", "2", "--policy", str(policy)]
    )
    assert result.exit_code == 0, result.output
    assert "stopped by policy" in result.output and "no searches today" in result.output
    assert f"optuna-dashboard sqlite:///{out.resolve()}/study.sqlite" in result.output
    assert (out / "report.md").is_file()


def test_vibe_hpo_needs_data_and_out_without_a_config(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["hpo", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--data" in result.output
