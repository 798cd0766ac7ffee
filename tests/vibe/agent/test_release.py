"""`vibe model release`: gates passing and failing, release with and without approval, lineage read back from
a real MLflow server's registry, and a released model resolved to its export (`NAME@production`)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[2] / "trainers"))
sys.path.insert(0, str(Path(__file__).parents[1] / "tracking"))
from mlflow_server import MlflowServer, shared_server
from tiny_dataset import build_tiny_dataset, tiny_config

from policies import load_policies
from vibe.agent import ReleaseDenied, release_model
from vibe.approvals import ApprovalStore, public_key_text, sign_decision
from vibe.cli import app
from vibe.ledger import SqliteLedger
from vibe.tracking import TrackingConfig, model_path, resolve_model

pytestmark = pytest.mark.slow

GATES = """\
version: 1
name: org
default: allow
evaluation:
  gates:
    - {{metric: val_bpb, max: {bpb_max}}}
    - {{metric: pii_leak_rate, max: 0.0}}
"""
SIGNOFF = """\
rules:
  - id: release-signoff
    kinds: [model.release]
    effect: require_approval
    approvers: [model-risk]
    reason: model risk signs off every release
approvers:
  model-risk:
    members: {{farah: "{key}"}}
    may_approve: ["model.*"]
"""


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model trained 6 steps and evaluated (heldout + policy), with a stand-in HF export directory."""
    import ray

    from tools.eval import evaluate
    from trainers import launch

    os.environ.setdefault("VIBE_NO_PROGRESS", "1")
    os.environ.setdefault("VIBE_CACHE", str(tmp_path_factory.mktemp("vibe-cache")))
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    data = build_tiny_dataset(tmp_path_factory.mktemp("release-data") / "tiny")
    config = tiny_config(
        data,
        tmp_path_factory.mktemp("release-runs") / "coder",
        training={"max_steps": 6, "eval_interval": 0, "checkpoint_interval": 6},
        tracking={"enabled": False},
    )
    run_dir = launch(config).run_dir
    evaluate(
        run_dir, suites=["policy"], options={"policy": {"prompts": 4}}, tracking=TrackingConfig(enabled=False)
    )
    export = run_dir / "export"
    export.mkdir()
    (export / "config.json").write_text('{"model_type": "llama"}')
    (export / "model.safetensors").write_bytes(b"\0" * 64)
    return run_dir


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> MlflowServer:
    return shared_server(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture
def env(tmp_path: Path, server: MlflowServer) -> Iterator[dict[str, object]]:
    yield {
        "approvals_path": tmp_path / "approvals.sqlite",
        "ledger_path": tmp_path / "ledger.sqlite",
        "tracking": TrackingConfig(uri=server.url),
    }


def _registered(server: MlflowServer, name: str) -> list[dict]:  # type: ignore[type-arg]
    import httpx

    response = httpx.get(
        f"{server.url}/api/2.0/mlflow/model-versions/search", params={"filter": f"name='{name}'"}, timeout=10
    )
    response.raise_for_status()
    return response.json().get("model_versions", [])  # type: ignore[no-any-return]


def test_a_passing_gate_registers_a_version_with_its_lineage(
    evaluated_run: Path, server: MlflowServer, env: dict, tmp_path: Path
) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(GATES.format(bpb_max=100))
    result = release_model(
        evaluated_run, name="coder-pass", policy_files=[policy], requester="erin", aliases=["staging", "production"],
        **env,
    )  # fmt: skip
    assert result.status == "registered" and result.version is not None
    got = server.api("registered-models/alias", name="coder-pass", alias="production")["model_version"]
    tags = {t["key"]: t["value"] for t in got["tags"]}
    lineage = json.loads((evaluated_run / "release" / "coder-pass.lineage.json").read_text())
    manifest = json.loads((Path(lineage["data"][0]["path"]) / "manifest.json").read_text())
    assert tags["vibe.data.0.tokenizer_sha256"] == manifest["tokenizer"]["sha256"]
    assert (
        tags["vibe.export_sha256"] == lineage["export"]["sha256"]
        and "model.safetensors" in lineage["export"]["files"]
    )
    assert tags["vibe.policy.org.yaml"] == load_policies([policy]).sources[0].sha256
    head = SqliteLedger(env["ledger_path"]).head()
    assert tags["vibe.ledger_head"] == lineage["ledger_head"] and lineage["ledger_head"].startswith("1:")
    assert head is not None and head.seq == 2  # the gate record, then the registration
    assert float(tags["vibe.metric.val_bpb"]) == pytest.approx(result.lineage["metrics"]["val_bpb"], rel=1e-5)
    assert tags["vibe.config_sha256"] == lineage["config_sha256"]
    artifacts = server.artifacts(got["run_id"], "release")
    assert {"release/config.yaml", "release/eval.json", "release/lineage.json", "release/data"} <= set(
        artifacts
    )
    # served by name: NAME@production resolves to the export directory
    assert model_path("coder-pass@production", config=env["tracking"]) == evaluated_run / "export"
    assert resolve_model("coder-pass@staging", config=env["tracking"]).version == got["version"]


def test_a_failing_gate_names_metric_value_and_threshold_and_registers_nothing(
    evaluated_run: Path, server: MlflowServer, env: dict, tmp_path: Path
) -> None:
    policy = tmp_path / "org.yaml"
    policy.write_text(GATES.format(bpb_max=0.01))
    with pytest.raises(
        ReleaseDenied, match=r"val_bpb \d+\.\d+ is above the gate 0\.01.*nothing was registered"
    ):
        release_model(evaluated_run, name="coder-fail", policy_files=[policy], requester="erin", **env)
    assert _registered(server, "coder-fail") == []
    result = CliRunner().invoke(
        app,
        ["model", "release", str(evaluated_run), "--name", "coder-fail", "--policy", str(policy),
         "--tracking-uri", server.url, "--approvals", str(env["approvals_path"]), "--ledger", str(env["ledger_path"])],
    )  # fmt: skip
    assert result.exit_code == 1 and "val_bpb" in result.output and "0.01" in result.output


def test_release_waits_for_approval_then_registers(
    evaluated_run: Path, server: MlflowServer, env: dict, tmp_path: Path
) -> None:
    key = Ed25519PrivateKey.generate()
    policy = tmp_path / "org.yaml"
    policy.write_text(GATES.format(bpb_max=100) + SIGNOFF.format(key=public_key_text(key)))
    first = release_model(evaluated_run, name="coder-signed", policy_files=[policy], requester="erin", **env)
    assert first.status == "pending" and first.request_id and _registered(server, "coder-signed") == []
    again = release_model(evaluated_run, name="coder-signed", policy_files=[policy], requester="erin", **env)
    assert again.request_id == first.request_id  # the same request, not a second one
    with ApprovalStore(env["approvals_path"]) as store:
        request = store.get(first.request_id)
        signed = sign_decision(request=request, decision="approve", approver="farah", key=key)
        assert store.decide(signed, policies=load_policies([policy])).status == "approved"
    done = release_model(evaluated_run, name="coder-signed", policy_files=[policy], requester="erin", **env)
    assert done.status == "registered" and done.request_id == first.request_id
    (version,) = _registered(server, "coder-signed")
    assert {t["key"]: t["value"] for t in version["tags"]}["vibe.approval"] == first.request_id
