"""ChatModel's shared behaviour, through ScriptedChatModel (a real implementation that replays answers)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from vibe.llm import LLMError, Message, ScriptedChatModel


class Plan(BaseModel):
    tool: str
    reason: str


ASK = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "what next?"}]


def test_answers_are_replayed_in_order() -> None:
    model = ScriptedChatModel(["first", "second"])
    assert [model.complete(ASK), model.complete(ASK)] == ["first", "second"]
    assert model.remaining == 0


def test_every_request_is_recorded() -> None:
    model = ScriptedChatModel(["a"])
    model.complete(ASK)
    assert model.requests == [
        [Message(role="system", content="be brief"), Message(role="user", content="what next?")]
    ]


def test_pydantic_answers_come_back_as_validated_objects() -> None:
    plan = Plan(tool="profile", reason="look at the data first")
    result = ScriptedChatModel([plan]).structured(ASK, Plan)
    assert result.ok and result.value == plan
    assert result.raw == plan.model_dump_json()


def test_an_answer_that_breaks_the_schema_is_returned_as_an_error() -> None:
    result = ScriptedChatModel(['{"tool": "train"}']).structured(ASK, Plan)
    assert not result.ok
    assert result.raw == '{"tool": "train"}'
    assert isinstance(result.error, ValidationError)
    assert result.error.errors()[0]["loc"] == ("reason",)


def test_usage_counts_calls_and_words() -> None:
    model = ScriptedChatModel(["one two three", "four"])
    model.complete(ASK)
    model.complete(ASK)
    # prompt: "be brief" + "what next?" = 4 words per call
    assert (model.usage.calls, model.usage.prompt_tokens, model.usage.completion_tokens) == (2, 8, 4)


def test_running_out_of_answers_says_how_many_were_given() -> None:
    model = ScriptedChatModel(["only"])
    model.complete(ASK)
    with pytest.raises(LLMError, match="answer 2 but was given only 1"):
        model.complete(ASK)


def test_a_message_with_an_unknown_role_is_rejected() -> None:
    with pytest.raises(ValidationError, match="role"):
        ScriptedChatModel(["x"]).complete([{"role": "robot", "content": "hi"}])


def test_no_messages_is_rejected() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ScriptedChatModel(["x"]).complete([])


def test_schema_must_be_a_pydantic_model() -> None:
    with pytest.raises(TypeError, match="BaseModel"):
        ScriptedChatModel(["{}"]).structured(ASK, dict)  # type: ignore[type-var]
