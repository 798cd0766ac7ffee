"""``vibe policy check|explain``: lint policy files, and show what they decide for one action."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vibe.cli._errors import user_errors

app = typer.Typer(no_args_is_help=True, help="Lint policy files and explain their decisions.")

PolicyFiles = Annotated[
    list[Path],
    typer.Option(
        "--policy", "-p", envvar="VIBE_POLICY", help="policy files, organisation first (repeat the option)"
    ),
]
_LIST_FIELDS = {"paths", "labels", "findings"}
_EFFECT_STYLE = {"allow": "bold green", "deny": "bold red", "require_approval": "bold yellow"}


@app.command("check")
def check(files: Annotated[list[Path], typer.Argument(help="policy files, organisation first")]) -> None:
    """Validate FILES and the set they form; print every problem as FILE:LINE: FIELD: ... (exit 2 if any)."""
    from policies import check_policies
    from vibe.core.log import console

    with user_errors():
        result = check_policies(files)
    for error in result.errors:
        for line in str(error).splitlines():
            console.print(f"[bold red]error:[/] {line}", highlight=False, markup=True, soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, markup=True, soft_wrap=True)
    if result.policies is None:
        problems = sum(len(e.problems) for e in result.errors)
        console.print(f"{problems} problem(s) in {len(result.errors)} file(s)", highlight=False)
        raise typer.Exit(2)
    for source in result.policies.sources:
        typer.echo(f"ok {source.path} (policy {source.policy.name}, sha256 {source.sha256})")


@app.command("explain")
def explain(
    action: Annotated[
        list[str],
        typer.Argument(
            help="KIND key=value ... (lists comma-separated, metrics.NAME=VALUE), or a JSON/YAML file of an Action",
            metavar="ACTION...",
        ),
    ],
    policy: PolicyFiles,
    usage: Annotated[
        Path | None, typer.Option(help="YAML/JSON of today's usage: {teams: {NAME: {gpu_hours: ..}}}")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the decision as JSON")] = False,
) -> None:
    """Evaluate one ACTION against the policy files and print the decision, the rules that fired and why."""
    from policies import Usage, load_policies
    from vibe.core.config import load_yaml

    with user_errors():
        policies = load_policies(policy)
        parsed = parse_action(action)
        snapshot = load_yaml(usage, Usage) if usage is not None else None
        decision = policies.evaluate(parsed, usage=snapshot)
    if as_json:
        typer.echo(
            json.dumps(
                {"action": parsed.model_dump(mode="json", exclude_defaults=True), **decision.to_json()},
                indent=2,
            )
        )
        return
    from rich.console import Console

    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[{_EFFECT_STYLE[decision.effect]}]{decision.effect}[/]  {parsed.kind}")
    out.print(f"rules:   {', '.join(decision.rules)}")
    out.print(f"reason:  {decision.reason}")
    others = [f for f in decision.findings if f.rule not in decision.rules]
    for finding in others:
        out.print(f"  also fired ({finding.effect}): {finding.rule}: {finding.reason}")
    for need in decision.approvals:
        out.print(f"approval: {need.rule} by a member of {', '.join(need.approvers)}")
    if decision.labels:
        out.print(f"labels:  {', '.join(decision.labels)}")
    for key, handling in decision.obligations.items():
        out.print(f"obligation: {handling} {key.replace('_', ' ')}")
    for path, digest in decision.policy_hashes.items():
        out.print(f"policy:  {path} sha256 {digest}")


def parse_action(tokens: list[str]) -> Any:
    """An Action from ``["train.run", "gpu_hours=4", "paths=/a,/b", "metrics.val_bpb=1.1"]`` or ``[FILE]``."""
    from policies import Action
    from vibe.core.config import load_yaml, validate
    from vibe.core.errors import UserError

    if len(tokens) == 1 and Path(tokens[0]).suffix in {".json", ".yaml", ".yml"}:
        return load_yaml(tokens[0], Action)
    kind, *pairs = tokens
    data: dict[str, Any] = {"kind": kind}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UserError(f"{pair!r}: attributes are key=value (e.g. gpu_hours=4, paths=/srv/a,/srv/b)")
        if key.startswith("metrics."):
            data.setdefault("metrics", {})[key.removeprefix("metrics.")] = value
        elif key in _LIST_FIELDS:
            data.setdefault(key, []).extend(v for v in value.split(",") if v)
        elif key in Action.model_fields and key != "kind":
            data[key] = value
        else:
            allowed = ", ".join(f for f in Action.model_fields if f != "kind")
            raise UserError(f"{key!r} is not an action attribute; allowed: {allowed}, metrics.NAME")
    return validate(Action, data, source="<command line action>")
