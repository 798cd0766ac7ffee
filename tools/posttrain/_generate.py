"""Rollout generators: who samples completions (with their log-probs) from the current policy.

:class:`Generator` is the interface the RL loop uses. :class:`MegatronGenerator` samples with the trainer's own
model (in its process: tiny models, tests). :class:`VLLMGenerator` asks a vLLM server through its
OpenAI-compatible ``/v1/completions`` (token-id prompts, ``logprobs``, ``return_tokens_as_token_ids``) and
keeps it serving the current weights: after each update the trainer's weights are exported in HF format and
reloaded in place (``POST /collective_rpc {"method": "reload_weights"}``, which needs ``VLLM_SERVER_DEV_MODE=1``;
then ``POST /reset_prefix_cache``, since cached KV blocks were computed with the old weights),
with a restart as the fallback. Either way a sync is confirmed by a greedy probe: the server's greedy
continuation of a fixed prompt must equal the trainer's own; a sync that cannot be confirmed is an error,
never a silent training on stale weights.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vibe.core.errors import UserError

__all__ = [
    "Completion",
    "Generator",
    "GeneratorError",
    "MegatronGenerator",
    "SyncReport",
    "VLLMGenerator",
    "greedy_agrees",
]

log = logging.getLogger(__name__)


class GeneratorError(UserError):
    """The generator failed or could not be confirmed to serve the current weights."""


@dataclass(frozen=True)
class Completion:
    ids: list[int]
    logps: list[float]  # the generator's log-probs of ``ids`` (temperature 1)


@dataclass(frozen=True)
class SyncReport:
    method: str  # "shared" (same process), "reload", "restart"
    probe_ok: bool
    seconds: float


class Generator(Protocol):
    name: str

    def generate(
        self, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[Completion]]:
        """``n`` completions for each prompt (token ids), in prompt order."""
        ...

    def sync(self, *, step: int) -> SyncReport:
        """Make the generator serve the trainer's weights after ``step``; confirm it by a greedy probe."""
        ...


class MegatronGenerator:
    """Samples with the trainer's own model (``trainer.sample``): always the current weights."""

    name = "megatron"

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer

    def generate(
        self, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[Completion]]:
        groups = self.trainer.sample(
            prompts, n=n, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed
        )
        return [[Completion(ids, logps) for ids, logps in group] for group in groups]

    def sync(self, *, step: int) -> SyncReport:
        return SyncReport("shared", True, 0.0)


def _post(url: str, body: dict[str, Any], *, timeout: float) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as error:
        raise GeneratorError(
            f"{url}: HTTP {error.code}: {error.read().decode(errors='replace')[:300]}"
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise GeneratorError(f"{url}: unreachable ({error}); is the vLLM server running?") from None
    return json.loads(text) if text.strip() else None


def greedy_agrees(trainer: Any, probe: tuple[list[int], int], theirs: list[int]) -> bool:
    """Whether the trainer's own greedy continuation of ``probe`` (ids, tokens) begins as a generator's ``theirs``
    does: the check that new weights reached the generator."""
    ids, k = probe
    ours = trainer.sample([ids], n=1, max_new_tokens=k, temperature=1.0, seed=0, greedy=True)[0][0][0]
    n = min(len(ours), len(theirs))
    return n > 0 and ours[:n] == theirs[:n]


class VLLMGenerator:
    """A vLLM server as the generator (see the module docstring).

    ``export(step)`` writes the trainer's current weights as an HF directory and returns it; ``restart(path)``
    (optional) restarts the server on that directory; ``probe`` is (prompt ids, max tokens) for the greedy
    check, compared with ``trainer.sample(..., greedy=True)``.
    """

    name = "vllm"

    def __init__(
        self,
        *,
        url: str,
        model: str | None,
        trainer: Any,
        export: Callable[[int], Path],
        probe: tuple[list[int], int],
        stop_token_ids: list[int],
        mode: str = "reload",
        restart: Callable[[Path], None] | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        self.url, self.trainer, self.export, self.probe = url.rstrip("/"), trainer, export, probe
        self.stop_token_ids, self.mode, self.restart, self.timeout = stop_token_ids, mode, restart, timeout_s
        self.model = model or self._first_model()

    def _first_model(self) -> str:
        request = urllib.request.Request(f"{self.url}/v1/models")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())["data"][0]["id"]
        except (urllib.error.URLError, OSError, KeyError, IndexError) as error:
            raise GeneratorError(f"{self.url}/v1/models: no served model ({error})") from None

    def generate(
        self, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float, seed: int
    ) -> list[list[Completion]]:
        body = {
            "model": self.model,
            "prompt": prompts,
            "n": n,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
            "logprobs": 0,
            "return_tokens_as_token_ids": True,
            "stop_token_ids": self.stop_token_ids,
            "skip_special_tokens": False,
        }
        answer = _post(f"{self.url}/v1/completions", body, timeout=self.timeout)
        groups: list[list[Completion]] = [[] for _ in prompts]
        for choice in sorted(answer["choices"], key=lambda c: c["index"]):
            lp = choice.get("logprobs") or {}
            ids = [int(str(t).split(":", 1)[1]) for t in lp.get("tokens", [])]
            logps = [float(x) for x in lp.get("token_logprobs", [])]
            groups[choice["index"] // n].append(Completion(ids, logps))
        return groups

    def _greedy(self) -> list[int]:
        ids, k = self.probe
        body = {
            "model": self.model, "prompt": [ids], "max_tokens": k, "temperature": 0.0, "logprobs": 0,
            "return_tokens_as_token_ids": True, "ignore_eos": True,
        }  # fmt: skip
        answer = _post(f"{self.url}/v1/completions", body, timeout=self.timeout)
        return [int(str(t).split(":", 1)[1]) for t in answer["choices"][0]["logprobs"]["tokens"]]

    def probe_matches(self) -> bool:
        return greedy_agrees(self.trainer, self.probe, self._greedy())

    def sync(self, *, step: int) -> SyncReport:
        started = time.perf_counter()
        path = self.export(step)
        if self.mode == "reload":
            try:
                _post(
                    f"{self.url}/collective_rpc",
                    {"method": "reload_weights", "kwargs": {"weights_path": str(path)}},
                    timeout=self.timeout,
                )
                # KV blocks cached for earlier prompts hold the old weights' keys and values: drop them.
                _post(f"{self.url}/reset_prefix_cache", {}, timeout=self.timeout)
                if self.probe_matches():
                    return SyncReport("reload", True, time.perf_counter() - started)
                log.warning(
                    "step %d: the greedy probe differs after reload_weights; restarting the server", step
                )
            except GeneratorError as error:
                log.warning("step %d: reload_weights failed (%s); restarting the server", step, error)
        if self.restart is None:
            raise GeneratorError(
                f"step {step}: could not confirm that {self.url} serves the new weights (greedy probe) and no "
                "restart is configured; start the server with VLLM_SERVER_DEV_MODE=1 or use generator.sync restart"
            )
        self.restart(path)
        if not self.probe_matches():
            raise GeneratorError(
                f"step {step}: after a restart on {path} the greedy probe still differs from the trainer's"
            )
        return SyncReport("restart", True, time.perf_counter() - started)
