"""File type, language, binary sniffing, encodings and newline normalisation."""

from __future__ import annotations

import codecs

import pytest

from tools.data import decode, is_binary, language_of, normalise


@pytest.mark.parametrize(
    ("path", "head", "language"),
    [
        ("src/app.py", b"", "python"),
        ("web/index.TSX", b"", "typescript"),
        ("Makefile", b"", "makefile"),
        ("deploy/.env.production", b"", "env"),
        ("bin/run", b"#!/usr/bin/env python3\nprint(1)\n", "python"),
        ("bin/build", b"#!/bin/bash -e\n", "shell"),
        ("README", b"Read me\n", "text"),
        ("data/table.xyz", b"a,b\n", None),
    ],
)
def test_language_from_name_or_shebang(path: str, head: bytes, language: str | None) -> None:
    assert language_of(path, head) == language


@pytest.mark.parametrize(
    ("data", "binary"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", True),
        (bytes(range(1, 32)) * 10, True),
        (b"def f():\n\treturn 1\n", False),
        ("héllo".encode("utf-16"), False),  # NUL bytes, but a BOM says text
    ],
)
def test_binary_sniffing(data: bytes, binary: bool) -> None:
    assert is_binary(data) is binary


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("naïve café".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "naïve café".encode(), "utf-8-sig"),
        ("naïve café".encode("utf-16"), "utf-16"),
        ("naïve café".encode("utf-32"), "utf-32"),
        ("Café, crème brûlée — déjà vu, “quoted”.\n".encode("cp1252"), "cp1252"),
        ("Ça va? Où est l'hôtel? Élève très âgé.\n".encode("latin-1"), "cp1252"),
    ],
)
def test_decode_records_the_encoding(data: bytes, encoding: str) -> None:
    decoded = decode(data)
    assert decoded is not None
    assert decoded.encoding == encoding
    assert "\ufeff" not in decoded.text


def test_decode_gives_up_on_random_high_bytes() -> None:
    assert decode(bytes((i * 37) % 128 + 128 for i in range(3000))) is None


def test_normalise_newlines() -> None:
    assert normalise("a\r\nb\rc\n") == "a\nb\nc\n"
