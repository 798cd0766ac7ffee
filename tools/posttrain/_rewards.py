"""Rewards from the policy files: every ``alignment:`` rule is a named reward component in [0, 1].

:func:`load_alignment` collects the rules of the files in force into an :class:`AlignmentPolicy` (with the
files' sha256 and one hash of the whole rule set, for the ledger). :meth:`AlignmentPolicy.score` scores a
batch of (prompt, completion, record) samples rule by rule: ``scores[rule_id][i]`` is 1 when sample ``i``
complies, 0 when it violates (the total reward is the weight-normalised mean). :func:`violation_rate` is the
same judgement read as an evaluation metric: the share of outputs that break at least one rule, and per rule.

A rule that raises, or does not score its batch within its ``timeout_s``, is a :class:`RewardRuleError` naming
the rule and its file; code the model wrote that fails, loops or crashes in the sandbox is a violation, not
an error. Sandboxed checks (``passes_tests``) run in a bounded pool of ``workers`` threads, each one sandbox.
"""

from __future__ import annotations

import ast
import concurrent.futures as futures
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policies import AlignmentRule, load_policies
from vibe.core.errors import UserError

__all__ = [
    "AlignmentPolicy",
    "FunctionReward",
    "RewardRuleError",
    "Sample",
    "Scores",
    "ViolationReport",
    "load_alignment",
    "violation_rate",
]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:```|\Z)", re.S)


class RewardRuleError(UserError):
    """A reward rule failed to score (raised or timed out): names the rule and its policy file."""

    def __init__(self, rule_id: str, source: str, why: str) -> None:
        super().__init__(f"reward rule {rule_id!r} ({source}): {why}")
        self.rule_id = rule_id


@dataclass(frozen=True)
class Sample:
    prompt: str  # the prompt's text (its messages' contents)
    completion: str  # the output judged
    record: dict[str, Any] = field(default_factory=dict)  # the prompt's data record (tests, answers...)
    where: str = ""  # file:line of the record, for errors


@dataclass(frozen=True)
class Scores:
    per_rule: dict[str, list[float]]  # rule id -> one score per sample
    total: list[float]  # weight-normalised mean over rules
    seconds: dict[str, float]  # rule id -> wall seconds spent

    def violations(self) -> list[bool]:
        """Per sample: does it break at least one rule."""
        return [any(s[i] < 1.0 for s in self.per_rule.values()) for i in range(len(self.total))]


@dataclass(frozen=True)
class ViolationReport:
    samples: int
    policy_violation_rate: float  # share of outputs breaking >= 1 rule
    per_rule: dict[str, float]  # rule id -> share of outputs breaking it
    mean_reward: float


def code_of(text: str) -> str:
    """The first fenced code block of ``text`` (its body), else ``text`` itself."""
    match = _FENCE.search(text)
    return match.group(2) if match else text


def _parses(text: str, language: str) -> bool:
    code = code_of(text)
    try:
        ast.parse(code) if language == "python" else json.loads(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _has_any(text: str, phrases: Sequence[str]) -> bool:
    low = text.lower()
    return any(p.lower() in low for p in phrases)


def _findings(text: str, category: str) -> bool:
    from tools.data import scan_text

    return any(f.category == category for f in scan_text(text))


def _tests(rule: Any, samples: Sequence[Sample], workers: int) -> list[float]:
    import sandbox

    limits = sandbox.Limits(
        wall_seconds=rule.wall_seconds, cpu_seconds=rule.cpu_seconds, memory_mb=rule.memory_mb
    )
    jobs: list[str | None] = []
    for s in samples:
        if rule.tests_field not in s.record:
            raise ValueError(
                f"the prompt record at {s.where or '?'} has no field {rule.tests_field!r} (tests_field)"
            )
        tests = s.record[rule.tests_field]
        if tests is not None and not isinstance(tests, str):
            raise ValueError(f"{s.where or '?'}: field {rule.tests_field!r} must be Python source or null")
        jobs.append(None if tests is None else f"{code_of(s.completion)}\n\n{tests}\n")

    def one(code: str | None) -> float:
        return 1.0 if code is None else float(sandbox.run_python(code, limits=limits).ok)

    with futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, jobs))


def score_rule(rule: Any, samples: Sequence[Sample], *, workers: int = 2) -> list[float]:
    """One rule's score (1 complies, 0 violates) for each sample. Raises whatever the rule's check raises."""
    kind = rule.type
    if kind == "forbidden_patterns":
        flags = re.IGNORECASE if rule.ignore_case else 0
        patterns = [re.compile(p, flags) for p in rule.patterns]
        return [float(not any(p.search(s.completion) for p in patterns)) for s in samples]
    if kind == "no_secrets":
        return [float(not _findings(s.completion, "secret")) for s in samples]
    if kind == "no_personal_data":
        return [float(not _findings(s.completion, "personal_data")) for s in samples]
    if kind == "must_parse":
        return [float(_parses(s.completion, rule.language)) for s in samples]
    if kind == "passes_tests":
        return _tests(rule, samples, workers)
    if kind == "length":
        lo, hi = rule.min_chars or 0, rule.max_chars
        return [float(lo <= len(s.completion) and (hi is None or len(s.completion) <= hi)) for s in samples]
    if kind == "required_phrases":
        when = re.compile(rule.when_prompt_matches) if rule.when_prompt_matches else None
        return [
            float(
                (when is not None and not when.search(s.prompt))
                or all(p.lower() in s.completion.lower() for p in rule.phrases)
            )
            for s in samples
        ]
    if kind == "refusal":
        topics = [re.compile(t) for t in rule.topics]
        return [
            float(not any(t.search(s.prompt) for t in topics) or _has_any(s.completion, rule.phrases))
            for s in samples
        ]
    raise ValueError(f"unknown rule type {kind!r}")


@dataclass(frozen=True)
class AlignmentPolicy:
    """The alignment rules in force, where each came from, and the hashes the ledger records."""

    rules: tuple[Any, ...]  # AlignmentRule
    sources: dict[str, str]  # rule id -> policy file
    policy_hashes: dict[str, str]  # policy file -> sha256
    rules_hash: str  # sha256 of the canonical JSON of every rule, in order

    @property
    def rule_ids(self) -> list[str]:
        return [r.id for r in self.rules]

    def describe(self) -> list[dict[str, Any]]:
        """The rules as JSON (for the run's ``alignment.json``)."""
        return [r.model_dump(mode="json") for r in self.rules]

    def score(self, samples: Sequence[Sample], *, workers: int = 2) -> Scores:
        """Every rule over ``samples``, each bounded by its ``timeout_s``; RewardRuleError if one fails."""
        import time

        per_rule: dict[str, list[float]] = {}
        seconds: dict[str, float] = {}
        pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="reward")
        try:
            for rule in self.rules:
                started = time.perf_counter()
                job = pool.submit(score_rule, rule, samples, workers=workers)
                try:
                    per_rule[rule.id] = job.result(timeout=rule.timeout_s)
                except futures.TimeoutError:
                    raise RewardRuleError(
                        rule.id, self.sources[rule.id],
                        f"timed out: did not score {len(samples)} outputs within its timeout_s {rule.timeout_s:g} s",
                    ) from None  # fmt: skip
                except Exception as error:
                    raise RewardRuleError(
                        rule.id, self.sources[rule.id], f"failed: {type(error).__name__}: {error}"
                    ) from None
                seconds[rule.id] = time.perf_counter() - started
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        weights = {r.id: r.weight for r in self.rules}
        norm = sum(weights.values())
        total = [sum(weights[k] * per_rule[k][i] for k in per_rule) / norm for i in range(len(samples))]
        return Scores(per_rule, total, seconds)


@dataclass(frozen=True)
class FunctionReward:
    """A reward written as code rather than policy rules: ``components(samples)`` returns, per named component,
    one score in [0, 1] per sample; the total is the ``weights``-normalised mean (as for policy rules).

    Same face as :class:`AlignmentPolicy` for the RL loop (``score``, ``rule_ids``, the hashes it records):
    ``name`` and ``version`` stand for the code that defines the reward in the ledger.
    """

    name: str
    version: str
    components: Any  # Callable[[Sequence[Sample]], dict[str, list[float]]]
    weights: dict[str, float]

    @property
    def rules(self) -> tuple[Any, ...]:
        return ()

    @property
    def rule_ids(self) -> list[str]:
        return list(self.weights)

    @property
    def policy_hashes(self) -> dict[str, str]:
        return {}

    @property
    def rules_hash(self) -> str:
        canonical = json.dumps(
            {"name": self.name, "version": self.version, "weights": self.weights}, sort_keys=True
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"id": k, "weight": w, "type": f"code:{self.name}@{self.version}"}
            for k, w in self.weights.items()
        ]

    def score(self, samples: Sequence[Sample], *, workers: int = 2) -> Scores:
        import time

        started = time.perf_counter()
        try:
            per_rule = self.components(samples)
        except Exception as error:
            raise RewardRuleError(self.name, "code", f"failed: {type(error).__name__}: {error}") from None
        missing = set(self.weights) - set(per_rule)
        if missing or any(len(v) != len(samples) for v in per_rule.values()):
            raise RewardRuleError(
                self.name, "code", f"components {sorted(missing)} missing or of the wrong length"
            )
        norm = sum(self.weights.values())
        total = [sum(w * per_rule[k][i] for k, w in self.weights.items()) / norm for i in range(len(samples))]
        spent = time.perf_counter() - started
        return Scores({k: per_rule[k] for k in self.weights}, total, {k: spent for k in self.weights})


def load_alignment(paths: Sequence[str | Path]) -> AlignmentPolicy:
    """The ``alignment:`` rules of the policy files ``paths`` (validated by ``policies.load_policies``)."""
    if not paths:
        raise UserError("no policy file given: pass --policy FILE (a policy file with an alignment: section)")
    policy_set = load_policies(list(paths))
    rules: list[AlignmentRule] = []
    sources: dict[str, str] = {}
    for source in policy_set.sources:
        if source.policy.alignment is None:
            continue
        for rule in source.policy.alignment.rules:
            if rule.id in sources:
                raise UserError(
                    f"{source.path}: alignment rule id {rule.id!r} is also defined in {sources[rule.id]}"
                )
            rules.append(rule)
            sources[rule.id] = str(source.path)
    if not rules:
        raise UserError(
            f"{', '.join(str(p) for p in paths)}: no alignment: section with rules; add one (see policies/_alignment.py)"
        )
    canonical = json.dumps([r.model_dump(mode="json") for r in rules], sort_keys=True, separators=(",", ":"))
    return AlignmentPolicy(
        rules=tuple(rules),
        sources=sources,
        policy_hashes=dict(policy_set.policy_hashes),
        rules_hash=hashlib.sha256(canonical.encode()).hexdigest(),
    )


def violation_rate(
    policy: AlignmentPolicy, samples: Sequence[Sample], *, workers: int = 2
) -> ViolationReport:
    """The policy violation rate of ``samples``: what evaluation and release gates read."""
    if not samples:
        raise ValueError("violation_rate: no samples")
    scores = policy.score(samples, workers=workers)
    n = len(samples)
    return ViolationReport(
        samples=n,
        policy_violation_rate=sum(scores.violations()) / n,
        per_rule={k: sum(v < 1.0 for v in s) / n for k, s in scores.per_rule.items()},
        mean_reward=sum(scores.total) / n,
    )
