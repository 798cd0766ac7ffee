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
    serve,
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


def _server_config() -> (
    ServerConfig
):  # the base SmolLM2 named, so a tuned agent model registered is not served
    return ServerConfig(port=LLM_TEST_PORT, model=prepare_default_model(python=install_vllm().python))


_started_early: list[bool] = []  # [True] once pytest_collection_finish has started the tier's server


def pytest_collection_finish(session: pytest.Session) -> None:
    """When a collected test uses ``llm_server``, start that server now without waiting: vLLM's start-up (a
    minute or more on CPU, mostly one core importing) overlaps the tests that run before the first llm one.
    Any failure here is left to the fixture, which starts the server again and reports it."""
    if session.config.option.collectonly:
        return
    if not any("llm_server" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    with _user_cache():
        try:
            if not server_status(port=LLM_TEST_PORT).answering:
                serve(_server_config(), wait=False)
                _started_early.append(True)
        except Exception:  # the fixture reports it, in the tests that need the server
            return


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _started_early:  # stopped by the fixture already, unless no test that needs it ran (-x, interrupted)
        with _user_cache():
            stop_server(port=LLM_TEST_PORT)


@pytest.fixture(scope="session")
def llm_server() -> Iterator[Endpoint]:
    """The real local vLLM server on its own port, installed and started if needed (started early by
    :func:`pytest_collection_finish`, waited for here); stopped afterwards if this session started it. Fails
    (never skips) with the install or start-up error if vLLM cannot be had."""
    with _user_cache():
        config = _server_config()
        running_before = not _started_early and server_status(port=config.port).answering
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
