"""The dataset's Hugging Face ``tokenizers`` file behind Megatron's tokenizer interface.

Megatron's ``GPTDataset`` reads ``vocab_size``, ``eod`` and (optionally) ``pad`` from the tokenizer and hashes
``unique_identifiers`` into its index-cache key; evaluation of extra text files needs ``tokenize``. This
adapter gives exactly that around ``tokenizer/tokenizer.json`` of a dataset directory.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from megatron.core.tokenizers import MegatronTokenizerBase
from tokenizers import Tokenizer

__all__ = ["HFTokenizer"]


class HFTokenizer(MegatronTokenizerBase):
    """A byte-level BPE ``tokenizer.json`` whose ``eod_id`` ends every document."""

    def __init__(self, path: str | Path, *, eod_id: int) -> None:
        super().__init__(str(path), {"library": "huggingface", "model_type": "gpt"})
        self._tokenizer = Tokenizer.from_file(str(path))
        self._eod = eod_id

    def tokenize(self, text: str) -> list[int]:
        return self._tokenizer.encode(text).ids

    def detokenize(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=False)

    @property
    def vocab(self) -> dict[str, int]:
        return self._tokenizer.get_vocab()

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.get_vocab_size()

    @property
    def eod(self) -> int:
        return self._eod

    @property
    def eos(self) -> int:
        return self._eod

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> str:
        raise NotImplementedError("pretraining tokenizers have no chat template")

    @property
    def unique_identifiers(self) -> OrderedDict[str, str]:
        return OrderedDict(cls=type(self).__name__, tokenizer_path=self.path, eod=str(self._eod))
