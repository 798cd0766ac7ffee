"""The shipped examples load, pass `vibe policy check`, and decide as their comments promise."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from policies import Action, load_policies
from vibe.cli import policy_app as app

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"
NAMES = ["research-lab", "regulated-bank", "defence"]


@pytest.mark.parametrize("name", NAMES)
def test_example_passes_policy_check(name: str) -> None:
    path = EXAMPLES / f"{name}.yaml"
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"ok {path} (policy {name}, sha256 " in result.output


def test_bank_and_its_team_file_compose_without_warnings() -> None:
    result = CliRunner().invoke(
        app,
        ["check", str(EXAMPLES / "regulated-bank.yaml"), str(EXAMPLES / "regulated-bank-team-fraud.yaml")],
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_research_lab_is_permissive() -> None:
    lab = load_policies([EXAMPLES / "research-lab.yaml"])
    assert lab.evaluate(Action(kind="data.export", paths=("/data/x",))).effect == "allow"
    run = Action(
        kind="train.run", team="nlp", gpu_hours=64, parameters="7B", architecture="moe", paths=("/data/c",)
    )
    assert lab.evaluate(run).effect == "allow"
    assert lab.evaluate(run.model_copy(update={"gpu_hours": 200.0})).effect == "require_approval"


def test_regulated_bank_is_strict() -> None:
    bank = load_policies([EXAMPLES / "regulated-bank.yaml"])
    crm = Action(
        kind="train.run",
        team="risk",
        requester="kai.tanaka",
        gpu_hours=4,
        parameters="350M",
        architecture="dense",
        paths=("/srv/data/approved/crm/customers.csv",),
    )
    assert bank.evaluate(crm).rules == ("regulated-bank:data.forbidden_in_training",)
    assert bank.evaluate(Action(kind="data.export", paths=("/srv/data/approved/code",))).effect == "deny"
    release = Action(kind="model.release", metrics={"val_bpb": 1.0, "pii_leak_rate": 0.0, "toxicity": 0.0})
    assert bank.evaluate(release).rules == ("regulated-bank:release-signoff",)
    assert bank.evaluate(Action(kind="run.delete", age_days=30)).effect == "deny"


def test_defence_allows_only_loopback_and_no_synthetic_data() -> None:
    defence = load_policies([EXAMPLES / "defence.yaml"])
    assert (
        defence.evaluate(Action(kind="llm.call", url="http://127.0.0.1:8000/v1/chat/completions")).effect
        == "allow"
    )
    assert defence.evaluate(Action(kind="llm.call", url="https://llm.example.com/v1")).effect == "deny"
    assert defence.evaluate(Action(kind="llm.call", url="http://localhost:8000/v1")).effect == "deny"
    synth = defence.evaluate(Action(kind="synth.generate", generator="template", volume=10))
    assert synth.rules == ("defence:synthetic.enabled",)


def test_defence_runs_need_two_signatures() -> None:
    defence = load_policies([EXAMPLES / "defence.yaml"])
    run = Action(
        kind="train.run",
        team="a",
        gpu_hours=2,
        parameters="100M",
        architecture="dense",
        paths=("/enclave/data/unclassified/manuals",),
    )
    decision = defence.evaluate(run)
    assert decision.effect == "require_approval"
    assert {(f.rule, f.approvers) for f in decision.approvals} == {
        ("defence:compute.approval_above", ("leads",)),
        ("defence:security-signs-runs", ("security",)),
    }
