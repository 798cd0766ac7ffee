"""The agent tools ``release`` (judge, then register a model version) and ``release_check`` (judge only).

Both ask the gate in the tool's context (``model.release`` with the run's evaluation metrics) and record its
decision in the context's ledger. ``release`` raises on a deny (naming metric, value and threshold) and on an
approval the caller has not cleared; ``release_check`` reports the verdict as its result.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.registry import Tool, ToolArgs, ToolContext, ToolError, register

__all__ = ["ReleaseArgs", "ReleaseCheckArgs", "ReleaseCheckResult", "ReleaseToolResult"]


class ReleaseArgs(ToolArgs):
    run_dir: str = Field(description="a trained run directory with an eval.json")
    name: str = Field(min_length=1, description="the registered model's name")
    aliases: list[str] = Field(default_factory=lambda: ["staging"])
    export_dir: str | None = Field(default=None, description="its HF export; None: RUN_DIR/export if any")
    approval: str | None = Field(default=None, description="the approval request that cleared it, if any")
    tracking_uri: str | None = Field(
        default=None, description="MLflow; None: $MLFLOW_TRACKING_URI or embedded"
    )


class ReleaseToolResult(BaseModel):
    name: str
    version: str
    aliases: list[str]
    source: str
    lineage: str = Field(description="RUN_DIR/release/NAME.lineage.json")
    metrics: dict[str, float]
    summary: str


class ReleaseCheckArgs(ToolArgs):
    run_dir: str = Field(description="a trained run directory with an eval.json")


class ReleaseCheckResult(BaseModel):
    run_dir: str
    passed: bool
    outcome: str
    metrics: dict[str, float]
    failures: list[str] = Field(description="each failing gate: metric, value and threshold")
    rule_ids: list[str]
    summary: str


def _release(args: ReleaseArgs, context: ToolContext) -> ReleaseToolResult:
    from pathlib import Path

    from tools.release._release import ReleaseNeedsApproval, release_run
    from vibe.tracking import TrackingConfig

    try:
        result = release_run(
            args.run_dir, name=args.name, gate=context.gate, ledger=context.ledger, thread_id=context.thread_id,
            aliases=args.aliases, export_dir=args.export_dir, approval=args.approval,
            tracking=TrackingConfig(uri=args.tracking_uri),
        )  # fmt: skip
    except ReleaseNeedsApproval as error:
        raise ToolError(f"release: {error}; file the approval first (the agent's gate does)") from None
    version = result.version
    assert version is not None
    return ReleaseToolResult(
        name=version.name,
        version=version.version,
        aliases=list(version.aliases or args.aliases),
        source=version.source,
        lineage=str(Path(args.run_dir).resolve() / "release" / f"{args.name}.lineage.json"),
        metrics=result.lineage["metrics"],
        summary=f"registered {version.name} version {version.version} ({', '.join(args.aliases)})",
    )


def _check(args: ReleaseCheckArgs, context: ToolContext) -> ReleaseCheckResult:
    from tools.release._release import check_release

    check = check_release(args.run_dir, gate=context.gate, ledger=context.ledger, thread_id=context.thread_id)
    return ReleaseCheckResult(
        run_dir=str(check.run_dir),
        passed=check.passed,
        outcome=check.outcome,
        metrics=check.metrics,
        failures=check.failures,
        rule_ids=check.rule_ids,
        summary=check.summary(),
    )


register(
    Tool(
        name="release",
        description=(
            "Release an evaluated run: judged against the policy's release gates (model.release), then "
            "registered as a model version with its lineage in the organisation's MLflow registry."
        ),
        args=ReleaseArgs,
        result=ReleaseToolResult,
        fn=_release,
    )
)
register(
    Tool(
        name="release_check",
        description="Judge an evaluated run against the policy's release gates and report; registers nothing.",
        args=ReleaseCheckArgs,
        result=ReleaseCheckResult,
        fn=_check,
    )
)
