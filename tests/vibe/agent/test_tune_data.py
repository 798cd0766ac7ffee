"""The agent model's training data (grammar, labels, held-out exclusion) and its reward (issue #16)."""

from __future__ import annotations

import json
from pathlib import Path

from vibe.agent import (
    Draft,
    build_prompt,
    default_held_out,
    draft_reward,
    grammar_examples,
    intake_dataset,
    intake_task,
    intent_from_draft,
    prompt_examples,
    read_request,
    skeleton,
    validate_intent,
)
from vibe.llm import AGENT_MODEL_NAME, ScriptedChatModel


def test_labels_are_the_draft_schema_and_validate_against_their_request() -> None:
    examples, report = intake_dataset(120, seed=3)
    assert report["examples"] == 120 and len({e.request for e in examples}) == 120
    assert set(report["per_kind"]) >= {"train", "estimate", "tune", "synth", "eval", "continue", "status",
                                       "post_train", "release", "refuse", "unclear"}  # fmt: skip
    for e in examples:
        Draft(**e.draft)  # the exact schema the agent asks for
        assert list(e.draft) == list(Draft.model_fields)
        assert draft_reward(e.request, json.dumps(e.draft), e.draft) == {
            "json": 1.0,
            "valid": 1.0,
            "fields": 1.0,
        }


def test_a_template_that_writes_a_held_out_request_is_dropped_whole() -> None:
    held = ["please train a 40M model on /opt/corpus"]
    assert skeleton(held[0]) == skeleton("Train a 7B model on /data/web/x thanks")
    examples, report = intake_dataset(400, seed=0, held_out=held)
    assert report["dropped"].get("held-out template", 0) > 0
    assert report["overlap"] == {"exact": 0, "template": 0}
    assert not any(skeleton(e.request) == skeleton(held[0]) for e in examples)


def test_the_task_keeps_every_bench_evaluation_split_out(tmp_path: Path) -> None:
    from tools.agentmodel import TuneConfig

    sets = default_held_out()
    assert any(p.name == "intake_heldout.jsonl" for p in sets)
    assert all(p.name != "intake_requests.jsonl" for p in sets)
    data = intake_task().make_data(TuneConfig(out=tmp_path, examples=40, rl_prompts=10))
    assert data.report["overlap"] == {"exact": 0, "template": 0}
    assert len(data.sft) == 40 and len(data.rl) == 10
    held = {" ".join(json.loads(line)["request"].lower().split())
            for p in sets for line in p.read_text().splitlines() if line.strip()}  # fmt: skip
    messages = data.sft[0]["messages"]
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
    ]  # zero-shot, as a tuned model is asked
    assert messages[:2] == build_prompt(messages[1]["content"], examples=())
    assert not {" ".join(r["messages"][1]["content"].lower().split()) for r in data.sft} & held


def test_reward_components_separate_invalid_wrong_and_right_drafts() -> None:
    example = next(e for e in grammar_examples(200, seed=1) if e.draft["k"] == "train" and e.draft["data"])
    label = example.draft
    assert draft_reward(example.request, "not json", label) == {"json": 0.0, "valid": 0.0, "fields": 0.0}
    invented = label | {"data": ["/somewhere/else"]}
    scores = draft_reward(example.request, json.dumps(invented), label)
    assert scores["json"] == 1.0 and scores["valid"] == 0.0 and 0 < scores["fields"] < 1
    intent = intent_from_draft(Draft(**label), destinations=[])
    assert not validate_intent(example.request, intent)


def test_a_tuned_model_is_asked_zero_shot_and_the_base_with_the_examples() -> None:
    assert prompt_examples(AGENT_MODEL_NAME) == () and prompt_examples("smollm2-135m-instruct")
    draft = Draft(k="status", size="", moe=False, data=[], run="", gpus=0, gpu="", until="", hours=0, n=0, lr=0,
                  tune=False, gates=False)  # fmt: skip
    tuned, base = ScriptedChatModel([draft]), ScriptedChatModel([draft])
    tuned.model = AGENT_MODEL_NAME  # type: ignore[attr-defined]  (the served name of a tuned agent model)
    read_request("what is waiting for approval?", llm=tuned)
    read_request("what is waiting for approval?", llm=base)
    assert len(tuned.requests[0]) == 2  # the system prompt and the request, no few-shot turns
    assert len(base.requests[0]) == 2 + 2 * len(prompt_examples(None))
