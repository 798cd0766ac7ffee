"""Fixtures shared across the suite: the real local vLLM server (the llm tier).

Tests that train point ``VIBE_CACHE`` at a throwaway directory (for the measured FLOP/s and similar), and a
session-scoped one stays pointed there for the rest of the run. The vLLM environment, the converted model and
the server's pid files live in the user's cache, so the llm tier always runs with the ``VIBE_CACHE`` the session
started with, whatever ran before it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from vibe.llm import (
    Endpoint,
    ServerConfig,
    ensure_server,
    install_vllm,
    prepare_default_model,
    server_status,
    stop_server,
)

pytest_plugins = ["tests.postgres_server"]  # the postgres_url fixture, shared by the agent and HPO tests

LLM_TEST_PORT = int(os.environ.get("VIBE_TEST_LLM_PORT", "8011"))
_USER_CACHE = os.environ.get("VIBE_CACHE")  # as the session started, before any test changed it


@contextmanager
def _user_cache() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        if _USER_CACHE is None:
            patch.delenv("VIBE_CACHE", raising=False)
        else:
            patch.setenv("VIBE_CACHE", _USER_CACHE)
        yield


@pytest.fixture(scope="session")
def llm_server() -> Iterator[Endpoint]:
    """The real local vLLM server on its own port, installed and started if needed; stopped afterwards if this
    session started it. Fails (never skips) with the install or start-up error if vLLM cannot be had."""
    with _user_cache():  # the base SmolLM2 named, so a tuned agent model registered by the user is not served
        config = ServerConfig(port=LLM_TEST_PORT, model=prepare_default_model(python=install_vllm().python))
        running_before = server_status(port=config.port).answering
        endpoint = ensure_server(url=config.url, config=config)
    yield endpoint
    if not running_before:
        with _user_cache():
            stop_server(port=config.port)


@pytest.fixture(autouse=True)
def _llm_tier_uses_the_user_cache(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("llm") is None:
        yield
        return
    with _user_cache():
        yield
