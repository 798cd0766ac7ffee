"""Both readers together: the rules always, the LLM's draft when there is an LLM, one validation for both.

    rules  ->  Reading ------------------------------\\
    LLM    ->  Draft -> intent_from_draft -> validate --> combine -> validate -> Reading
                        (one retry with the problems)

How they combine, so the result is never worse than the rules alone: what is refused or noted beside the
intent (uploads, policy overrides, URLs, system directories) always comes from the rules; when the rules
cannot read the request, a validated draft decides; when both read the same kind, the draft fills the fields
the rules left empty (each checked again); when they disagree on the kind, the rules decide and the
disagreement is on the record. A request neither can read is ``unclear``: a question goes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from vibe.agent._draft import Draft, build_prompt, intent_from_draft, prompt_examples
from vibe.agent._intent import Reading, UnclearIntent
from vibe.agent._rules import QUESTION, read_rules
from vibe.agent._validate import validate_intent
from vibe.llm import ChatModel, LLMError, Usage

__all__ = ["ReadOutcome", "read_request"]


@dataclass
class ReadOutcome:
    """The reading, and what the LLM did on the way (for the ledger and the benchmark)."""

    reading: Reading
    llm: Literal["off", "accepted", "merged", "rejected", "disagreed", "unavailable", "agreed"] = "off"
    draft: dict[str, Any] | None = None  # the LLM's last draft, as the typed intent it stood for
    problems: list[str] = field(default_factory=list)  # why drafts were rejected, per attempt
    raw: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == "" or value is False


def _merge(rules: dict[str, Any], draft: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The rules' fields, with those the rules left at their default filled from the draft."""
    out = dict(rules)
    for name, value in draft.items():
        if name != "kind" and rules.get(name) == defaults.get(name) and not _empty(value):
            out[name] = value
    return out


def read_request(request: str, *, llm: ChatModel | None = None, attempts: int = 2) -> ReadOutcome:
    """Read ``request`` with the rules and, if given, the LLM; never raises for what the LLM does."""
    rules = read_rules(request)
    problems = validate_intent(request, rules.intent)
    if problems:  # the rules' own reading is not backed by the text: ask rather than guess
        rules = rules.model_copy(
            update={"intent": UnclearIntent(question=f"{QUESTION} ({'; '.join(problems)})")}
        )
    outcome = ReadOutcome(reading=rules)
    if llm is None:
        return outcome
    destinations = [r.destination for r in rules.refused]
    messages: list[dict[str, str]] = build_prompt(
        request, examples=prompt_examples(getattr(llm, "model", None))
    )
    drafted = None
    for _ in range(attempts):
        try:
            answer = llm.structured(messages, Draft)
        except LLMError as error:
            outcome.llm, outcome.error = ("rejected" if outcome.problems else "unavailable"), str(error)
            return outcome
        outcome.usage = outcome.usage + answer.usage
        outcome.raw.append(answer.raw)
        try:
            if answer.value is None:
                raise ValueError(f"not a Draft: {str(answer.error)[:200]}")
            intent = intent_from_draft(answer.value, destinations=destinations)
            found = validate_intent(request, intent)
            if found:
                raise ValueError("; ".join(found))
            drafted = intent
            break
        except ValueError as error:
            outcome.problems.append(str(error))
            messages = [*messages, {"role": "assistant", "content": answer.raw},
                        {"role": "user", "content": f"Invalid: {str(error)[:300]}. Answer again."}]  # fmt: skip
    if drafted is None:
        outcome.llm = "rejected"
        return outcome
    outcome.draft = drafted.model_dump(mode="json")
    if rules.intent.kind == "unclear":
        outcome.llm = "accepted"
        outcome.reading = rules.model_copy(update={"intent": drafted, "reader": "llm"})
        return outcome
    if drafted.kind != rules.intent.kind:
        outcome.llm = "disagreed"
        return outcome
    defaults = _defaults(type(rules.intent))
    merged_data = _merge(rules.intent.model_dump(), drafted.model_dump(), defaults)
    merged = type(rules.intent).model_validate(merged_data)
    if merged == rules.intent:
        outcome.llm = "agreed"
        return outcome
    if validate_intent(request, merged):
        outcome.llm = "disagreed"
        return outcome
    outcome.llm = "merged"
    outcome.reading = rules.model_copy(update={"intent": merged, "reader": "llm+rules"})
    return outcome


def _defaults(model: type[Any]) -> dict[str, Any]:
    return {name: f.get_default(call_default_factory=True) for name, f in model.model_fields.items()}
