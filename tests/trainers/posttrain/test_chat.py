"""Chat templates and the assistant-only mask, derived by rendering prefixes; bad data named by file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainers.posttrain import (
    DEFAULT_CHAT_TEMPLATE,
    ChatTemplate,
    read_base_run,
    read_sft_data,
    tokenize_chat,
)
from vibe.core.errors import UserError


def _char_encode(text: str) -> list[int]:
    return [ord(c) for c in text]


def _decode(ids: list[int]) -> str:
    return "".join(chr(i) for i in ids)


CONVERSATION = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": "2+2?"},
    {"role": "assistant", "content": "4"},
]


def test_mask_covers_exactly_the_assistant_turns_and_their_end_tags() -> None:
    chat = tokenize_chat(CONVERSATION, ChatTemplate(DEFAULT_CHAT_TEMPLATE), _char_encode)
    text = _decode(chat.ids)
    assert text == ChatTemplate(DEFAULT_CHAT_TEMPLATE).render(CONVERSATION)
    trained = _decode([i for i, m in zip(chat.ids, chat.assistant, strict=True) if m])
    assert trained == "hello<|im_end|>\n4<|im_end|>\n"
    # the generation prompt and every user/system token stay untrained
    assert "<|im_start|>assistant\n" not in trained and "2+2?" not in trained


def test_template_with_generation_tags_is_not_trusted() -> None:
    # a template that wraps the *user* turn in {% generation %}-like markers: the mask still comes from prefixes
    template = ChatTemplate(
        "{% for m in messages %}[{{ m['role'] }}]{% if m['role'] == 'user' %}<gen>{{ m['content'] }}</gen>"
        "{% else %}{{ m['content'] }}{% endif %}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    chat = tokenize_chat(CONVERSATION[1:3], template, _char_encode)
    assert (
        _decode([i for i, m in zip(chat.ids, chat.assistant, strict=True) if m]) == "hello"
    )  # trim_blocks eats the newline


def test_a_template_that_is_not_prefix_stable_is_refused() -> None:
    # renders the message count first: a longer conversation changes the text of the shorter one
    template = ChatTemplate("{{ messages | length }}{% for m in messages %}{{ m['content'] }}{% endfor %}")
    with pytest.raises(ValueError, match="not prefix-stable"):
        tokenize_chat(CONVERSATION[1:3], template, _char_encode)


def test_empty_mask_and_malformed_lines_are_named_by_file_and_line(tmp_path: Path) -> None:
    template = ChatTemplate(DEFAULT_CHAT_TEMPLATE)
    good = json.dumps({"messages": CONVERSATION[1:3]})
    no_answer = json.dumps({"messages": [{"role": "user", "content": "only a question"}]})
    path = tmp_path / "chat.jsonl"
    path.write_text(f"{good}\n\n{no_answer}\n")
    with pytest.raises(UserError, match=r"chat\.jsonl:3: empty loss mask \(no assistant message\)"):
        read_sft_data(path, template=template, encode=_char_encode, seq_length=512)
    path.write_text(f"{good}\n{good[:-3]}\n")
    with pytest.raises(UserError, match=r"chat\.jsonl:2: not valid JSON"):
        read_sft_data(path, template=template, encode=_char_encode, seq_length=512)
    path.write_text(json.dumps({"messages": [{"role": "robot", "content": "x"}]}) + "\n")
    with pytest.raises(UserError, match=r"chat\.jsonl:1: messages\[0\]\.role is 'robot'"):
        read_sft_data(path, template=template, encode=_char_encode, seq_length=512)
    # an answer cut off by truncation is an empty mask too
    path.write_text(good + "\n")
    with pytest.raises(UserError, match=r":1: empty loss mask \(none within seq_length 10\)"):
        read_sft_data(path, template=template, encode=_char_encode, seq_length=10)


def test_base_model_template_from_tokenizer_config_is_used_and_stored(base_run: Path, tmp_path: Path) -> None:
    import shutil

    imported = tmp_path / "imported"
    shutil.copytree(base_run, imported)
    base = read_base_run(imported)
    (imported / "tokenizer").mkdir()
    shutil.copy(base.tokenizer_path, imported / "tokenizer" / "tokenizer.json")
    smol = "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    (imported / "tokenizer" / "tokenizer_config.json").write_text(json.dumps({"chat_template": smol}))
    found = read_base_run(imported)
    assert found.template_source == smol and found.template_origin.endswith("tokenizer_config.json")
    assert read_base_run(base_run).template_source == DEFAULT_CHAT_TEMPLATE
