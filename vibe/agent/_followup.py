"""Follow-ups in a chat: "make it MoE", "half the learning rate", "use /data/docs too", "cancel".

:func:`follow_up` edits the previous turn's :class:`~vibe.agent._intent.Reading` with what the follow-up
says, and the edited intent goes through the same validation as any other (against the two turns' text).
It answers ``"cancel"`` for a cancellation, or None when the follow-up is a request of its own.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from vibe.agent._intent import Reading
from vibe.agent._rules import NO_GATES, normalize, read_rules, tune_negated, wants_tuning
from vibe.agent._text import (
    experts_named,
    find_cluster,
    find_paths,
    find_until,
    lr_factor,
    moe_named,
    more_steps,
    parse_size,
    steps_factor,
    system_dirs,
)
from vibe.agent._validate import validate_intent

__all__ = ["follow_up"]

_CANCEL = re.compile(
    r"^\s*(?:no,?\s+)?(?:cancel|never ?mind|forget (?:it|that)|abort|scrap (?:it|that)|drop it)\b", re.I
)
_BUDGETED = ("train", "estimate", "tune")


def follow_up(previous: Reading, text: str) -> Reading | Literal["cancel"] | None:
    """``previous`` edited by the follow-up ``text``; "cancel"; or None if ``text`` is a new request."""
    if _CANCEL.search(text):
        return "cancel"
    said = normalize(text)
    intent: dict[str, Any] = previous.intent.model_dump(mode="json")
    kind = intent["kind"]
    changed: list[str] = []

    def edit(field: str, value: Any) -> None:
        if field in intent and intent[field] != value:
            intent[field] = value
            changed.append(field)

    if re.search(r"\b(?:estimate|just the cost|how much would (?:that|it) cost)", said) and kind in _BUDGETED:
        intent["kind"], kind = "estimate", "estimate"
        changed.append("kind")
    elif re.search(r"\b(?:go ahead and train|train it|actually train)", said) and kind in _BUDGETED:
        intent["kind"], kind = "train", "train"
        changed.append("kind")
    if moe_named(said):
        edit("architecture", "moe")
        edit("num_experts", experts_named(said) or intent.get("num_experts") or 8)
    elif re.search(r"\bdense\b", said):
        edit("architecture", "dense")
        edit("num_experts", None)
    size = parse_size(said)
    if size is not None and "parameters" in intent:
        edit("parameters", size)
    paths, _ = find_paths(text)
    if paths and "data" in intent:
        replace = re.search(r"\binstead\b|\bonly\b", said)
        edit("data", paths if replace else list(dict.fromkeys([*intent["data"], *paths])))
    factor = lr_factor(said)
    if factor is not None and "lr_factor" in intent:
        edit("lr_factor", factor * (intent["lr_factor"] or 1.0) if kind == "continue" else factor)
    more = more_steps(said)
    if more and "more_steps" in intent:
        edit("more_steps", more)
    times = steps_factor(said)
    if times and "steps_factor" in intent:
        edit("steps_factor", times)
    if "search" in intent and (wants_tuning(said) or tune_negated(said)):
        edit("search", wants_tuning(said))
    cluster = find_cluster(said)
    if cluster is not None and "cluster" in intent:
        edit("cluster", cluster.model_dump(mode="json"))
    until = find_until(said)
    if until and "until" in intent:
        edit("until", until)
    if "gates" in intent and re.search(r"\bgates?\b", said):
        edit("gates", not re.search(NO_GATES, said))
    fresh = read_rules(text)
    if not changed:
        return None if fresh.intent.kind != "unclear" or fresh.refused else previous
    request = f"{previous.request}; {text}"
    edited = previous.model_copy(
        update={
            "request": request,
            "intent": previous.intent.__class__.model_validate(intent)
            if intent["kind"] == previous.intent.kind
            else _retyped(intent),
            "refused": [*previous.refused, *fresh.refused],
            "policy_override": previous.policy_override or fresh.policy_override,
            "urls": [*previous.urls, *fresh.urls],
        }
    )
    edited = edited.model_copy(update={"confirm_dirs": system_dirs(list(getattr(edited.intent, "data", [])))})
    problems = validate_intent(request, edited.intent)
    if problems:
        raise ValueError(f"the follow-up does not fit the request: {'; '.join(problems)}")
    return edited


def _retyped(intent: dict[str, Any]) -> Any:
    from pydantic import TypeAdapter

    from vibe.agent._intent import Intent

    adapter: TypeAdapter[Any] = TypeAdapter(Intent)
    target = adapter.validate_python({"kind": intent["kind"]} | {"data": intent.get("data", [])})
    keep = {k: v for k, v in intent.items() if k in type(target).model_fields}
    return type(target).model_validate(keep)
