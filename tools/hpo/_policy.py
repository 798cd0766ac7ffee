"""The search and the policy gate: what the gate is asked about, and the model size limit found through it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policies import Gate, GateDecision

if TYPE_CHECKING:
    from trainers import RunConfig

__all__ = ["ask_gate", "data_paths", "policy_max_parameters"]


def policy_max_parameters(gate: Gate, *, attributes: dict[str, Any], upper: int) -> int | None:
    """The largest parameter count the policy allows for ``hpo.search``, through ``gate.check`` alone.

    The gate protocol has no "what is the limit" question, and ``tools`` may not reach into
    ``vibe.agent``'s policy objects, so this bisects: a count is over the limit when the decision's rule ids
    name ``models.max_parameters``. Returns None when ``upper`` (the space's largest model) is allowed.
    About 40 pure, in-memory checks.
    """

    def over(n: int) -> bool:
        decision = gate.check(kind="hpo.search", attributes={**attributes, "parameters": n})
        return any(str(r).endswith("models.max_parameters") for r in decision.rule_ids)

    if not over(upper):
        return None
    lo, hi = 0, upper  # lo allowed (or 0), hi over
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if over(mid) else (mid, hi)
    return lo


def data_paths(base: RunConfig) -> list[str]:
    """The dataset directories and, from their manifests, the raw inputs they were made from (the policy's
    data classification applies to those)."""
    paths: list[str] = []
    for source in base.data.sources:
        root = Path(source.path).resolve()
        paths.append(str(root))
        try:
            manifest = json.loads((root / "manifest.json").read_text())
            paths += [str(Path(p).resolve()) for p in manifest.get("config", {}).get("inputs", [])]
        except (OSError, ValueError):
            pass
    return list(dict.fromkeys(paths))


def ask_gate(gate: Gate | None, attributes: dict[str, Any]) -> GateDecision | None:
    if gate is None:
        return None
    return gate.check(kind="hpo.search", attributes={k: v for k, v in attributes.items() if v is not None})
