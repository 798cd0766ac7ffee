"""OpenAIChatModel against a real HTTP server on loopback (the stub in conftest.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import pytest
from pydantic import BaseModel, ValidationError

from vibe.llm import LLMConfig, LLMResponseError, LLMUnavailable, OpenAIChatModel, list_models

if TYPE_CHECKING:
    from tests.vibe.llm.conftest import StubLLM


class Decision(BaseModel):
    action: Literal["train", "eval", "stop"]
    steps: int


ASK = [{"role": "user", "content": "what next?"}]


def _model(url: str, **overrides: object) -> OpenAIChatModel:
    return OpenAIChatModel(LLMConfig(url=url, retry_backoff_s=0.0, **overrides))


def test_complete_returns_the_message_content(stub: StubLLM) -> None:
    stub.reply(content="train for 100 steps")
    assert _model(stub.url).complete(ASK) == "train for 100 steps"


def test_complete_sends_model_messages_and_sampling_settings(stub: StubLLM) -> None:
    _model(stub.url, model="other-model", temperature=0.3, max_tokens=7).complete(ASK)
    sent = stub.requests[0]
    assert (sent["model"], sent["messages"], sent["temperature"], sent["max_tokens"]) == (
        "other-model",
        ASK,
        0.3,
        7,
    )
    assert "response_format" not in sent


def test_model_defaults_to_the_first_listed(stub: StubLLM, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIBE_LLM_MODEL", raising=False)
    assert _model(stub.url).model == "stub-model"


def test_config_reads_url_and_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIBE_LLM_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("VIBE_LLM_MODEL", "my-model")
    config = LLMConfig()
    assert (config.url, config.model) == ("http://127.0.0.1:9/v1", "my-model")


def test_config_rejects_a_url_that_is_not_http() -> None:
    with pytest.raises(ValidationError, match="http"):
        LLMConfig(url="127.0.0.1:8000")


def test_usage_adds_up_tokens_and_calls(stub: StubLLM) -> None:
    stub.reply(prompt_tokens=10, completion_tokens=4)
    stub.reply(prompt_tokens=20, completion_tokens=6)
    model = _model(stub.url)
    model.complete(ASK)
    model.complete(ASK)
    usage = model.usage
    assert (usage.calls, usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (2, 30, 10, 40)
    assert usage.latency_s > 0


def test_structured_asks_for_the_schema_with_guided_decoding(stub: StubLLM) -> None:
    stub.reply(content='{"action": "eval", "steps": 0}')
    _model(stub.url).structured(ASK, Decision)
    response_format = stub.requests[0]["response_format"]
    assert response_format == {
        "type": "json_schema",
        "json_schema": {"name": "Decision", "schema": Decision.model_json_schema(), "strict": True},
    }


def test_structured_returns_the_validated_object_and_its_usage(stub: StubLLM) -> None:
    stub.reply(content='{"action": "train", "steps": 50}', prompt_tokens=30, completion_tokens=9)
    result = _model(stub.url).structured(ASK, Decision)
    assert result.ok
    assert result.value == Decision(action="train", steps=50)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.finish_reason) == (
        30,
        9,
        "stop",
    )


def test_structured_returns_the_validation_error_and_raw_text(stub: StubLLM) -> None:
    raw = '{"action": "deploy", "steps": 1}'
    stub.reply(content=raw)
    result = _model(stub.url).structured(ASK, Decision)
    assert not result.ok
    assert result.value is None
    assert result.raw == raw
    assert result.error is not None and result.error.errors()[0]["loc"] == ("action",)


def test_structured_treats_non_json_text_as_a_validation_failure(stub: StubLLM) -> None:
    stub.reply(content="I think we should train.")
    result = _model(stub.url).structured(ASK, Decision)
    assert result.error is not None and result.raw == "I think we should train."


def test_a_503_is_retried(stub: StubLLM) -> None:
    stub.reply(status=503, body='{"error": "busy"}')
    stub.reply(content="done")
    assert _model(stub.url, max_retries=1).complete(ASK) == "done"
    assert len(stub.requests) == 2


def test_a_500_after_all_retries_names_status_and_body(stub: StubLLM) -> None:
    stub.reply(status=500, body='{"error": "engine died"}', times=3)
    with pytest.raises(LLMResponseError, match=r"HTTP 500.*engine died"):
        _model(stub.url, max_retries=2).complete(ASK)
    assert len(stub.requests) == 3


def test_a_400_is_not_retried_and_names_status_and_body(stub: StubLLM) -> None:
    stub.reply(status=400, body='{"error": "max_tokens is too large"}')
    with pytest.raises(LLMResponseError, match=r"HTTP 400.*max_tokens is too large") as error:
        _model(stub.url, max_retries=3).complete(ASK)
    assert error.value.status == 400
    assert len(stub.requests) == 1


def test_a_body_without_choices_is_a_response_error(stub: StubLLM) -> None:
    stub.reply(body=json.dumps({"object": "chat.completion", "choices": []}))
    with pytest.raises(LLMResponseError, match=r"choices\[0\]\.message\.content"):
        _model(stub.url).complete(ASK)


def test_a_slow_endpoint_times_out_as_unavailable(stub: StubLLM) -> None:
    stub.reply(delay_s=3.0)
    with pytest.raises(LLMUnavailable, match=r"no answer within 0.5 s"):
        _model(stub.url, timeout_s=0.5, max_retries=0).complete(ASK)


def test_an_unreachable_endpoint_names_the_url_and_how_to_fix_it(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    with pytest.raises(LLMUnavailable) as error:
        _model(url, model="m", max_retries=1).complete(ASK)
    message = str(error.value)
    assert url in message
    assert "vibe llm serve" in message and "VIBE_LLM_URL" in message


def test_list_models_is_none_when_nothing_answers(closed_port: int) -> None:
    assert list_models(f"http://127.0.0.1:{closed_port}/v1") is None


def test_list_models_lists_the_served_models(stub: StubLLM) -> None:
    assert list_models(stub.url) == ["stub-model", "other-model"]
