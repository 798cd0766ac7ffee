"""``vibe llm install | serve | status | stop | tune-agent``: the local vLLM server the agent talks to
(vibe/llm), and the agent's own model tuned here (tools/agentmodel with the intake task of vibe.agent)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vibe.cli._errors import user_errors

app = typer.Typer(
    no_args_is_help=True, help="Install, run and stop the local vLLM server (OpenAI-compatible)."
)

Port = Annotated[
    int | None,
    typer.Option("--port", "-p", help="port on 127.0.0.1 (default: $VIBE_LLM_URL's port, else 8000)"),
]


def _port(port: int | None) -> int:
    from vibe.llm import configured_port

    return port if port is not None else configured_port()


@app.command()
def install(force: Annotated[bool, typer.Option(help="remove the venv and install again")] = False) -> None:
    """Install vLLM into its own venv under the cache and convert the default model (SmolLM2-135M-Instruct)."""
    from vibe.core.log import console, setup_logging
    from vibe.llm import install_vllm, prepare_default_model

    setup_logging()
    with user_errors():
        env = install_vllm(force=force)
        model = prepare_default_model(python=env.python)
    console.print(f"vLLM {env.vllm_version} ({env.package}) in {env.venv}")
    console.print(f"default model: {model}")


@app.command()
def serve(
    port: Port = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="a Hugging Face model directory, or a released model NAME@ALIAS (e.g. coder@production)"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option("--served-model-name", help="the name clients ask for")] = None,
    max_model_len: Annotated[int, typer.Option(help="context length")] = 4096,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the server to answer")] = 600.0,
) -> None:
    """Start the local vLLM server in the background (installing it first if needed) and print its URL."""
    from vibe.core.config import validate
    from vibe.core.log import setup_logging
    from vibe.llm import ServerConfig
    from vibe.llm import serve as start

    setup_logging()
    with user_errors():
        if model is not None:
            from vibe.tracking import model_path

            model = str(model_path(model))
        options = {
            "port": _port(port),
            "model": model,
            "served_model_name": name,
            "max_model_len": max_model_len,
        }
        config = validate(ServerConfig, {**options, "startup_timeout_s": timeout}, source="vibe llm serve")
        status = start(config)
    typer.echo(status.url)


@app.command()
def status(port: Port = None) -> None:
    """Whether the server answers, which model, its pid and uptime. Exits 1 if nothing answers."""
    from vibe.llm import registered_agent_model, server_status

    info = server_status(port=_port(port))
    state = "answering" if info.answering else "not answering"
    typer.echo(f"{info.url}: {state}")
    tuned = registered_agent_model()
    if tuned is None:
        typer.echo("agent model: the base SmolLM2-135M-Instruct (no tuned model registered)")
    else:
        served = info.model_dir is not None and Path(info.model_dir).resolve() == tuned.path.resolve()
        where = (
            "served here"
            if served
            else "registered, not what this server serves (restart it: vibe llm stop; vibe llm serve)"
        )
        typer.echo(f"agent model: tuned {tuned.path} as {tuned.name!r} ({where}; from {tuned.base})")
    if info.models:
        typer.echo(f"model: {', '.join(info.models)}")
    if info.model_dir is not None:
        typer.echo(f"serving: {info.model_dir} (weights sha256 {info.model_sha256})")
    if info.pid is not None:
        uptime = f", up {_duration(info.uptime_s)}" if info.uptime_s is not None else ""
        typer.echo(f"pid: {info.pid}{uptime}")
    if info.log_file is not None:
        typer.echo(f"log: {info.log_file}")
    if not info.answering:
        raise typer.Exit(1)


@app.command()
def stop(
    port: Port = None,
    grace: Annotated[float, typer.Option(help="seconds between SIGTERM and SIGKILL")] = 30.0,
) -> None:
    """Stop the server `vibe llm serve` started on this port."""
    from vibe.core.log import setup_logging
    from vibe.llm import stop_server

    setup_logging()
    port = _port(port)
    pid = stop_server(port=port, grace_s=grace)
    typer.echo(
        f"stopped vLLM (pid {pid})" if pid is not None else f"no vLLM server of Vibe's runs on port {port}"
    )


@app.command("tune-agent")
def tune_agent(
    out: Annotated[Path, typer.Option(help="work directory: every stage's output, kept and reused")] = Path(
        "runs/agent-model"
    ),
    base: Annotated[
        Path | None, typer.Option(help="HF directory of the base model (default: SmolLM2)")
    ] = None,
    examples: Annotated[int | None, typer.Option(help="labelled requests for SFT")] = None,
    sft_steps: Annotated[int | None, typer.Option(help="SFT optimizer steps (0: none)")] = None,
    rl_steps: Annotated[int | None, typer.Option(help="RL steps (0: none)")] = None,
    paraphrases: Annotated[
        int | None,
        typer.Option(help="requests the served LLM rewords (0: none; $VIBE_LLM_URL or the default)"),
    ] = None,
    held_out: Annotated[
        list[Path] | None,
        typer.Option(help="evaluation sets to keep out (default: every bench/data/intake_*.jsonl)"),
    ] = None,
    register: Annotated[bool, typer.Option(help="make the result the agent's model")] = True,
) -> None:
    """Post-train the agent's model on its intake task: import, data, SFT, RL, export, register (resumable)."""
    from tools.agentmodel import TuneConfig, tune_model
    from vibe.agent import intake_task
    from vibe.core.log import console, setup_logging

    setup_logging()
    config = TuneConfig(out=out, base_model=base, held_out=held_out or [], make_agent_model=register)
    updates: dict[str, object] = {}
    if examples is not None:
        updates["examples"] = examples
    if paraphrases is not None:
        updates["paraphrases"] = paraphrases
    config = config.model_copy(update=updates)
    if sft_steps is not None:
        config = config.model_copy(update={"sft": config.sft.model_copy(update={"steps": sft_steps})})
    if rl_steps is not None:
        config = config.model_copy(update={"rl": config.rl.model_copy(update={"steps": rl_steps})})
    with user_errors():
        result = tune_model(config, task=intake_task())
    stages = result.summary["stages"]
    data = stages.get("data", {})
    console.print(f"data: {data.get('sft_records')} SFT / {data.get('rl_records')} RL examples "
                  f"({data.get('paraphrase', {}).get('kept', 0)} paraphrases), "
                  f"overlap with the held-out sets {data.get('overlap')}")  # fmt: skip
    console.print(
        f"export: {result.export} (parity: logits max abs diff {stages['export'].get('logits_max_abs_diff')})"
    )
    console.print(f"report: {result.report}")


@app.command("use-base")
def use_base() -> None:
    """Forget the tuned agent model: `vibe llm serve` serves the base SmolLM2 again (the export is kept)."""
    from vibe.llm import unregister_agent_model

    was = unregister_agent_model()
    typer.echo("the agent's model is the base SmolLM2-135M-Instruct" + ("" if was else " (it already was)"))


def _duration(seconds: float | None) -> str:
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
