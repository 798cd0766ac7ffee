"""``vibe llm install | serve | status | stop``: the local vLLM server the agent talks to (vibe/llm)."""

from __future__ import annotations

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
    from vibe.llm import server_status

    info = server_status(port=_port(port))
    state = "answering" if info.answering else "not answering"
    typer.echo(f"{info.url}: {state}")
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


def _duration(seconds: float | None) -> str:
    total = int(seconds or 0)
    hours, rest = divmod(total, 3600)
    return f"{hours}h{rest // 60:02d}m{rest % 60:02d}s" if hours else f"{rest // 60}m{rest % 60:02d}s"
