"""Server lifecycle helpers that need no vLLM: status, stale pid files, refusals before any install."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vibe.core.errors import UserError
from vibe.llm import (
    ServerConfig,
    VllmEnv,
    check_cpu_servable,
    ensure_server,
    has_gpu,
    serve,
    server_status,
    start_process,
    stop_server,
)

if TYPE_CHECKING:
    from tests.vibe.llm.conftest import StubLLM


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[int]:
    """A real HTTP server that is not an LLM server (404 on /v1/models); yields its port."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_status_of_an_empty_port_is_not_answering(tmp_cache: Path, closed_port: int) -> None:
    status = server_status(port=closed_port)
    assert (status.answering, status.models, status.pid) == (False, [], None)


def test_status_lists_the_models_of_a_server_that_answers(tmp_cache: Path, stub: StubLLM) -> None:
    port = int(stub.url.split(":")[2].split("/")[0])
    status = server_status(port=port)
    assert status.answering and status.models == ["stub-model", "other-model"]
    assert status.pid is None  # not started by Vibe


def test_stop_ignores_a_pid_file_naming_another_program(tmp_cache: Path, closed_port: int) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = tmp_cache / "vllm" / f"server-{closed_port}.pid"
        pid_file.parent.mkdir(parents=True)
        pid_file.write_text(f"{other.pid}\n")
        assert stop_server(port=closed_port, grace_s=1) is None
        assert other.poll() is None  # still running: it is not a vLLM server
        assert not pid_file.exists()
    finally:
        other.kill()
        other.wait()


def test_serve_returns_a_server_that_already_answers(tmp_cache: Path, stub: StubLLM) -> None:
    port = int(stub.url.split(":")[2].split("/")[0])
    status = serve(ServerConfig(port=port))
    assert status.answering and status.models[0] == "stub-model"
    assert not (tmp_cache / "vllm" / "venv").exists()  # nothing installed


def test_serve_refuses_a_port_taken_by_another_program(tmp_cache: Path, file_server: int) -> None:
    with pytest.raises(UserError, match=f"port {file_server} .* not an LLM server"):
        serve(ServerConfig(port=file_server))
    assert not (tmp_cache / "vllm" / "venv").exists()


def test_serve_rejects_a_model_directory_without_config(
    tmp_cache: Path, closed_port: int, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match=r"no config\.json"):
        serve(ServerConfig(port=closed_port, model=tmp_path))
    assert not (tmp_cache / "vllm" / "venv").exists()


@pytest.mark.skipif(has_gpu(), reason="the check is vLLM CPU's; a GPU machine serves these head sizes")
def test_serve_on_cpu_refuses_a_head_size_vllm_cpu_attention_lacks(
    tmp_cache: Path, closed_port: int, tmp_path: Path
) -> None:
    """vLLM CPU would start this model, then die on the first request; serve refuses it before any install."""
    config = {"architectures": ["MixtralForCausalLM"], "hidden_size": 64, "num_attention_heads": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match=r"head size 16 .* CPU attention supports \(32, 64, .*GPU"):
        serve(ServerConfig(port=closed_port, model=tmp_path))
    assert not (tmp_cache / "vllm" / "venv").exists()
    (tmp_path / "config.json").write_text(json.dumps({**config, "head_dim": 32}))  # head_dim wins
    assert check_cpu_servable(tmp_path) == tmp_path


def _no_vllm(venv: Path) -> VllmEnv:
    """This python as the server's: it has no vllm package, so the server process exits at once with an
    import error."""
    return VllmEnv(
        venv=venv, python=Path(sys.executable), package="none", vllm_version="0", installed_at="", seconds=0
    )


def test_a_server_that_dies_while_starting_shows_its_log(
    tmp_cache: Path, closed_port: int, tmp_path: Path
) -> None:
    env = _no_vllm(tmp_path)
    with pytest.raises(UserError, match=r"exited while starting(.|\n)*No module named"):
        start_process(ServerConfig(port=closed_port), env=env, model_dir=tmp_path)
    assert not (tmp_cache / "vllm" / f"server-{closed_port}.pid").exists()


def test_a_server_started_without_waiting_reports_its_failure_to_the_call_that_waits(
    tmp_cache: Path, closed_port: int, tmp_path: Path
) -> None:
    env = _no_vllm(tmp_path)
    started = start_process(ServerConfig(port=closed_port), env=env, model_dir=tmp_path, wait=False)
    assert not started.answering and (tmp_cache / "vllm" / f"server-{closed_port}.log").is_file()
    with pytest.raises(UserError, match=r"exited while starting(.|\n)*No module named"):
        start_process(ServerConfig(port=closed_port), env=env, model_dir=tmp_path)
    assert not (tmp_cache / "vllm" / f"server-{closed_port}.pid").exists()


def test_ensure_server_uses_what_answers_at_the_url(stub: StubLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIBE_LLM_MODEL", raising=False)
    endpoint = ensure_server(url=stub.url)
    assert (endpoint.url, endpoint.model) == (stub.url, "stub-model")


def test_ensure_server_takes_the_model_from_the_environment(
    stub: StubLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIBE_LLM_MODEL", "other-model")
    assert ensure_server(url=stub.url).model == "other-model"
