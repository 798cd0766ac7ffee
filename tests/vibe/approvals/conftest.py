"""Fixtures for the approvals tests: real ed25519 keys, a policy naming them, a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policies import Action, PolicySet, load_policies
from vibe.approvals import ApprovalRequest, ApprovalStore, public_key_text

NOW = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # requests are made at this time (tests repeat it)
PEOPLE = ("alice", "bob", "carol", "dave")  # alice, bob: leads; carol: security; dave: nobody


def policy_text(keys: dict[str, str]) -> str:
    return f"""\
version: 1
name: org
default: deny
compute:
  per_run: {{gpu_hours: 100}}
  approval_above: {{gpu_hours: 4}}
  approvers: [leads]
models:
  max_parameters: 1B
approvers:
  leads:
    members: {{alice: "{keys["alice"]}", bob: "{keys["bob"]}"}}
    may_approve: [train.run, hpo.search]
  security:
    members: {{carol: "{keys["carol"]}"}}
    may_approve: ["*"]
rules:
  - id: secret-team-runs
    kinds: [train.run]
    effect: require_approval
    approvers: [security]
    when: {{teams: [secret]}}
    reason: security countersigns the secret team's runs
"""


@pytest.fixture
def keys() -> dict[str, Ed25519PrivateKey]:
    return {name: Ed25519PrivateKey.generate() for name in PEOPLE}


@pytest.fixture
def policy_file(tmp_path: Path, keys: dict[str, Ed25519PrivateKey]) -> Path:
    path = tmp_path / "org.yaml"
    path.write_text(policy_text({n: public_key_text(k) for n, k in keys.items()}), encoding="utf-8")
    return path


@pytest.fixture
def policies(policy_file: Path) -> PolicySet:
    return load_policies([policy_file])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ApprovalStore]:
    with ApprovalStore(tmp_path / "approvals.sqlite") as approvals:
        yield approvals


@pytest.fixture
def make_request(store: ApprovalStore, policies: PolicySet) -> Callable[..., ApprovalRequest]:
    """``make_request(team=..., requester=..., gpu_hours=...)``: a real request from a real decision."""

    def _make(
        *, team: str = "nlp", requester: str = "bob", gpu_hours: float = 8, ttl_h: float = 24
    ) -> ApprovalRequest:
        action = Action(
            kind="train.run", team=team, requester=requester, gpu_hours=gpu_hours, parameters="350M"
        )
        decision = policies.evaluate(action)
        assert decision.effect == "require_approval"
        return store.request(
            action=action,
            decision=decision,
            thread_id=f"thread-{team}",
            summary="350M dense on the code corpus",
            ttl=timedelta(hours=ttl_h),
            now=NOW,
        )

    return _make


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Error lines printed by ``user_errors`` are not wrapped at 80 columns, so tests can match them whole."""
    from vibe.core.log import console

    monkeypatch.setattr(console, "_width", 10_000)
