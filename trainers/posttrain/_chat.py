"""Chat templates and the assistant-only loss mask.

A template is Jinja source in Hugging Face's convention (``messages``, ``add_generation_prompt``, ``bos_token``,
``eos_token``): the base model's own (``chat_template`` in a ``tokenizer_config.json``, e.g. SmolLM2's ChatML),
else :data:`DEFAULT_CHAT_TEMPLATE`, which is then stored with the post-trained run so that whoever serves it
renders prompts the same way.

The mask is derived by rendering prefixes, never from tags in the template: for each assistant turn ``i``, the
text of ``messages[:i]`` with the generation prompt is the context, the text of ``messages[:i+1]`` adds the
answer. Each rendered prefix must extend the previous one (else the template is not prefix-stable and no mask
can be derived); each piece is tokenized on its own, so token boundaries fall exactly on piece boundaries and
the prompt a generator sees tokenizes exactly as in training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_CHAT_TEMPLATE", "ChatTemplate", "TokenizedChat", "tokenize_chat", "tokenize_prompt"]

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
END_OF_TURN = "<|im_end|>"  # the default template's; a generator stops there
ROLES = ("system", "user", "assistant", "tool")


class ChatTemplate:
    """A Jinja chat template rendered in a sandboxed environment, as ``transformers`` renders it."""

    def __init__(self, source: str, *, bos_token: str = "", eos_token: str = "") -> None:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        env.globals["raise_exception"] = raise_exception
        self.source = source
        self._template = env.from_string(source)
        self._tokens = {"bos_token": bos_token, "eos_token": eos_token}

    def render(self, messages: Sequence[dict[str, Any]], *, add_generation_prompt: bool = False) -> str:
        return self._template.render(
            messages=list(messages), add_generation_prompt=add_generation_prompt, **self._tokens
        )


@dataclass(frozen=True)
class TokenizedChat:
    """A conversation as token ids and, per token, whether it is an assistant token (trained on)."""

    ids: list[int]
    assistant: list[bool]  # same length as ids

    @property
    def trained_tokens(self) -> int:
        return sum(self.assistant)


def _extend(previous: str, current: str) -> str:
    if not current.startswith(previous):
        raise ValueError(
            "the chat template is not prefix-stable (rendering a longer conversation changed the text of a "
            "shorter one), so the assistant tokens cannot be found; use a template that renders each message "
            "independently"
        )
    return current[len(previous) :]


def tokenize_chat(
    messages: Sequence[dict[str, Any]], template: ChatTemplate, encode: Callable[[str], list[int]]
) -> TokenizedChat:
    """Token ids of ``messages`` and the assistant mask, by rendering prefixes (see the module docstring)."""
    ids: list[int] = []
    assistant: list[bool] = []
    rendered = ""

    def add(text: str, trained: bool) -> None:
        piece = encode(text) if text else []
        ids.extend(piece)
        assistant.extend([trained] * len(piece))

    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        context = template.render(messages[:i], add_generation_prompt=True)
        add(_extend(rendered, context), False)
        answer = template.render(messages[: i + 1])
        add(_extend(context, answer), True)
        rendered = answer
    add(_extend(rendered, template.render(messages)), False)
    return TokenizedChat(ids, assistant)


def tokenize_prompt(
    messages: Sequence[dict[str, Any]], template: ChatTemplate, encode: Callable[[str], list[int]]
) -> list[int]:
    """The ids a generator continues: ``messages`` rendered with the generation prompt."""
    return encode(template.render(messages, add_generation_prompt=True))
