"""The llm tier: the client and the lifecycle commands against the real vLLM server serving SmolLM2-135M.

The ``llm_server`` fixture installs vLLM and converts the model if needed, and starts the server; if that
cannot be done the tests fail with the install or start-up error (they are never skipped).
"""

from __future__ import annotations

import json
from typing import Literal
from urllib.parse import urlparse

import pytest
from pydantic import BaseModel, Field
from typer.testing import CliRunner

from vibe.cli import llm_app as app
from vibe.llm import (
    DEFAULT_MODEL_NAME,
    Endpoint,
    LLMConfig,
    OpenAIChatModel,
    default_model_dir,
    server_status,
)

pytestmark = pytest.mark.llm


class Step(BaseModel):
    tool: Literal["profile_data", "train", "evaluate"]
    reason: str = Field(max_length=200)


def _model(endpoint: Endpoint, *, max_tokens: int) -> OpenAIChatModel:
    return OpenAIChatModel(LLMConfig(url=endpoint.url, model=endpoint.model, max_tokens=max_tokens))


def test_the_server_serves_the_default_model(llm_server: Endpoint) -> None:
    assert llm_server.model == DEFAULT_MODEL_NAME


def test_the_converted_model_keeps_its_tokenizer_and_chat_template(llm_server: Endpoint) -> None:
    model_dir = default_model_dir()
    assert (model_dir / "model.safetensors").stat().st_size > 100_000_000
    assert "<|im_start|>" in (model_dir / "chat_template.jinja").read_text()
    assert "quantization_config" not in json.loads((model_dir / "config.json").read_text())


def test_complete_returns_text(llm_server: Endpoint) -> None:
    model = _model(llm_server, max_tokens=24)
    text = model.complete([{"role": "user", "content": "Say hello in one short sentence."}])
    assert text.strip()
    assert 0 < model.usage.completion_tokens <= 24
    assert model.usage.prompt_tokens > 0


def test_structured_returns_a_valid_object_under_guided_decoding(llm_server: Endpoint) -> None:
    model = _model(llm_server, max_tokens=96)
    result = model.structured(
        [
            {"role": "system", "content": "You choose the next tool. Answer with a JSON object."},
            {
                "role": "user",
                "content": "We have a new dataset nobody has looked at. Which tool first, and why?",
            },
        ],
        Step,
    )
    assert result.error is None, result.raw
    assert isinstance(result.value, Step)
    assert result.finish_reason == "stop"


def test_status_stop_and_serve_again(llm_server: Endpoint) -> None:
    runner = CliRunner()
    number = urlparse(llm_server.url).port
    assert number is not None
    port = ["--port", str(number)]

    before = runner.invoke(app, ["status", *port])
    assert before.exit_code == 0, before.output
    assert "answering" in before.output and f"model: {DEFAULT_MODEL_NAME}" in before.output
    old_pid = server_status(port=number).pid
    assert old_pid is not None and f"pid: {old_pid}" in before.output

    stopped = runner.invoke(app, ["stop", *port])
    assert stopped.exit_code == 0 and f"stopped vLLM (pid {old_pid})" in stopped.output
    after = runner.invoke(app, ["status", *port])
    assert after.exit_code == 1 and "not answering" in after.output
    assert server_status(port=number).pid is None

    served = runner.invoke(app, ["serve", *port, "--model", str(default_model_dir())])  # not a tuned one
    assert served.exit_code == 0, served.output
    assert served.output.strip().endswith(f"http://127.0.0.1:{number}/v1")
    again = server_status(port=number)
    assert again.answering and again.pid not in (None, old_pid)
