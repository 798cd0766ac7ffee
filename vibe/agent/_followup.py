"""Follow-ups in a chat: "make it MoE", "half the learning rate", "use /data/docs too", "cancel".

:func:`follow_up` edits the previous turn's :class:`~vibe.agent._intent.Reading` with what the follow-up
says, and the edited intent goes through the same validation as any other (against the two turns' text).
It answers ``"cancel"`` for a cancellation, or None when the follow-up is a request of its own.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from vibe.agent._goal import parse_size
from vibe.agent._intent import Reading
from vibe.agent._rules import (
    find_cluster,
    find_paths,
    find_until,
    normalize,
    read_rules,
    tune_negated,
    wants_tuning,
)
from vibe.agent._validate import validate_intent

__all__ = ["follow_up"]

_CANCEL = re.compile(
    r"^\s*(?:no,?\s+)?(?:cancel|never ?mind|forget (?:it|that)|abort|scrap (?:it|that)|drop it)\b", re.I
)
_LR = ((r"\bhalf (?:the )?(?:learning rate|lr)|\bhalve", 0.5), (r"\bdouble (?:the )?(?:learning rate|lr)", 2.0),
       (r"\ba (?:third) of the (?:learning rate|lr)", 1 / 3), (r"\ba quarter of the (?:learning rate|lr)", 0.25))  # fmt: skip
_BUDGETED = ("train", "estimate", "tune")


def _lr_factor(text: str) -> float | None:
    for pattern, factor in _LR:
        if re.search(pattern, text):
            return factor
    match = re.search(r"\b(?:learning rate|lr)\s*(?:x|\*|times)\s*(\d*\.?\d+)", text)
    return float(match.group(1)) if match else None


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
    if re.search(r"\bmoe\b|mixture[- ]of[- ]experts|\bexperts?\b", said):
        experts = re.search(r"(\d+)\s*experts?", said)
        edit("architecture", "moe")
        edit("num_experts", int(experts.group(1)) if experts else intent.get("num_experts") or 8)
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
    factor = _lr_factor(said)
    if factor is not None and "lr_factor" in intent:
        edit("lr_factor", factor * (intent["lr_factor"] or 1.0) if kind == "continue" else factor)
    more = re.search(r"(\d[\d,]*)\s*(?:more|extra|additional) steps", said)
    if more and "more_steps" in intent:
        edit("more_steps", int(more.group(1).replace(",", "")))
    if "search" in intent and (wants_tuning(said) or tune_negated(said)):
        edit("search", wants_tuning(said))
    cluster = find_cluster(said)
    if cluster is not None and "cluster" in intent:
        edit("cluster", cluster.model_dump(mode="json"))
    until = find_until(said)
    if until and "until" in intent:
        edit("until", until)
    if "gates" in intent and re.search(r"\bgates?\b", said):
        edit("gates", not re.search(r"\b(?:without|no|skip)\b[^.]*\bgates?", said))
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
    from vibe.agent._rules import system_dirs

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
