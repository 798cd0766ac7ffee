"""Release: a run's evaluation judged against the policy's gates, then registered as an MLflow model version
with its full lineage. The ``release`` / ``release_check`` tools, ``vibe model release`` and the agent's
release step all come here.

:func:`release_attributes` is what the gate judges (``model.release``): the metrics of ``RUN_DIR/eval.json``
and the data the run was trained on. :func:`release_run` asks the gate, records its decision in the ledger,
and then:

* deny (a gate fails, a rule denies): :class:`ReleaseDenied` naming each failing metric, its value and the
  threshold; nothing is registered.
* require_approval: :class:`ReleaseNeedsApproval` carrying the gate's decision; the caller files (or finds)
  the approval request (``vibe.approvals``, a layer above this one) and calls again with a gate that knows
  the approval (``policies.ApprovedGate``, or the agent's cleared step).
* allow (or approved): registers a version of ``name`` with tags and artifacts: run config, eval JSON,
  data manifests and tokenizer hashes, the export's file hashes (when the run has an HF export), the
  policy files' hashes, the approval, and the ledger head at release time; sets the aliases.

:func:`check_release` judges the same action and reports, registering nothing (the agent's
"does it pass our release gates?"). :func:`suites_for` names the evaluation suites that compute the metrics a
policy gates on.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from policies import Gate, GateDecision, PolicySet
from tools.eval import find_export
from vibe.core.errors import UserError
from vibe.tracking import ModelVersionInfo, TrackingConfig, register_model

if TYPE_CHECKING:
    from vibe.ledger import Ledger

__all__ = [
    "SUITE_OF_METRIC",
    "ReleaseCheck",
    "ReleaseDenied",
    "ReleaseNeedsApproval",
    "ReleaseResult",
    "check_release",
    "gated_metrics",
    "release_attributes",
    "release_run",
    "suites_for",
]

log = logging.getLogger(__name__)

# The evaluation suite (tools.eval.SUITES) that computes each metric an example policy gates on.
SUITE_OF_METRIC: dict[str, str] = {
    "val_bpb": "heldout",
    "val_loss": "heldout",
    "pii_leak_rate": "policy",
    "secret_leak_rate": "policy",
    "policy_violation_rate": "policy",
    "code_pass_at_1": "code",
    "code_parse_rate": "code",
    "canary_exposure_max": "memorisation",
    "canary_extraction_rate": "memorisation",
    "regurgitation_rate": "memorisation",
}


class ReleaseDenied(UserError):
    """The policy refused the release (or its approval was rejected); ``failures`` lists why."""

    def __init__(self, message: str, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(message)


class ReleaseNeedsApproval(UserError):
    """The policy reserves this release for an approver: ``decision`` is what to file the request from."""

    def __init__(self, message: str, decision: GateDecision) -> None:
        self.decision = decision
        super().__init__(message)


@dataclass(frozen=True)
class ReleaseResult:
    status: Literal["registered", "pending"]
    action: dict[str, Any]
    version: ModelVersionInfo | None = None
    request_id: str | None = None
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleaseCheck:
    """The gates' verdict on a run's evaluation (nothing registered)."""

    run_dir: Path
    outcome: Literal["allow", "deny", "require_approval"]
    metrics: dict[str, float]
    failures: list[str]
    reason: str
    rule_ids: list[str]

    @property
    def passed(self) -> bool:
        return self.outcome != "deny"

    def summary(self) -> str:
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(self.metrics.items()))
        if self.outcome == "deny":
            return f"{self.run_dir} fails the release gates: " + "; ".join(self.failures) + f" ({shown})"
        tail = f"; a release needs approval: {self.reason}" if self.outcome == "require_approval" else ""
        return f"{self.run_dir} passes the release gates ({shown}){tail}"


def gated_metrics(policies: PolicySet) -> list[str]:
    """The metrics the evaluation gates of ``policies`` read, in file order."""
    names = [g.metric for s in policies.sources if s.policy.evaluation for g in s.policy.evaluation.gates]
    return list(dict.fromkeys(names))


def suites_for(metrics: Iterable[str]) -> list[str]:
    """The evaluation suites that compute ``metrics`` (``heldout`` always first); unknown metrics add none."""
    wanted = [SUITE_OF_METRIC[m] for m in metrics if m in SUITE_OF_METRIC]
    return list(dict.fromkeys(["heldout", *wanted]))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _evaluation(run_dir: Path) -> tuple[dict[str, Any], dict[str, float]]:
    eval_path = run_dir / "eval.json"
    if not eval_path.is_file():
        raise UserError(
            f"{eval_path}: missing; evaluate the run first (`vibe eval {run_dir} --suite memorisation,code,policy`)"
        )
    evaluation = json.loads(eval_path.read_text(encoding="utf-8"))
    metrics = dict(evaluation.get("metrics") or {})
    metrics.setdefault("val_bpb", evaluation["valid"]["bpb"])
    metrics.setdefault("val_loss", evaluation["valid"]["loss"])
    return evaluation, metrics


def _data_paths(run_dir: Path) -> list[str]:
    from trainers import RunConfig
    from vibe.core.config import load_yaml

    config = load_yaml(run_dir / "config.yaml", RunConfig)
    return [str(Path(s.path).resolve()) for s in config.data.sources]


def release_attributes(run_dir: str | Path) -> dict[str, Any]:
    """What the gate judges for releasing ``run_dir``: its data (``paths``) and its evaluation (``metrics``)."""
    run_dir = Path(run_dir).resolve()
    _, metrics = _evaluation(run_dir)
    return {"paths": _data_paths(run_dir), "metrics": metrics}


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
                "path": str(Path(source.path).resolve()),
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


def _record(ledger: Ledger | None, thread_id: str, *, inputs: Any, **fields: Any) -> None:
    if ledger is None:
        return
    from vibe.ledger import Record, digest

    ledger.append(Record(thread_id=thread_id, inputs_hash=digest(inputs), **fields))


def _judge(
    gate: Gate | None, attributes: dict[str, Any], *, ledger: Ledger | None, thread_id: str
) -> GateDecision | None:
    if gate is None:
        return None
    decision = gate.check(kind="model.release", attributes=attributes)
    _record(
        ledger, thread_id, actor="policy", kind="gate", action="model.release", inputs=attributes,
        outputs={"effect": decision.outcome, "rules": decision.rule_ids, "reason": decision.reason},
        reason=decision.reason, policy_hashes=dict(decision.policy_hashes), rule_ids=list(decision.rule_ids),
        outcome=decision.outcome,
    )  # fmt: skip
    return decision


def _failures(decision: GateDecision) -> list[str]:
    return [r for r in decision.reason.split("; ") if r] or [decision.reason]


def check_release(
    run_dir: str | Path, *, gate: Gate | None, ledger: Ledger | None = None, thread_id: str = "cli-release"
) -> ReleaseCheck:
    """Judge releasing ``run_dir`` (its eval.json) against the gates; records the decision, registers nothing."""
    run_dir = Path(run_dir).resolve()
    attributes = release_attributes(run_dir)
    decision = _judge(gate, attributes, ledger=ledger, thread_id=thread_id)
    if decision is None:
        return ReleaseCheck(run_dir, "allow", attributes["metrics"], [], "no policy: no gates", [])
    return ReleaseCheck(
        run_dir,
        decision.outcome,
        attributes["metrics"],
        _failures(decision) if decision.outcome == "deny" else [],
        decision.reason,
        list(decision.rule_ids),
    )


def _refuse_unless_allowed(decision: GateDecision | None, *, run_dir: Path, name: str) -> None:
    """A denied release names each failed gate (metric, value, threshold); one needing approval says whose."""
    if decision is not None and decision.outcome == "deny":
        failures = _failures(decision)
        raise ReleaseDenied(
            f"release of {run_dir} as {name} denied: " + "; ".join(failures) + "; nothing was registered",
            failures,
        )
    if decision is not None and decision.outcome == "require_approval":
        raise ReleaseNeedsApproval(
            f"release of {run_dir} as {name} needs approval ({', '.join(decision.rule_ids)}): {decision.reason}",
            decision,
        )


def _tags(
    run_dir: Path, lineage: dict[str, Any], *, approval: str | None, metrics: dict[str, float]
) -> dict[str, str]:
    """The lineage as registry tags (empty values left out)."""
    export = lineage["export"]
    tags = {
        "vibe.run_dir": str(run_dir),
        "vibe.export_dir": export["dir"] if export else "",
        "vibe.export_sha256": export["sha256"] if export else "",
        "vibe.config_sha256": lineage["config_sha256"],
        "vibe.eval_sha256": lineage["eval_sha256"],
        "vibe.checkpoint_step": str(lineage["checkpoint_step"]),
        "vibe.ledger_head": lineage["ledger_head"] or "",
        "vibe.approval": approval or "",
        **{f"vibe.data.{i}.manifest_sha256": d["manifest_sha256"] for i, d in enumerate(lineage["data"])},
        **{f"vibe.data.{i}.tokenizer_sha256": d["tokenizer_sha256"] for i, d in enumerate(lineage["data"])},
        **{f"vibe.policy.{Path(p).name}": h for p, h in lineage["policy_hashes"].items()},
        **{f"vibe.metric.{k}": f"{v:.6g}" for k, v in metrics.items()},
    }
    return {k: v for k, v in tags.items() if v}


def _artifacts(run_dir: Path, lineage: dict[str, Any], lineage_path: Path) -> dict[str, Path]:
    """The files registered with the version: config, evaluation, lineage and each data manifest."""
    files = {
        "config.yaml": run_dir / "config.yaml",
        "eval.json": run_dir / "eval.json",
        "lineage.json": lineage_path,
    }
    for i, d in enumerate(lineage["data"]):
        files[f"data/{i}/manifest.json"] = Path(d["path"]) / "manifest.json"
    return files


def release_run(
    run_dir: str | Path,
    *,
    name: str,
    gate: Gate | None,
    ledger: Ledger | None = None,
    thread_id: str | None = None,
    aliases: Sequence[str] = ("staging",),
    export_dir: str | Path | None = None,
    approval: str | None = None,
    tracking: TrackingConfig | None = None,
) -> ReleaseResult:
    """Judge, then register; see the module docstring. ``approval``: the id of the request that approved it
    (recorded in the lineage)."""
    run_dir = Path(run_dir).resolve()
    thread = thread_id or f"release-{name}"
    evaluation, metrics = _evaluation(run_dir)
    export = Path(export_dir).resolve() if export_dir else find_export(run_dir)
    lineage = _lineage(run_dir, evaluation, export)
    attributes = {"paths": [d["path"] for d in lineage["data"]], "metrics": metrics}
    decision = _judge(gate, attributes, ledger=ledger, thread_id=thread)
    _refuse_unless_allowed(decision, run_dir=run_dir, name=name)
    action = (decision.action if decision is not None else None) or {"kind": "model.release", **attributes}
    policy_hashes = dict(decision.policy_hashes) if decision is not None else {}
    head = ledger.head() if ledger is not None else None
    lineage |= {
        "policy_hashes": policy_hashes,
        "ledger_head": str(head) if head else None,
        "approval": approval,
        "gate": decision.reason if decision is not None else "no policy in force",
        "released_at": datetime.now(UTC).isoformat(),
        "metrics": metrics,
    }
    lineage_path = run_dir / "release" / f"{name}.lineage.json"
    lineage_path.parent.mkdir(parents=True, exist_ok=True)
    lineage_path.write_text(json.dumps(lineage, indent=2), encoding="utf-8")
    version = register_model(
        name=name,
        files=_artifacts(run_dir, lineage, lineage_path),
        tags=_tags(run_dir, lineage, approval=approval, metrics=metrics),
        aliases=aliases,
        description=f"Vibe release of {run_dir}",
        config=tracking,
    )
    _record(
        ledger, thread, actor="tool", kind="tool_result", action="model.release", inputs=action,
        outputs={"name": name, "version": version.version, "aliases": list(aliases), "source": version.source},
        reason=f"registered {name} version {version.version}", policy_hashes=policy_hashes, outcome="registered",
    )  # fmt: skip
    log.info("released %s version %s (%s)", name, version.version, ", ".join(aliases))
    return ReleaseResult("registered", action, version=version, request_id=approval, lineage=lineage)
