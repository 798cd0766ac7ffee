"""`vibe policy check` and `vibe policy explain`, run through Typer's CliRunner on real files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from vibe.cli import policy_app as app

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
BANK = str(EXAMPLES / "regulated-bank.yaml")
FRAUD = str(EXAMPLES / "regulated-bank-team-fraud.yaml")


def test_check_lists_every_problem_and_exits_2(write: Callable[[str, str], Path]) -> None:
    bad = write("bad.yaml", "version: 1\nname: t\ndefault: maybe\ncompute:\n  per_run: {gpu_hours: -1}\n")
    result = CliRunner().invoke(app, ["check", BANK, str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: default: got 'maybe'" in result.output
    assert f"{bad}:5: compute.per_run.gpu_hours: got -1" in result.output
    assert "2 problem(s) in 1 file(s)" in result.output
    assert "ok " not in result.output


def test_check_refuses_a_team_file_that_loosens(write: Callable[[str, str], Path]) -> None:
    team = write("team.yaml", "version: 1\nname: team\nscope: team\nteam: fraud\ndefault: allow\n")
    result = CliRunner().invoke(app, ["check", BANK, str(team)])
    assert result.exit_code == 2, result.output
    assert f"{team}:5: default: got 'allow'; a team file can only tighten" in result.output


def test_explain_key_values() -> None:
    args = [
        "explain",
        "train.run",
        "team=fraud",
        "requester=ines.duarte",
        "gpu_hours=40",
        "parameters=350M",
        "architecture=dense",
    ]
    args += [
        "paths=/srv/data/approved/code/a.py,/srv/data/approved/crm/b.csv",
        "--policy",
        BANK,
        "--policy",
        FRAUD,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "deny  train.run"
    assert lines[1] == "rules:   regulated-bank:data.forbidden_in_training, bank-team-fraud:compute.per_run"
    assert "also fired (require_approval): regulated-bank:compute.approval_above" in result.output
    assert "data labelled customer may not be used for training" in result.output
    assert "gpu_hours 40 exceeds the per-run limit 32" in result.output
    assert f"policy:  {BANK} sha256 " in result.output


def test_explain_metrics_and_approvals() -> None:
    args = [
        "explain",
        "model.release",
        "metrics.val_bpb=1.05",
        "metrics.pii_leak_rate=0",
        "metrics.toxicity=0",
    ]
    result = CliRunner().invoke(app, [*args, "--policy", BANK])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("require_approval  model.release")
    assert "approval: regulated-bank:release-signoff by a member of model-risk" in result.output


def test_explain_action_file_as_json_output(write: Callable[[str, str], Path]) -> None:
    action = write("action.yaml", "kind: llm.call\nurl: https://api.example.com/v1/chat\n")
    usage = write("usage.yaml", "teams: {}\n")
    result = CliRunner().invoke(
        app, ["explain", str(action), "--policy", BANK, "--usage", str(usage), "--json"]
    )
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["effect"] == "deny"
    assert decision["rules"] == ["regulated-bank:endpoints.llm"]
    assert decision["action"] == {"kind": "llm.call", "url": "https://api.example.com/v1/chat"}


def test_explain_usage_counts(write: Callable[[str, str], Path]) -> None:
    usage = write("usage.yaml", "teams:\n  risk: {gpu_hours: 45}\n")
    args = [
        "explain",
        "eval.run",
        "team=risk",
        "requester=kai.tanaka",
        "gpu_hours=4",
        "--policy",
        BANK,
        "--json",
    ]
    assert json.loads(CliRunner().invoke(app, args).output)["effect"] == "allow"
    decision = json.loads(CliRunner().invoke(app, [*args, "--usage", str(usage)]).output)
    assert decision["rules"] == ["regulated-bank:compute.per_team_per_day"]


def test_explain_unknown_attribute_is_a_user_error() -> None:
    result = CliRunner().invoke(app, ["explain", "train.run", "gpus=4", "--policy", BANK])
    assert result.exit_code == 2
    assert "'gpus' is not an action attribute; allowed: team, requester, paths" in result.output


def test_explain_invalid_value_names_the_field() -> None:
    result = CliRunner().invoke(app, ["explain", "train.run", "gpu_hours=many", "--policy", BANK])
    assert result.exit_code == 2
    assert "<command line action>: gpu_hours: got 'many'; Input should be a valid number" in result.output


def test_explain_bad_action_file_names_file_and_line(write: Callable[[str, str], Path]) -> None:
    action = write("action.yaml", "kind: train.run\ngpu_hours: 1\nparameters: huge\n")
    result = CliRunner().invoke(app, ["explain", str(action), "--policy", BANK])
    assert result.exit_code == 2
    assert f"{action}:3: parameters: got 'huge'" in result.output


def test_explain_with_a_broken_policy_exits_2(write: Callable[[str, str], Path]) -> None:
    bad = write("bad.yaml", "version: 1\nname: t\nsynthetic: {enabled: maybe}\n")
    result = CliRunner().invoke(app, ["explain", "eval.run", "--policy", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: synthetic.enabled: got 'maybe'" in result.output
