"""The intake task the agent's own model is tuned on (``vibe llm tune-agent``): data and reward.

Data: requests from the grammar (``_grammar.py``), labelled by construction with their Draft, none sharing a
template with the evaluation sets. Each becomes the exact conversation the agent holds with a tuned model:
the system prompt and the request (zero-shot: :func:`~vibe.agent._draft.prompt_examples` sends a tuned model
no few-shot turns), and the Draft as JSON as the answer.

Reward of a completion, three named components in [0, 1] (weights 1, 2, 3):
``json``   it parses as a :class:`~vibe.agent._draft.Draft`;
``valid``  its intent passes the one validation against the request (``validate_intent``), as the agent
           requires before it uses a draft;
``fields`` the share of the Draft's fields equal to the label: the draft agrees with the request.

Paraphrases (issue #16): :func:`paraphrase_examples` asks the served LLM to reword some grammar requests and
keeps a rewording only if its source's label still validates against the new text (every value written in
it, the kind asked for) and it shares no template with the held-out sets; each kept one records where it
came from (source request, template id, model, prompt).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tools.agentmodel import TaskData, TuneConfig, TuneTask
from tools.posttrain import FunctionReward, Sample
from vibe.agent._draft import Draft, build_prompt, intent_from_draft
from vibe.agent._grammar import DraftExample, HeldOut, destinations, intake_dataset, read_requests
from vibe.agent._validate import validate_intent
from vibe.llm import ChatModel, LLMError

__all__ = ["PARAPHRASE_PROMPT", "REWARD_WEIGHTS", "default_held_out", "draft_reward", "intake_task",
           "paraphrase_examples"]  # fmt: skip

log = logging.getLogger(__name__)

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
    """Every evaluation set in ``bench/data`` (``intake_*.jsonl``): a split added later is held out too."""
    data = Path(__file__).resolve().parents[2] / "bench" / "data"
    return sorted(data.glob("intake_*.jsonl"))


PARAPHRASE_PROMPT = (
    "Rewrite the user's request to an ML training assistant in different words, as a user would type it. "
    "Keep every number, size, path, run id, GPU, time and name exactly as written. Answer with the "
    "rewritten request only."
)


def _label_holds(request: str, draft: dict[str, Any]) -> bool:
    try:
        intent = intent_from_draft(Draft(**draft), destinations=destinations(request))
    except ValueError:
        return False
    return not validate_intent(request, intent)


def paraphrase_examples(
    examples: Sequence[DraftExample], llm: ChatModel, *, held_out: Sequence[str] = ()
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ask ``llm`` to reword each of ``examples``; keep a rewording (its source's label, provenance) only if
    it is new, the label validates against it, and it shares no template with ``held_out``."""
    held = HeldOut.of(held_out)
    kept: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    model = getattr(llm, "model", None) or type(llm).__name__
    for e in examples:
        messages = [{"role": "system", "content": PARAPHRASE_PROMPT}, {"role": "user", "content": e.request}]
        try:
            text = " ".join(llm.complete(messages).strip().strip('"').split())
        except LLMError as error:  # one failed call is a dropped paraphrase, not a failed tune
            why = f"call failed ({type(error).__name__})"
        else:
            key = text.lower()
            why = (
                "empty or too long" if not text or len(text) > 3 * len(e.request) + 40
                else "same as the source" if key == " ".join(e.request.lower().split())
                else "held-out template" if held.exact(text) or held.template(text)
                else "label does not validate" if not _label_holds(text, e.draft)
                else ""
            )  # fmt: skip
        if why:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        provenance = {"generator": "paraphrase", "source": e.request, "template": e.template, "model": model,
                      "prompt": PARAPHRASE_PROMPT}  # fmt: skip
        kept.append({"request": text, "draft": e.draft, "provenance": provenance})
    return kept, {"asked": len(examples), "kept": len(kept), "dropped": dropped, "model": model}


def _paraphraser(config: TuneConfig) -> ChatModel | None:
    from vibe.llm import DEFAULT_URL, LLMConfig, OpenAIChatModel, list_models

    url = config.paraphrase_url or os.environ.get("VIBE_LLM_URL") or DEFAULT_URL
    models = list_models(url)
    if not models:
        log.warning("paraphrases: no LLM answers at %s; none made", url)
        return None
    return OpenAIChatModel(LLMConfig(url=url, model=models[0], temperature=0.8, max_tokens=48, max_retries=0))


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
    paraphrase: dict[str, Any] = {"asked": 0, "kept": 0}
    llm = _paraphraser(config) if config.paraphrases else None
    if llm is not None:
        started = time.perf_counter()
        step = max(1, config.examples // config.paraphrases)  # spread over the templates' mix
        sources = examples[: config.examples : step][: config.paraphrases]
        kept, paraphrase = paraphrase_examples(sources, llm, held_out=held)
        paraphrase["seconds"] = round(time.perf_counter() - started, 1)
        log.info(
            "paraphrases: %d of %d kept (%s)", paraphrase["kept"], paraphrase["asked"], paraphrase["dropped"]
        )
        sft += [
            {"messages": _messages(k["request"], k["draft"]), "provenance": k["provenance"]} for k in kept
        ]
    elif config.paraphrases:
        paraphrase["skipped"] = "no LLM answered"
    rl = [
        {"prompt": _messages(e.request, None), "request": e.request, "draft": e.draft, "template": e.template}
        for e in examples[config.examples :]
    ]
    report |= {"held_out_sets": [str(p) for p in sets], "prompt": "zero-shot (system prompt + request)",
               "paraphrase": paraphrase}  # fmt: skip
    return TaskData(sft=sft, rl=rl, report=report)


def intake_task() -> TuneTask:
    """The request reader's task: requests in, Drafts out, rewarded by the intent validation."""
    reward = FunctionReward(
        name="intake-draft", version=_VERSION, components=_components, weights=REWARD_WEIGHTS
    )
    return TuneTask(name="intake", make_data=_make_data, reward=reward)
