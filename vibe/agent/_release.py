"""Release: a run's evaluation judged against the policy's gates, approved where the policy asks, then
registered as an MLflow model version with its full lineage (``vibe model release`` and the agent's step).

:func:`release_model` builds the ``model.release`` :class:`policies.Action` from ``RUN_DIR/eval.json``'s
metrics, judges it, and then:

* deny (a gate fails, a rule denies): :class:`ReleaseDenied` naming each failing metric, its value and the
  threshold; nothing is registered.
* require_approval: files an approval request for exactly this action (or finds the one filed before) and
  returns ``status="pending"`` with its id; run it again once the request is approved (a rejected request
  is a :class:`ReleaseDenied`).
* allow (or approved): registers a version of ``name`` with tags and artifacts: run config, eval JSON,
  data manifests and tokenizer hashes, the export's file hashes (when the run has an HF export), the
  policy files' hashes, the approval, and the ledger head at release time; sets the aliases.

Each decision is appended to the ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from policies import Action, load_policies
from tools.eval import find_export
from vibe.core.errors import UserError
from vibe.tracking import ModelVersionInfo, TrackingConfig, register_model

__all__ = ["ReleaseDenied", "ReleaseResult", "find_export", "release_model"]

log = logging.getLogger(__name__)


class ReleaseDenied(UserError):
    """The policy refused the release (or its approval was rejected); ``failures`` lists why."""

    def __init__(self, message: str, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(message)


@dataclass(frozen=True)
class ReleaseResult:
    status: Literal["registered", "pending"]
    action: dict[str, Any]
    version: ModelVersionInfo | None = None
    request_id: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _lineage(run_dir: Path, evaluation: dict[str, Any], export: Path | None) -> dict[str, Any]:
    from trainers import RunConfig
    from vibe.core.config import load_yaml

    config = load_yaml(run_dir / "config.yaml", RunConfig)
    data = []
    for source in config.data.sources:
        manifest_path = Path(source.path) / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        data.append(
            {
                "path": str(source.path),
                "manifest_sha256": _sha256(manifest_path),
                "fingerprint": manifest.get("fingerprint"),
                "tokenizer_sha256": manifest["tokenizer"]["sha256"],
                "canaries": len(manifest.get("canaries", {}).get("values", [])),
            }
        )
    lineage: dict[str, Any] = {
        "run_dir": str(run_dir),
        "config_sha256": _sha256(run_dir / "config.yaml"),
        "eval_sha256": _sha256(run_dir / "eval.json"),
        "checkpoint_step": evaluation.get("step"),
        "data": data,
        "export": None,
    }
    if export is not None:
        files = {str(p.relative_to(export)): _sha256(p) for p in sorted(export.rglob("*")) if p.is_file()}
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
        lineage["export"] = {"dir": str(export), "sha256": digest, "files": files}
    return lineage


def release_model(
    run_dir: str | Path,
    *,
    name: str,
    policy_files: Sequence[str | Path] = (),
    requester: str,
    team: str | None = None,
    aliases: Sequence[str] = ("staging",),
    export_dir: str | Path | None = None,
    approvals_path: str | Path | None = None,
    ledger_path: str | Path | None = None,
    tracking: TrackingConfig | None = None,
) -> ReleaseResult:
    """Judge, (approve,) register; see the module docstring."""
    from vibe.approvals import ApprovalStore, default_store_path
    from vibe.ledger import Record, SqliteLedger, default_ledger_path, digest

    run_dir = Path(run_dir).resolve()
    eval_path = run_dir / "eval.json"
    if not eval_path.is_file():
        raise UserError(
            f"{eval_path}: missing; evaluate the run first (`vibe eval {run_dir} --suite memorisation,code,policy`)"
        )
    evaluation = json.loads(eval_path.read_text(encoding="utf-8"))
    metrics = dict(evaluation.get("metrics") or {})
    metrics.setdefault("val_bpb", evaluation["valid"]["bpb"])
    metrics.setdefault("val_loss", evaluation["valid"]["loss"])
    export = Path(export_dir).resolve() if export_dir else find_export(run_dir)
    lineage = _lineage(run_dir, evaluation, export)
    action = Action(
        kind="model.release",
        requester=requester,
        team=team,
        paths=tuple(d["path"] for d in lineage["data"]),
        metrics=metrics,
    )
    thread = f"release-{name}"
    ledger = SqliteLedger(Path(ledger_path) if ledger_path else default_ledger_path())
    request_id: str | None = None
    policy_hashes: dict[str, str] = {}
    if policy_files:
        policies = load_policies([Path(p) for p in policy_files])
        decision = policies.evaluate(action)
        policy_hashes = dict(decision.policy_hashes)
        ledger.append(
            Record(
                thread_id=thread,
                actor="policy",
                kind="gate",
                action=action.kind,
                inputs_hash=digest(action.model_dump(mode="json")),
                outputs={"effect": decision.effect, "rules": list(decision.rules), "reason": decision.reason},
                reason=decision.reason,
                policy_hashes=policy_hashes,
                rule_ids=list(decision.rules),
                outcome=decision.effect,
            )
        )
        if decision.effect == "deny":
            failures = [f.reason for f in decision.findings if f.effect == "deny"] or [decision.reason]
            raise ReleaseDenied(
                f"release of {run_dir} as {name} denied: " + "; ".join(failures) + "; nothing was registered",
                failures,
            )
        if decision.effect == "require_approval":
            with ApprovalStore(Path(approvals_path) if approvals_path else default_store_path()) as store:
                same = [r for r in store.list() if r.action == action]
                approved = next((r for r in same if r.status == "approved"), None)
                if approved is None:
                    rejected = next((r for r in same if r.status == "rejected"), None)
                    if rejected is not None:
                        raise ReleaseDenied(
                            f"release of {run_dir} as {name}: approval request {rejected.id} was rejected; "
                            "nothing was registered",
                            [f"approval {rejected.id} rejected"],
                        )
                    pending = next((r for r in same if r.status == "pending"), None) or store.request(
                        action=action,
                        decision=decision,
                        thread_id=thread,
                        summary=f"release {run_dir.name} as {name} ({', '.join(aliases)}): "
                        + ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())),
                        ledger=ledger,
                    )
                    log.info("release %s waits for approval %s", name, pending.id)
                    return ReleaseResult("pending", action.model_dump(mode="json"), request_id=pending.id)
                request_id = approved.id
    head = ledger.head()
    lineage |= {
        "policy_hashes": policy_hashes,
        "ledger_head": str(head) if head else None,
        "approval": request_id,
        "released_at": datetime.now(UTC).isoformat(),
        "metrics": metrics,
    }
    lineage_path = run_dir / "release" / f"{name}.lineage.json"
    lineage_path.parent.mkdir(parents=True, exist_ok=True)
    lineage_path.write_text(json.dumps(lineage, indent=2), encoding="utf-8")
    tags = {
        "vibe.run_dir": str(run_dir),
        "vibe.export_dir": lineage["export"]["dir"] if lineage["export"] else "",
        "vibe.export_sha256": lineage["export"]["sha256"] if lineage["export"] else "",
        "vibe.config_sha256": lineage["config_sha256"],
        "vibe.eval_sha256": lineage["eval_sha256"],
        "vibe.checkpoint_step": str(lineage["checkpoint_step"]),
        "vibe.ledger_head": lineage["ledger_head"] or "",
        "vibe.approval": request_id or "",
        **{f"vibe.data.{i}.manifest_sha256": d["manifest_sha256"] for i, d in enumerate(lineage["data"])},
        **{f"vibe.data.{i}.tokenizer_sha256": d["tokenizer_sha256"] for i, d in enumerate(lineage["data"])},
        **{f"vibe.policy.{Path(p).name}": h for p, h in policy_hashes.items()},
        **{f"vibe.metric.{k}": f"{v:.6g}" for k, v in metrics.items()},
    }
    files = {"config.yaml": run_dir / "config.yaml", "eval.json": eval_path, "lineage.json": lineage_path}
    for i, d in enumerate(lineage["data"]):
        files[f"data/{i}/manifest.json"] = Path(d["path"]) / "manifest.json"
    version = register_model(
        name=name,
        files=files,
        tags={k: v for k, v in tags.items() if v},
        aliases=aliases,
        description=f"Vibe release of {run_dir}",
        config=tracking,
    )
    ledger.append(
        Record(
            thread_id=thread,
            actor="tool",
            kind="tool_result",
            action="model.release",
            inputs_hash=digest(action.model_dump(mode="json")),
            outputs={
                "name": name,
                "version": version.version,
                "aliases": list(aliases),
                "source": version.source,
            },
            reason=f"registered {name} version {version.version}",
            policy_hashes=policy_hashes,
            outcome="registered",
        )
    )
    log.info("released %s version %s (%s)", name, version.version, ", ".join(aliases))
    return ReleaseResult(
        "registered", action.model_dump(mode="json"), version=version, request_id=request_id, lineage=lineage
    )
