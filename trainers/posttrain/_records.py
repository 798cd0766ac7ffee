"""Post-training data: JSONL records -> tokenized examples, every problem named by file and line.

=========  ==============================================================  ===================================
method     one line of the JSONL file                                      becomes
=========  ==============================================================  ===================================
sft        ``{"messages": [{"role": ..., "content": ...}, ...], ...}``     :class:`SFTExample` (ids, mask)
dpo        ``{"prompt": str | messages, "chosen": str, "rejected": str}``  :class:`PreferenceExample`
rl         ``{"prompt": str | messages, ...any fields rewards read}``      :class:`PromptExample`
=========  ==============================================================  ===================================

A prompt given as a string is one user message. Other keys of a record (``id``, ``provenance``...) are kept
as data and never read as instructions. A conversation with no assistant token left after truncation to
``seq_length`` (an empty loss mask) is rejected with its line number, never silently trained on nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainers.posttrain._chat import ROLES, ChatTemplate, TokenizedChat, tokenize_chat, tokenize_prompt
from vibe.core.errors import UserError

__all__ = [
    "PreferenceExample",
    "PromptExample",
    "SFTExample",
    "read_jsonl_records",
    "read_preference_data",
    "read_prompt_data",
    "read_sft_data",
]

Encode = Callable[[str], list[int]]


@dataclass(frozen=True)
class SFTExample:
    line: int
    ids: list[int]  # the conversation, truncated to seq_length + 1
    mask: list[bool]  # per id: an assistant token


@dataclass(frozen=True)
class PreferenceExample:
    line: int
    prompt: list[int]
    chosen: list[int]  # completion ids (the answer piece of the template)
    rejected: list[int]


@dataclass(frozen=True)
class PromptExample:
    line: int
    prompt: list[int]
    record: dict[str, Any] = field(repr=False)  # the whole record: fields rewards read (tests, answers)
    messages: list[dict[str, Any]] = field(repr=False, default_factory=list)


def read_jsonl_records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(1-based line, object) for every non-blank line; a malformed line is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: data file not found")
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise UserError(
                    f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})"
                ) from None
            if not isinstance(record, dict):
                raise UserError(
                    f"{path}:{number}: each line must be a JSON object, got {type(record).__name__}"
                )
            records.append((number, record))
    if not records:
        raise UserError(f"{path}: no records (the file is empty)")
    return records


def _messages(value: Any, where: str, key: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise UserError(f"{where}: {key!r} must be a non-empty list of messages (or, for a prompt, a string)")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise UserError(f"{where}: {key}[{i}] must be an object with a string 'content'")
        if message.get("role") not in ROLES:
            raise UserError(
                f"{where}: {key}[{i}].role is {message.get('role')!r}; use one of {', '.join(ROLES)}"
            )
    return [{"role": m["role"], "content": m["content"]} for m in value]


def _chat(
    messages: list[dict[str, Any]], template: ChatTemplate, encode: Encode, where: str
) -> TokenizedChat:
    try:
        return tokenize_chat(messages, template, encode)
    except ValueError as error:
        raise UserError(f"{where}: {error}") from None


def read_sft_data(path: Path, *, template: ChatTemplate, encode: Encode, seq_length: int) -> list[SFTExample]:
    examples = []
    for line, record in read_jsonl_records(path):
        where = f"{path}:{line}"
        if "messages" not in record:
            raise UserError(f"{where}: missing 'messages' (SFT data is {{\"messages\": [...]}} per line)")
        chat = _chat(_messages(record["messages"], where, "messages"), template, encode, where)
        ids, mask = chat.ids[: seq_length + 1], chat.assistant[: seq_length + 1]
        if not any(mask[1:]):  # the first token is never predicted
            why = (
                "no assistant message" if not chat.trained_tokens else f"none within seq_length {seq_length}"
            )
            raise UserError(
                f"{where}: empty loss mask ({why}): the sample has no assistant token to train on"
            )
        examples.append(SFTExample(line, ids, mask))
    return examples


def _completion(
    prompt: list[dict[str, Any]], answer: str, template: ChatTemplate, encode: Encode, where: str
) -> tuple[list[int], list[int]]:
    chat = _chat([*prompt, {"role": "assistant", "content": answer}], template, encode, where)
    first = chat.assistant.index(True) if chat.trained_tokens else len(chat.ids)
    last = len(chat.assistant) - chat.assistant[::-1].index(True) if chat.trained_tokens else first
    return chat.ids[:first], chat.ids[first:last]


def read_preference_data(
    path: Path, *, template: ChatTemplate, encode: Encode, seq_length: int
) -> list[PreferenceExample]:
    examples = []
    for line, record in read_jsonl_records(path):
        where = f"{path}:{line}"
        for key in ("prompt", "chosen", "rejected"):
            if key not in record:
                raise UserError(f"{where}: missing {key!r} (preference data is prompt, chosen, rejected)")
        for key in ("chosen", "rejected"):
            if not isinstance(record[key], str):
                raise UserError(f"{where}: {key!r} must be a string (the assistant's answer)")
        prompt = _messages(record["prompt"], where, "prompt")
        context, chosen = _completion(prompt, record["chosen"], template, encode, where)
        _, rejected = _completion(prompt, record["rejected"], template, encode, where)
        for key, ids in (("chosen", chosen), ("rejected", rejected)):
            if not ids:
                raise UserError(f"{where}: empty loss mask: {key!r} renders to no token")
            if len(context) + len(ids) > seq_length + 1:
                raise UserError(
                    f"{where}: prompt + {key} is {len(context) + len(ids)} tokens, longer than seq_length "
                    f"{seq_length} + 1; shorten it or raise training.seq_length"
                )
        examples.append(PreferenceExample(line, context, chosen, rejected))
    return examples


def read_prompt_data(
    path: Path, *, template: ChatTemplate, encode: Encode, seq_length: int, max_new_tokens: int
) -> list[PromptExample]:
    examples = []
    for line, record in read_jsonl_records(path):
        where = f"{path}:{line}"
        if "prompt" not in record:
            raise UserError(f"{where}: missing 'prompt' (RL data is {{\"prompt\": ..., ...}} per line)")
        messages = _messages(record["prompt"], where, "prompt")
        ids = tokenize_prompt(messages, template, encode)
        if len(ids) + max_new_tokens > seq_length:
            raise UserError(
                f"{where}: the prompt is {len(ids)} tokens; with rl.max_new_tokens {max_new_tokens} it exceeds "
                f"seq_length {seq_length}"
            )
        examples.append(PromptExample(line, ids, record, messages))
    return examples
