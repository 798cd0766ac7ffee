"""Which model the agent thinks with: the base SmolLM2-135M-Instruct, or a tuned one registered here.

``vibe llm tune-agent`` post-trains the base model on the agent's own intake task and registers the result
(``register_agent_model``): one JSON file in the model cache, ``cache_dir("models")/agent-model.json``, naming
the exported HF directory, its weights' sha256 and how it was made. ``vibe llm serve`` then serves it (under
:data:`AGENT_MODEL_NAME`) when no ``--model`` is given, and ``vibe llm status`` says which one is in force.
A tuned model was trained on the zero-shot prompt (no few-shot turns): the agent asks it that way when the
served model's name is :data:`AGENT_MODEL_NAME`.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field

from vibe.core.config import VibeConfig
from vibe.core.paths import cache_dir

__all__ = [
    "AGENT_MODEL_NAME",
    "AgentModel",
    "agent_model_file",
    "register_agent_model",
    "registered_agent_model",
    "unregister_agent_model",
]

log = logging.getLogger(__name__)

AGENT_MODEL_NAME = "vibe-agent"  # the served name of a tuned agent model (the agent asks it zero-shot)


class AgentModel(VibeConfig):
    """A tuned agent model, as registered."""

    path: Path = Field(description="the exported Hugging Face directory")
    name: str = AGENT_MODEL_NAME
    sha256: str = Field(description="sha256 over the weight files (as `vibe llm status` reports a server's)")
    base: str = Field(description="the model it was tuned from")
    registered_at: str
    report: Path | None = Field(default=None, description="the tuning run's summary (tune.json)")
    details: dict[str, Any] = Field(default_factory=dict, description="data size, steps, parity, timings")


def agent_model_file() -> Path:
    return cache_dir("models") / "agent-model.json"


def register_agent_model(
    path: Path, *, base: str, report: Path | None = None, details: dict[str, Any] | None = None
) -> AgentModel:
    """Make the HF directory ``path`` the agent's model (served by ``vibe llm serve`` from now on)."""
    from vibe.llm._model import check_model_dir, model_digest

    path = check_model_dir(Path(path).resolve())
    model = AgentModel(
        path=path,
        sha256=model_digest(path),
        base=base,
        registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
        report=report,
        details=details or {},
    )
    target = agent_model_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(model.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    log.info("registered %s as the agent's model (%s)", path, target)
    return model


def registered_agent_model() -> AgentModel | None:
    """The registered tuned model, or None (none registered, or its directory is gone: then the base)."""
    target = agent_model_file()
    if not target.is_file():
        return None
    try:
        model = AgentModel.model_validate(json.loads(target.read_text(encoding="utf-8")))
    except ValueError as error:
        log.warning("%s: unreadable (%s); using the base model", target, error)
        return None
    if not (model.path / "config.json").is_file():
        log.warning("%s names %s, which is gone; using the base model", target, model.path)
        return None
    return model


def unregister_agent_model() -> bool:
    """Go back to the base model; True if a tuned one was registered."""
    target = agent_model_file()
    existed = target.is_file()
    target.unlink(missing_ok=True)
    return existed
