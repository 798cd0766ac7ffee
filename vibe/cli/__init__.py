"""The ``vibe`` command. Each command group lives in its own module; heavy imports happen inside commands."""

from __future__ import annotations

import typer

from vibe.cli import (
    _agent,
    _approvals,
    _audit,
    _data,
    _demo,
    _eval,
    _hpo,
    _llm,
    _loop,
    _policy,
    _synth,
    _train,
)

__all__ = ["app", "approvals_app", "audit_app", "llm_app", "main", "policy_app"]

# the command groups on their own (tests drive them without the top-level app)
approvals_app, audit_app, llm_app, policy_app = _approvals.app, _audit.app, _llm.app, _policy.app

app = typer.Typer(
    name="vibe",
    help="Vibe trains language models on your own data, on your own machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("run")(_agent.run)
app.command("chat")(_agent.chat)
app.command("resume")(_agent.resume)
app.command("loop")(_loop.loop)
app.command("demo")(_demo.demo)
app.add_typer(_data.app, name="data", help="Ingest, profile and tokenize code and document archives.")
app.command("train")(_train.train)
app.command("hpo")(_hpo.hpo)
app.command("eval")(_eval.eval_run)
app.command("synth")(_synth.synth)
app.add_typer(_llm.app, name="llm", help="The locally served LLM (vLLM): serve, status, stop.")
app.add_typer(_policy.app, name="policy", help="Check policy files and explain decisions.")
app.add_typer(
    _approvals.app,
    name="approvals",
    help="Approval requests: list, show, approve, reject, sign, serve the approvals page.",
)
app.add_typer(_audit.app, name="audit", help="Verify, show and export the decision ledger.")


def main() -> None:
    import warnings

    # Megatron announces at import that TransformerEngine and apex are absent; on CPU that is expected.
    warnings.filterwarnings(
        "ignore", message=".*(Transformer Engine|Apex) (and Apex )?(is|are) not installed"
    )
    app()
