"""The intake task the agent's own model is tuned on (``vibe llm tune-agent``): data and reward.

Data: requests from the grammar (``_grammar.py``), labelled by construction with their Draft, none sharing a
template with the evaluation sets. Each becomes the exact conversation the agent holds with a tuned model:
the system prompt and the request (zero-shot: :func:`~vibe.agent._draft.prompt_examples` sends a tuned model
no few-shot turns), and the Draft as JSON as the answer.

Reward of a completion, three named components in [0, 1] (weights 1, 2, 3):
``json``   it parses as a :class:`~vibe.agent._draft.Draft`;
``valid``  its intent passes the one validation against the request (``validate_intent``), as the agent
           requires before it uses a draft;
``fields`` the share of the Draft's 13 fields equal to the label: the draft agrees with the request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tools.agentmodel import TaskData, TuneConfig, TuneTask
from tools.posttrain import FunctionReward, Sample
from vibe.agent._draft import Draft, build_prompt, intent_from_draft
from vibe.agent._grammar import destinations, intake_dataset, read_requests
from vibe.agent._validate import validate_intent

__all__ = ["REWARD_WEIGHTS", "default_held_out", "draft_reward", "intake_task"]

REWARD_WEIGHTS = {"json": 1.0, "valid": 2.0, "fields": 3.0}
_VERSION = "1"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    return bool(a == b)


def draft_reward(request: str, completion: str, label: dict[str, Any]) -> dict[str, float]:
    """The reward components of ``completion`` (the model's answer) to ``request`` with the true ``label``."""
    text = completion.strip()
    try:
        draft = Draft.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        return {"json": 0.0, "valid": 0.0, "fields": 0.0}
    try:
        intent = intent_from_draft(draft, destinations=destinations(request))
        valid = not validate_intent(request, intent)
    except ValueError:
        valid = False
    got = draft.model_dump()
    agree = sum(_same(label[k], got[k]) for k in label) / len(label)
    return {"json": 1.0, "valid": float(valid), "fields": agree}


def _components(samples: Sequence[Sample]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in REWARD_WEIGHTS}
    for s in samples:
        scores = draft_reward(s.record["request"], s.completion, s.record["draft"])
        for k in out:
            out[k].append(scores[k])
    return out


def _messages(request: str, draft: dict[str, Any] | None) -> list[dict[str, str]]:
    messages = build_prompt(request, examples=())
    return messages if draft is None else [*messages, {"role": "assistant", "content": json.dumps(draft)}]


def _held_out(config: TuneConfig) -> list[Path]:
    if config.held_out:
        return list(config.held_out)
    return default_held_out()


def default_held_out() -> list[Path]:
    """Every evaluation set in ``bench/data`` but the test-visible one: held-out and blind splits."""
    data = Path(__file__).resolve().parents[2] / "bench" / "data"
    return sorted(p for p in data.glob("intake_*.jsonl") if p.name != "intake_requests.jsonl")


def _make_data(config: TuneConfig) -> TaskData:
    sets = _held_out(config)
    held = read_requests(sets)
    examples, report = intake_dataset(config.examples + config.rl_prompts, seed=config.seed, held_out=held)
    if len(examples) < config.examples + config.rl_prompts:
        raise ValueError(f"the grammar made only {len(examples)} distinct examples")
    provenance = {"generator": "vibe.agent grammar", "seed": config.seed}
    sft = [
        {"messages": _messages(e.request, e.draft), "provenance": {**provenance, "template": e.template}}
        for e in examples[: config.examples]
    ]
    rl = [
        {"prompt": _messages(e.request, None), "request": e.request, "draft": e.draft, "template": e.template}
        for e in examples[config.examples :]
    ]
    report |= {"held_out_sets": [str(p) for p in sets], "prompt": "zero-shot (system prompt + request)"}
    return TaskData(sft=sft, rl=rl, report=report)


def intake_task() -> TuneTask:
    """The request reader's task: requests in, Drafts out, rewarded by the intent validation."""
    reward = FunctionReward(
        name="intake-draft", version=_VERSION, components=_components, weights=REWARD_WEIGHTS
    )
    return TuneTask(name="intake", make_data=_make_data, reward=reward)
