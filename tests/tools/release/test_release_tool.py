"""The ``release`` / ``release_check`` tools on a hand-made evaluated run: a gate that fails names metric, value
and threshold and registers nothing; an approval the policy reserves is raised for the caller to file, and
an :class:`policies.ApprovedGate` for exactly that action lets it through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies import ApprovedGate, PolicyGate
from tools import ToolContext, ToolError, registered
from tools.release import (
    ReleaseDenied,
    ReleaseNeedsApproval,
    check_release,
    gated_metrics,
    release_attributes,
    release_run,
    suites_for,
)
from trainers import RunConfig
from vibe.core.config import dump_yaml
from vibe.ledger import SqliteLedger

POLICY = """\
version: 1
name: org
default: allow
evaluation:
  gates:
    - {{metric: val_bpb, max: {bpb_max}}}
    - {{metric: pii_leak_rate, max: 0.0}}
{extra}"""
SIGNOFF = """\
rules:
  - {id: signoff, kinds: [model.release], effect: require_approval, approvers: [risk], reason: risk signs off}
approvers:
  risk:
    members: {farah: "ed25519:wNWru7UFKsvgP0Cj9723RyhtynJ5KpzV6eQiWlQ26H4="}
    may_approve: ["model.*"]
"""


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"tokenizer": {"sha256": "ab" * 32}, "fingerprint": "f"}))
    run = tmp_path / "run"
    run.mkdir()
    dump_yaml(
        RunConfig.model_validate({"out": str(run), "data": {"sources": [{"path": str(data)}]}}),
        run / "config.yaml",
    )
    (run / "eval.json").write_text(
        json.dumps({"step": 6, "valid": {"loss": 4.2, "bpb": 2.5}, "metrics": {"pii_leak_rate": 0.0}})
    )
    return run


def _gate(tmp_path: Path, *, bpb_max: float, extra: str = "") -> PolicyGate:
    policy = tmp_path / "org.yaml"
    policy.write_text(POLICY.format(bpb_max=bpb_max, extra=extra))
    return PolicyGate.from_files([policy], requester="erin")


def test_the_gated_metrics_name_their_suites(tmp_path: Path, run_dir: Path) -> None:
    gate = _gate(tmp_path, bpb_max=3)
    assert gated_metrics(gate.policies) == ["val_bpb", "pii_leak_rate"]
    assert suites_for(["val_bpb", "pii_leak_rate", "code_pass_at_1"]) == ["heldout", "policy", "code"]
    attributes = release_attributes(run_dir)
    assert attributes["metrics"] == {"pii_leak_rate": 0.0, "val_bpb": 2.5, "val_loss": 4.2}
    assert attributes["paths"] == [str((tmp_path / "data").resolve())]


def test_a_failing_gate_names_metric_value_and_threshold(tmp_path: Path, run_dir: Path) -> None:
    gate = _gate(tmp_path, bpb_max=1.1)
    with SqliteLedger(tmp_path / "ledger.sqlite") as ledger:
        check = check_release(run_dir, gate=gate, ledger=ledger, thread_id="t")
        assert not check.passed and check.failures == ["org: val_bpb 2.5 is above the gate 1.1"]
        assert "fails the release gates: org: val_bpb 2.5 is above the gate 1.1" in check.summary()
        with pytest.raises(
            ReleaseDenied, match=r"val_bpb 2\.5 is above the gate 1\.1; nothing was registered"
        ):
            release_run(run_dir, name="coder", gate=gate, ledger=ledger, thread_id="t")
        records = [e.record for e in ledger.entries(thread_id="t")]
    assert [(r.kind, r.action, r.outcome) for r in records] == [("gate", "model.release", "deny")] * 2
    assert records[0].rule_ids == ["org:evaluation.val_bpb"] and records[0].policy_hashes
    assert not (run_dir / "release").exists()  # nothing registered, no lineage written


def test_the_check_tool_reports_a_pass_and_the_approval_a_release_needs(
    tmp_path: Path, run_dir: Path
) -> None:
    gate = _gate(tmp_path, bpb_max=3, extra=SIGNOFF)
    context = ToolContext(workdir=tmp_path, gate=gate)
    result = registered()["release_check"]({"run_dir": str(run_dir)}, context)
    assert result.passed and result.outcome == "require_approval" and result.rule_ids == ["org:signoff"]
    assert "passes the release gates" in result.summary and "needs approval" in result.summary
    with pytest.raises(ReleaseNeedsApproval) as needed:
        release_run(run_dir, name="coder", gate=gate)
    with pytest.raises(ToolError, match="needs approval"):
        registered()["release"]({"run_dir": str(run_dir), "name": "coder"}, context)
    approved = ApprovedGate(gate, action=needed.value.decision.action or {}, request_id="r-1")
    decision = approved.check(kind="model.release", attributes=release_attributes(run_dir))
    assert decision.outcome == "allow" and "approved (request r-1)" in decision.reason
    other = approved.check(
        kind="model.release",
        attributes={**release_attributes(run_dir), "metrics": {"val_bpb": 2.9, "pii_leak_rate": 0.0}},
    )
    assert other.outcome == "require_approval"  # an approval is for exactly the action approved


def test_release_args_forbid_unknown_keys(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(ValueError, match="extra"):
        registered()["release"](
            {"run_dir": str(run_dir), "name": "x", "upload_to": "hub"}, ToolContext(workdir=tmp_path)
        )
