"""One validation for both readers: every field of an intent is checked against the request's own text.

A number must be written in the request (in some unit), a path must appear in it (and every path it names
must be used), a run must be named or referred to ("the last run"), a kind needs words that ask for it, a
search cannot be on when the request says "don't tune". The rules pass by construction; an LLM draft that
invents a value is rejected with the field and the reason, which go back to the LLM once.
"""

from __future__ import annotations

import re
from typing import Any

from vibe.agent._intent import Intent, Reading
from vibe.agent._rules import (
    TEMPLATE_NAMES,
    kind_evidence,
    normalize,
    templates_named,
    tune_negated,
    wants_tuning,
)
from vibe.agent._text import (
    LR_WORDS,
    find_gpu_hours,
    find_hours,
    find_money,
    find_paths,
    find_samples,
    find_until,
    moe_named,
    numbers_in,
    output_paths,
    sizes_in,
    steps_factor,
)

__all__ = ["IntentError", "validate_intent", "validate_reading"]


class IntentError(ValueError):
    """An intent that the request's text does not back up; ``problems`` lists each field and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


_NODES_X_GPUS = re.compile(r"\b(\d+)\s*(?:x|\*|×|nodes?\s+(?:of|with|x)|nodes?\s*,)\s*(\d+)\b")


def _written(value: float, numbers: set[float], *, scales: tuple[float, ...] = (1.0,)) -> bool:
    return any(abs(value - n * s) <= 1e-6 * max(1.0, abs(value)) for n in numbers for s in scales)


def _check(field: str, ok: bool, why: str, problems: list[str]) -> None:
    if not ok:
        problems.append(f"{field}: {why}")


def validate_intent(request: str, intent: Intent) -> list[str]:
    """The problems of ``intent`` as a reading of ``request`` (empty: it is backed by the text)."""
    text = normalize(request)
    problems: list[str] = []
    numbers = numbers_in(text)
    named_paths, urls = find_paths(request)
    kind = intent.kind
    if kind != "unclear":
        _check("k", kind_evidence(kind, text, request), f"nothing in the request asks to {kind}", problems)
    fields: dict[str, Any] = intent.model_dump()

    if fields.get("parameters") is not None:
        _check("size", fields["parameters"] in sizes_in(text), "the request names no such size", problems)
    if "architecture" in fields:
        moe = moe_named(text)
        _check("moe", (fields["architecture"] == "moe") == moe,
               "mixture of experts is " + ("named" if moe else "not named"), problems)  # fmt: skip
    data = list(fields.get("data") or [])
    for path in data:
        _check("data", path.startswith("/"), f"{path!r} is not an absolute path", problems)
        _check("data", path in named_paths, f"{path!r} does not appear in the request", problems)
        _check(
            "data", not any(path in u for u in urls), f"{path!r} is part of a URL: never a source", problems
        )
    run = fields.get("run")
    if kind in ("train", "estimate", "tune", "synth", "continue", "post_train", "eval"):
        used = set(data) | {u for u in (run, fields.get("base_model")) if u}
        outputs = output_paths(request)  # where to write: never data, never missing
        missing = [p for p in named_paths if p not in used and p not in outputs
                   and not any(p.startswith(u) for u in used if u)]  # fmt: skip
        _check("data", not missing, f"paths named but not used: {', '.join(missing)}", problems)
    read_value = {
        "hours": find_hours,
        "gpu_hours": find_gpu_hours,
        "money": find_money,
        "samples": lambda t: find_samples(t, kinds=len(templates_named(t))),
    }
    for name, scales in (("gpu_hours", (1.0,)), ("money", (1.0,)), ("hours", (1.0, 24.0, 168.0, 1 / 60)),
                         ("samples", (1.0,)), ("more_steps", (1.0,))):  # fmt: skip
        if fields.get(name) is not None:
            read = read_value[name](text) if name in read_value else None  # "within a week": no digit, 168 h
            backed = _written(fields[name], numbers, scales=scales) or (read is not None and _written(
                fields[name], {read}))  # fmt: skip
            _check(name, backed, "the request names no such number", problems)
    if fields.get("num_experts") not in (None, 8):
        _check("experts", _written(fields["num_experts"], numbers), "no such expert count", problems)
    if fields.get("until"):
        hour = int(fields["until"][:2])
        _check("until", _written(hour, numbers) or _written(hour - 12, numbers) or find_until(text) == fields["until"],
               f"the request names no {fields['until']}", problems)  # fmt: skip
    cluster = fields.get("cluster")
    if cluster:
        products = {int(a) * int(b) for a, b in _NODES_X_GPUS.findall(text)}  # "4 x 8", "4 nodes of 8"
        _check("gpus", _written(cluster["gpus"], numbers) or cluster["gpus"] in products or bool(
            re.search(r"\d+\s*nodes?", text)), "the request names no such GPU count", problems)  # fmt: skip
        if cluster.get("gpu"):
            family = cluster["gpu"].split("-")[0].lower()
            _check("gpu", family in text, f"the request names no {cluster['gpu']}", problems)
    if isinstance(run, str) and run:
        if run == "last":
            _check("run", bool(re.search(r"\b(?:last|latest|most recent|previous|the|that|my|it|this|left off)\b", text)),
                   "the request refers to no earlier run", problems)  # fmt: skip
        elif run == "yesterday":
            _check("run", "yesterday" in text, "the request says nothing of yesterday", problems)
        else:
            _check(
                "run", run.lower() in text or run in request, f"{run!r} is not named in the request", problems
            )
    if fields.get("lr_factor") is not None:
        factor = fields["lr_factor"]
        backed = _written(factor, numbers) or _written(1 / factor, numbers) or _written(factor * 100, numbers) \
            or bool(re.search(LR_WORDS.get(round(factor, 3), r"(?!)"), text))  # fmt: skip
        _check("lr", backed, f"the request names no learning-rate factor {factor:g}", problems)
    if fields.get("steps_factor") is not None:
        _check("steps", _written(fields["steps_factor"], numbers) or steps_factor(text) == fields["steps_factor"]
               or (fields["steps_factor"] == 2 and bool(re.search(r"twice|double", text))),
               "the request names no such multiple of the steps", problems)  # fmt: skip
    if fields.get("search"):
        _check("tune", wants_tuning(text), "the request asks for no search"
               + (" (it says not to tune)" if tune_negated(text) else ""), problems)  # fmt: skip
    if fields.get("gates"):
        _check(
            "gates", bool(re.search(r"\bgates?\b|release|criteria|ready", text)), "no gates named", problems
        )
    if fields.get("templates"):
        unknown = [t for t in fields["templates"] if t not in TEMPLATE_NAMES]
        _check("templates", not unknown, f"unknown templates {unknown}", problems)
    if fields.get("base_model"):
        _check("base", fields["base_model"].lower() in text, "the base model is not named", problems)
    return problems


def validate_reading(reading: Reading) -> Reading:
    """``reading`` if its intent is backed by the request; raises :class:`IntentError` otherwise."""
    problems = validate_intent(reading.request, reading.intent)
    if problems:
        raise IntentError(problems)
    return reading
