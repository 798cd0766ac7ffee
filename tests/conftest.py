"""Fixtures shared across the suite: the real local vLLM server (the llm tier)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from vibe.llm import Endpoint, ServerConfig, ensure_server, server_status, stop_server

LLM_TEST_PORT = int(os.environ.get("VIBE_TEST_LLM_PORT", "8011"))


@pytest.fixture(scope="session")
def llm_server() -> Iterator[Endpoint]:
    """The real local vLLM server on its own port, installed and started if needed; stopped afterwards if this
    session started it. Fails (never skips) with the install or start-up error if vLLM cannot be had."""
    config = ServerConfig(port=LLM_TEST_PORT)
    running_before = server_status(port=config.port).answering
    endpoint = ensure_server(url=config.url, config=config)
    yield endpoint
    if not running_before:
        stop_server(port=config.port)
