"""The agent model's training data (grammar, labels, held-out exclusion) and its reward (issue #16)."""

from __future__ import annotations

import json
from pathlib import Path

from vibe.agent import (
    EMPTY_DRAFT,
    Draft,
    build_prompt,
    default_held_out,
    destinations,
    draft_of,
    draft_reward,
    grammar_examples,
    intake_dataset,
    intake_task,
    intent_from_draft,
    paraphrase_examples,
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
    examples, report = intake_dataset(1000, seed=0, held_out=held)
    assert report["dropped"].get("held-out template", 0) > 0
    assert report["overlap"] == {"exact": 0, "template": 0}
    assert not any(skeleton(e.request) == skeleton(held[0]) for e in examples)


def test_the_task_keeps_every_bench_evaluation_split_out(tmp_path: Path) -> None:
    from tools.agentmodel import TuneConfig

    sets = default_held_out()
    names = {p.name for p in sets}
    assert {"intake_heldout.jsonl", "intake_requests.jsonl", "intake_blind2.jsonl"} <= names
    assert names == {p.name for p in (Path(__file__).parents[3] / "bench" / "data").glob("intake_*.jsonl")}
    data = intake_task().make_data(TuneConfig(out=tmp_path, examples=40, rl_prompts=10, paraphrases=0))
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
    draft = Draft.model_validate(EMPTY_DRAFT | {"k": "status", "topic": "approvals"})
    tuned, base = ScriptedChatModel([draft]), ScriptedChatModel([draft])
    tuned.model = AGENT_MODEL_NAME  # type: ignore[attr-defined]  (the served name of a tuned agent model)
    read_request("what is waiting for approval?", llm=tuned)
    read_request("what is waiting for approval?", llm=base)
    assert len(tuned.requests[0]) == 2  # the system prompt and the request, no few-shot turns
    assert len(base.requests[0]) == 2 + 2 * len(prompt_examples(None))


def test_the_grammar_fills_the_fields_the_intents_carry() -> None:
    examples, _ = intake_dataset(600, seed=2)
    filled = {k for e in examples for k, v in e.draft.items() if v not in ("", 0, False, [])}
    assert {"params", "tpl", "method", "topic", "sf", "gh", "night", "blend", "base"} <= filled
    for e in examples:
        intent = intent_from_draft(Draft(**e.draft), destinations=destinations(e.request))
        if e.draft["params"]:
            assert intent.params == e.draft["params"]  # type: ignore[union-attr]
        if e.draft["sf"]:
            assert intent.steps_factor == e.draft["sf"]  # type: ignore[union-attr]
        if e.draft["k"] == "status":
            assert intent.topic == e.draft["topic"]  # type: ignore[union-attr]


def test_new_phrasings_validate_and_round_trip() -> None:
    cases = {
        "what would a 7B cost on a 4 x 8 GPU cluster": {"k": "estimate", "size": "7B", "gpus": 32},
        "could we afford a 3B with only 40 GPU hours?": {"k": "estimate", "size": "3B", "gh": 40.0},
        "continue t-12ab for twice as many steps": {"k": "continue", "run": "t-12ab", "sf": 2.0},
        "align t-12ab with DPO on the preference pairs in /srv/p": {"k": "post_train", "run": "t-12ab",
                                                                     "data": ["/srv/p"], "method": "dpo"},
        "generate 200 unit tests from /srv/c and blend them into the training data": {
            "k": "synth", "n": 200, "data": ["/srv/c"], "tpl": ["code.tests"], "blend": True},
        "tune warmup and batch size for a 20M on /srv/a overnight": {
            "k": "tune", "size": "20M", "data": ["/srv/a"], "tune": True, "params": ["warmup", "batch"],
            "night": True},
    }  # fmt: skip
    for request, fields in cases.items():
        draft = Draft.model_validate(EMPTY_DRAFT | fields)
        intent = intent_from_draft(draft, destinations=destinations(request))
        assert validate_intent(request, intent) == [], request
        assert draft_of(intent) == draft, request


def test_paraphrases_are_kept_only_when_the_label_holds_and_say_where_they_came_from() -> None:
    examples = [e for e in grammar_examples(300, seed=4) if e.draft["k"] == "train" and e.draft["data"]][:3]
    path = examples[0].draft["data"][0]
    rewordings = [
        f"{examples[0].request} (reworded)",  # keeps every value: kept
        "train something nice",  # loses the size and the path: the label no longer holds
        examples[2].request,  # no rewording at all
    ]
    kept, report = paraphrase_examples(examples, ScriptedChatModel(rewordings), held_out=["tell me a joke"])
    assert report["asked"] == 3 and report["kept"] == 1
    assert report["dropped"] == {"label does not validate": 1, "same as the source": 1}
    assert kept[0]["request"].endswith("(reworded)") and path in kept[0]["request"]
    provenance = kept[0]["provenance"]
    assert provenance["source"] == examples[0].request and provenance["template"] == examples[0].template
    assert provenance["generator"] == "paraphrase" and provenance["prompt"] and provenance["model"]
    assert kept[0]["draft"] == examples[0].draft
