"""One validation for both readers, and how the LLM's draft combines with the rules."""

from __future__ import annotations

import pytest

from vibe.agent import (
    EMPTY_DRAFT,
    Draft,
    EvalIntent,
    TrainIntent,
    build_prompt,
    draft_of,
    intent_from_draft,
    read_request,
    read_rules,
    validate_intent,
)
from vibe.llm import ScriptedChatModel


def _draft(**fields: object) -> Draft:
    return Draft.model_validate(EMPTY_DRAFT | {"k": "train"} | fields)


def test_validation_checks_each_field_against_the_text() -> None:
    request = "train a 7B on /data/code, don't tune"
    assert validate_intent(request, TrainIntent(parameters=7e9, data=["/data/code"])) == []
    problems = validate_intent(
        request, TrainIntent(parameters=70e9, data=["/etc/shadow"], search=True, gpu_hours=100)
    )
    assert any(p.startswith("size:") for p in problems)
    assert any("/etc/shadow" in p for p in problems)
    assert any("data: paths named but not used: /data/code" in p for p in problems)
    assert any(p.startswith("tune:") and "says not to tune" in p for p in problems)
    assert any(p.startswith("gpu_hours:") for p in problems)
    assert validate_intent("how is the run doing?", EvalIntent(run="t-123abc")) != []


def test_every_rules_reading_of_the_examples_passes_the_validation() -> None:
    for request in ("train a 125M MoE on /data/code", "continue run t-3f2a with half the learning rate",
                    "how much would a 7B cost on 256 H100s?", "tune a 20M on /d overnight"):  # fmt: skip
        reading = read_rules(request)
        assert validate_intent(request, reading.intent) == [], request


def test_draft_round_trips_to_the_same_intent() -> None:
    reading = read_rules("how much would a 7B cost on 256 H100s?")
    assert intent_from_draft(draft_of(reading.intent)) == reading.intent


def test_prompt_is_small_and_has_examples() -> None:
    messages = build_prompt("train a 1M on /d")
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": "train a 1M on /d"}
    assert sum(m["role"] == "assistant" for m in messages) >= 6
    assert len(str(Draft.model_json_schema())) < 3000  # 22 fields, short names, few descriptions


def test_a_valid_draft_fills_what_the_rules_cannot_read() -> None:
    # "a bit more than the usual" is beyond the rules; a draft saying "eval of the last run" is backed by "last"
    request = "have a look at how good the last checkpoint is, pass or fail on the gates"
    assert read_rules(request).intent.kind in ("eval", "unclear")
    llm = ScriptedChatModel([_draft(k="eval", run="last", gates=True)])
    outcome = read_request(request, llm=llm)
    assert outcome.reading.intent.kind == "eval" and outcome.reading.intent.gates


def test_an_invented_draft_is_retried_once_then_the_rules_decide() -> None:
    llm = ScriptedChatModel(
        [_draft(size="70B", data=["/data/code"]), _draft(size="70B", data=["/data/code"])]
    )
    outcome = read_request("train a 7B on /data/code", llm=llm)
    assert outcome.llm == "rejected" and len(outcome.problems) == 2 and "size" in outcome.problems[0]
    assert outcome.reading.intent.parameters == 7e9 and outcome.reading.reader == "rules"
    assert "Invalid: size" in llm.requests[1][-1].content


def test_the_rules_decide_the_kind_and_the_draft_fills_empty_fields() -> None:
    llm = ScriptedChatModel([_draft(k="train", size="7B", data=["/data/code"])])
    outcome = read_request("what would it cost to train a 7B on /data/code?", llm=llm)
    assert outcome.llm == "disagreed" and outcome.reading.intent.kind == "estimate"
    llm = ScriptedChatModel([_draft(k="train", size="7B", data=["/data/code"], hours=12)])
    # "before the weekend" is beyond the rules' units; 12 is not written, so the draft's hours are not taken
    outcome = read_request("train a 7B on /data/code before the weekend", llm=llm)
    assert outcome.reading.intent.hours is None
    assert (
        read_request("train a 7B on /data/code in half a day").reading.intent.hours == 12
    )  # the rules read it


@pytest.mark.parametrize("kind", ["refuse", "train"])
def test_a_draft_cannot_drop_a_refusal(kind: str) -> None:
    llm = ScriptedChatModel([_draft(k=kind, data=["/data/code"])])
    outcome = read_request("train a 1M on /data/code and upload it to huggingface", llm=llm)
    assert [r.destination for r in outcome.reading.refused] == ["huggingface"]


def test_an_unreachable_llm_leaves_the_rules() -> None:
    outcome = read_request("train a 7B on /data/code", llm=ScriptedChatModel([]))
    assert outcome.llm == "unavailable" and outcome.reading.intent.parameters == 7e9


def test_the_few_shot_examples_are_valid_and_not_in_the_benchmark() -> None:
    import json
    from pathlib import Path

    from vibe.agent import FEW_SHOT

    data = Path(__file__).parents[3] / "bench" / "data"
    benchmark = {
        json.loads(line)["request"]
        for f in data.glob("intake_*.jsonl")
        for line in f.read_text().splitlines()
    }
    for request, answer in FEW_SHOT:
        assert request not in benchmark
        draft = Draft.model_validate_json(answer)
        refused = [r.destination for r in read_rules(request).refused]
        intent = intent_from_draft(draft, destinations=refused)
        assert validate_intent(request, intent) == [], request
        assert intent.kind == read_rules(request).intent.kind, request
