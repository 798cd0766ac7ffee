"""Evaluation: a loaded :class:`PolicySet` turns an :class:`Action` (and today's :class:`Usage`) into a :class:`Decision`.

Every file that applies (organisation files always, a team file when the action's team is its team) is
evaluated; each of its sections and rules adds :class:`Finding` s. Sections are constraints on any action
that carries their attribute (a path, GPU hours, a URL, ...) and also *govern* a few kinds (see
``GOVERNS``): when such an action passes every check of the section, the section allows it. Combination:

1. any ``deny`` finding -> deny (deny beats everything, in whichever file it fires);
2. else any ``require_approval`` -> require_approval (one approval per fired rule, by its groups);
3. else any ``allow`` -> allow;
4. else the default: the strictest ``default`` among the applying files (deny > require_approval > allow);
   when no file sets one, deny.

Evaluation is pure (no I/O, no clock) and compiled at load time: globs are regexes, URLs are parsed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from policies._action import ACTION_KINDS, TRAINING_KINDS, Action, TeamUsage, Usage
from policies._match import Endpoint, compile_glob, kind_pattern_matches, normalize_path, under_root
from policies._schema import ApproverGroup, Condition, Effect, HoursLimit, PolicyFile, Retention, Rule

__all__ = ["GOVERNS", "Decision", "Finding", "PolicySet", "PolicySource"]

RANK: dict[str, int] = {"allow": 0, "require_approval": 1, "deny": 2}
HANDLING_RANK = {"redact": 0, "drop": 1, "block": 2}
# The kinds a section allows when they pass all of its checks (a section constrains other kinds too).
GOVERNS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "data": frozenset({"data.profile", "data.ingest", "data.tokenize"}),
        "compute": frozenset({"train.run", "hpo.search", "eval.run"}),
        "endpoints": frozenset({"llm.call"}),
        "synthetic": frozenset({"synth.generate"}),
        "evaluation": frozenset({"model.release"}),
    }
)
MODEL_KINDS = frozenset({"train.run", "hpo.search"})  # must state parameters/architecture when limited
RETENTION_KINDS = {
    "ledger.prune": "ledger_days",
    "run.delete": "runs_days",
    "approvals.prune": "approvals_days",
}
_NO_USAGE = Usage()


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired: its id (``<policy name>:<rule>``), effect, reason and, for approvals, the groups."""

    rule: str
    effect: Effect
    reason: str
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one action. ``rules`` are the ids of the findings that decided it."""

    effect: Effect
    rules: tuple[str, ...]
    reason: str
    findings: tuple[Finding, ...]
    obligations: Mapping[str, str]
    labels: tuple[str, ...]
    policy_hashes: Mapping[str, str]

    @property
    def approvals(self) -> tuple[Finding, ...]:
        """The approvals needed, one per fired rule (empty unless ``effect`` is require_approval)."""
        if self.effect != "require_approval":
            return ()
        return tuple(f for f in self.findings if f.effect == "require_approval")

    def to_json(self) -> dict[str, Any]:
        return {
            "effect": self.effect,
            "rules": list(self.rules),
            "reason": self.reason,
            "findings": [
                {"rule": f.rule, "effect": f.effect, "reason": f.reason, "approvers": list(f.approvers)}
                for f in self.findings
            ],
            "obligations": dict(self.obligations),
            "labels": list(self.labels),
            "policy_hashes": dict(self.policy_hashes),
        }


@dataclass(frozen=True)
class PolicySource:
    """One loaded file: where it came from, the sha256 of its bytes, and its validated content."""

    path: Path
    sha256: str
    policy: PolicyFile
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    def line(self, *loc: str | int) -> int | None:
        """Line of the deepest part of ``loc`` present in the file."""
        key = tuple(str(p) for p in loc)
        return next((self.lines[key[:i]] for i in range(len(key), 0, -1) if key[:i] in self.lines), None)


class _Compiled:
    """One policy file, prepared for fast evaluation."""

    def __init__(self, policy: PolicyFile) -> None:
        self.p = policy
        self.name = policy.name
        self.team = policy.team if policy.scope == "team" else None
        data = policy.data
        self.roots = tuple(data.roots) if data and data.roots is not None else None
        self.classes = tuple((compile_glob(c.paths), c.label) for c in data.classification) if data else ()
        self.endpoints = tuple(Endpoint.parse(u) for u in policy.endpoints.llm) if policy.endpoints else None
        self.rules = tuple(_CompiledRule.of(self.name, r) for r in policy.rules)

    def findings(
        self,
        action: Action,
        paths: tuple[str, ...],
        labels: frozenset[str],
        usage: _UsageView,
        out: list[Finding],
    ) -> None:
        """Append the findings of this file for ``action`` (``paths``: its paths, normalized) to ``out``."""
        if self.p.data is not None and (paths or action.labels or action.findings):
            self._data(action, paths, labels, out)
        if self.p.compute is not None:
            self._compute(action, usage, out)
        if self.p.models is not None:
            self._models(action, out)
        if self.endpoints is not None:
            self._endpoints(action, out)
        if self.p.synthetic is not None and action.kind == "synth.generate":
            self._synthetic(action, usage, out)
        if self.p.evaluation is not None and action.kind == "model.release":
            self._evaluation(action, out)
        if self.p.retention is not None and action.kind in RETENTION_KINDS:
            self._retention(action, out)
        for rule in self.rules:
            if rule.applies(action, labels):
                out.append(rule.finding)

    # -- sections ---------------------------------------------------------------------------------------

    def _data(
        self, action: Action, paths: tuple[str, ...], labels: frozenset[str], out: list[Finding]
    ) -> None:
        data, n, start = self.p.data, self.name, len(out)
        assert data is not None
        if self.roots is not None:
            for path in paths:
                if not any(under_root(path, root) for root in self.roots):
                    allowed = ", ".join(self.roots) or "none"
                    out.append(
                        Finding(
                            f"{n}:data.roots", "deny", f"{n}: {path} is outside the data roots ({allowed})"
                        )
                    )
        if action.kind in TRAINING_KINDS:
            bad = labels.intersection(data.forbidden_in_training)
            if bad:
                out.append(
                    Finding(
                        f"{n}:data.forbidden_in_training",
                        "deny",
                        f"{n}: data labelled {', '.join(sorted(bad))} may not be used for training",
                    )
                )
        for finding, handling in (("secrets", data.secrets), ("personal_data", data.personal_data)):
            if handling == "block" and finding in action.findings:
                what = finding.replace("_", " ")
                out.append(
                    Finding(f"{n}:data.{finding}", "deny", f"{n}: the data holds {what}; policy blocks it")
                )
        gated = labels.intersection(data.approval_labels)
        if gated:
            out.append(
                Finding(
                    f"{n}:data.approval_labels",
                    "require_approval",
                    f"{n}: touching data labelled {', '.join(sorted(gated))} needs approval",
                    tuple(data.approvers),
                )
            )
        if len(out) == start and self.roots is not None and action.paths and action.kind in GOVERNS["data"]:
            out.append(Finding(f"{n}:data", "allow", f"{n}: every path is inside the data roots"))

    def _compute(self, action: Action, usage: _UsageView, out: list[Finding]) -> None:
        compute, n, start = self.p.compute, self.name, len(out)
        assert compute is not None
        if action.gpu_hours is None and action.cpu_hours is None:
            if action.kind in GOVERNS["compute"]:
                out.append(
                    Finding(
                        f"{n}:compute.estimate",
                        "deny",
                        f"{n}: {action.kind} states neither gpu_hours nor cpu_hours, so its limits cannot be checked",
                    )
                )
            return
        asked = _Hours(action.gpu_hours or 0.0, action.cpu_hours or 0.0)
        if compute.per_run is not None:
            for what, amount, limit in _over(compute.per_run, asked, None):
                out.append(
                    Finding(
                        f"{n}:compute.per_run",
                        "deny",
                        f"{n}: {what} {amount:g} exceeds the per-run limit {limit:g}",
                    )
                )
        if compute.per_day is not None:
            for what, amount, limit in _over(compute.per_day, asked, usage.total()):
                out.append(
                    Finding(
                        f"{n}:compute.per_day",
                        "deny",
                        f"{n}: {what} {amount:g} (today's use + this run) exceeds the organisation's daily limit {limit:g}",
                    )
                )
        if compute.per_team_per_day:
            team = action.team
            limits = compute.per_team_per_day.get(team) if team else None
            limits = limits or compute.per_team_per_day.get("*")
            if team is None:
                out.append(
                    Finding(
                        f"{n}:compute.per_team_per_day",
                        "deny",
                        f"{n}: the action names no team, so the per-team daily limits cannot be checked",
                    )
                )
            elif limits is not None:
                for what, amount, limit in _over(limits, asked, usage.team(team)):
                    out.append(
                        Finding(
                            f"{n}:compute.per_team_per_day",
                            "deny",
                            f"{n}: {what} {amount:g} (team {team} today + this run) exceeds its daily limit {limit:g}",
                        )
                    )
        if compute.approval_above is not None:
            over = _over(compute.approval_above, asked, None)
            if over:
                what = "; ".join(f"{w} {a:g} is above {lim:g}" for w, a, lim in over)
                out.append(
                    Finding(
                        f"{n}:compute.approval_above",
                        "require_approval",
                        f"{n}: {what}, which needs approval",
                        tuple(compute.approvers),
                    )
                )
        if len(out) == start and action.kind in GOVERNS["compute"]:
            out.append(Finding(f"{n}:compute", "allow", f"{n}: within the compute limits"))

    def _models(self, action: Action, out: list[Finding]) -> None:
        models, n = self.p.models, self.name
        assert models is not None
        if models.max_parameters is not None:
            if action.parameters is None:
                if action.kind in MODEL_KINDS:
                    out.append(
                        Finding(
                            f"{n}:models.max_parameters",
                            "deny",
                            f"{n}: {action.kind} does not state its parameters",
                        )
                    )
            elif action.parameters > models.max_parameters:
                out.append(
                    Finding(
                        f"{n}:models.max_parameters",
                        "deny",
                        f"{n}: {_count(action.parameters)} parameters exceed the limit {_count(models.max_parameters)}",
                    )
                )
        if models.architectures is not None:
            if action.architecture is None:
                if action.kind in MODEL_KINDS:
                    out.append(
                        Finding(
                            f"{n}:models.architectures",
                            "deny",
                            f"{n}: {action.kind} does not state its architecture",
                        )
                    )
            elif action.architecture not in models.architectures:
                allowed = ", ".join(models.architectures) or "none"
                out.append(
                    Finding(
                        f"{n}:models.architectures",
                        "deny",
                        f"{n}: architecture {action.architecture} is not allowed (allowed: {allowed})",
                    )
                )
        threshold = models.approval_above_parameters
        if threshold is not None and action.parameters is not None and action.parameters > threshold:
            out.append(
                Finding(
                    f"{n}:models.approval_above_parameters",
                    "require_approval",
                    f"{n}: {_count(action.parameters)} parameters is above {_count(threshold)}, which needs approval",
                    tuple(models.approvers),
                )
            )

    def _endpoints(self, action: Action, out: list[Finding]) -> None:
        assert self.endpoints is not None
        n = self.name
        if action.url is None:
            if action.kind == "llm.call":
                out.append(Finding(f"{n}:endpoints.llm", "deny", f"{n}: llm.call names no url"))
            return
        try:
            target = Endpoint.parse(action.url)
        except ValueError as error:
            out.append(Finding(f"{n}:endpoints.llm", "deny", f"{n}: {error}"))
            return
        if not any(allowed.allows(target) for allowed in self.endpoints):
            listed = ", ".join(str(e) for e in self.endpoints) or "none"
            out.append(
                Finding(
                    f"{n}:endpoints.llm", "deny", f"{n}: {action.url} is not an allowed endpoint ({listed})"
                )
            )
        elif action.kind in GOVERNS["endpoints"]:
            out.append(Finding(f"{n}:endpoints.llm", "allow", f"{n}: {action.url} is an allowed endpoint"))

    def _synthetic(self, action: Action, usage: _UsageView, out: list[Finding]) -> None:
        synth, n, start = self.p.synthetic, self.name, len(out)
        assert synth is not None
        if not synth.enabled:
            out.append(Finding(f"{n}:synthetic.enabled", "deny", f"{n}: synthetic data is not allowed"))
            return
        if synth.generators is not None and action.generator not in synth.generators:
            allowed = ", ".join(synth.generators) or "none"
            out.append(
                Finding(
                    f"{n}:synthetic.generators",
                    "deny",
                    f"{n}: generator {action.generator} is not allowed (allowed: {allowed})",
                )
            )
        capped = synth.max_volume_per_run, synth.max_volume_per_day, synth.approval_above_volume
        volume = action.volume
        if volume is None and any(c is not None for c in capped):
            out.append(
                Finding(f"{n}:synthetic.volume", "deny", f"{n}: synth.generate does not state its volume")
            )
            return
        volume = volume or 0
        if synth.max_volume_per_run is not None and volume > synth.max_volume_per_run:
            out.append(
                Finding(
                    f"{n}:synthetic.max_volume_per_run",
                    "deny",
                    f"{n}: volume {volume} exceeds the per-run cap {synth.max_volume_per_run}",
                )
            )
        if synth.max_volume_per_day is not None:
            today = usage.total().synthetic_volume + volume
            if today > synth.max_volume_per_day:
                out.append(
                    Finding(
                        f"{n}:synthetic.max_volume_per_day",
                        "deny",
                        f"{n}: volume {today} (today's + this run) exceeds the daily cap {synth.max_volume_per_day}",
                    )
                )
        if synth.approval_above_volume is not None and volume > synth.approval_above_volume:
            out.append(
                Finding(
                    f"{n}:synthetic.approval_above_volume",
                    "require_approval",
                    f"{n}: volume {volume} is above {synth.approval_above_volume}, which needs approval",
                    tuple(synth.approvers),
                )
            )
        if len(out) == start:
            out.append(Finding(f"{n}:synthetic", "allow", f"{n}: within the synthetic-data rules"))

    def _evaluation(self, action: Action, out: list[Finding]) -> None:
        evaluation, n, start = self.p.evaluation, self.name, len(out)
        assert evaluation is not None
        for gate in evaluation.gates:
            rule = f"{n}:evaluation.{gate.metric}"
            value = action.metrics.get(gate.metric)
            if value is None:
                out.append(
                    Finding(rule, "deny", f"{n}: metric {gate.metric} is missing; releases must report it")
                )
            elif gate.min is not None and value < gate.min:
                out.append(
                    Finding(rule, "deny", f"{n}: {gate.metric} {value:g} is below the gate {gate.min:g}")
                )
            elif gate.max is not None and value > gate.max:
                out.append(
                    Finding(rule, "deny", f"{n}: {gate.metric} {value:g} is above the gate {gate.max:g}")
                )
        if len(out) == start:
            out.append(Finding(f"{n}:evaluation", "allow", f"{n}: every evaluation gate passes"))

    def _retention(self, action: Action, out: list[Finding]) -> None:
        retention, n = self.p.retention, self.name
        assert retention is not None
        key = RETENTION_KINDS[action.kind]
        keep = getattr(retention, key)
        if keep is None:
            return
        if action.age_days is None:
            out.append(Finding(f"{n}:retention.{key}", "deny", f"{n}: {action.kind} does not state age_days"))
        elif action.age_days < keep:
            out.append(
                Finding(
                    f"{n}:retention.{key}",
                    "deny",
                    f"{n}: records {action.age_days:g} days old must be kept {keep} days",
                )
            )


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    """A free-form rule with its kind patterns expanded to the (closed) set of kinds they match."""

    kinds: frozenset[str]
    when: Condition | None
    labels: frozenset[str]
    finding: Finding

    @classmethod
    def of(cls, policy_name: str, rule: Rule) -> _CompiledRule:
        kinds = frozenset(k for k in ACTION_KINDS if any(kind_pattern_matches(p, k) for p in rule.kinds))
        finding = Finding(
            f"{policy_name}:{rule.id}", rule.effect, f"{policy_name}: {rule.reason}", tuple(rule.approvers)
        )
        labels = frozenset(rule.when.labels or ()) if rule.when else frozenset()
        return cls(kinds=kinds, when=rule.when, labels=labels, finding=finding)

    def applies(self, action: Action, labels: frozenset[str]) -> bool:
        if action.kind not in self.kinds:
            return False
        when = self.when
        if when is None:
            return True
        if when.teams is not None and action.team not in when.teams:
            return False
        if when.requesters is not None and action.requester not in when.requesters:
            return False
        return when.labels is None or not self.labels.isdisjoint(labels)


class _Hours(NamedTuple):
    gpu_hours: float
    cpu_hours: float


def _over(limit: HoursLimit, asked: _Hours, used: TeamUsage | None) -> list[tuple[str, float, float]]:
    """(resource, amount, limit) for each resource where used + asked exceeds limit."""
    over = []
    for what in ("gpu_hours", "cpu_hours"):
        cap = getattr(limit, what)
        amount = getattr(asked, what) + (getattr(used, what) if used is not None else 0.0)
        if cap is not None and amount > cap:
            over.append((what, amount, cap))
    return over


def _count(n: int) -> str:
    for scale, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= scale:
            return f"{n / scale:g}{suffix}"
    return str(n)


class _UsageView:
    """The usage snapshot with its organisation-wide total computed at most once per evaluation."""

    __slots__ = ("_total", "usage")

    def __init__(self, usage: Usage) -> None:
        self.usage = usage
        self._total: TeamUsage | None = None

    def team(self, name: str) -> TeamUsage:
        return self.usage.team(name)

    def total(self) -> TeamUsage:
        if self._total is None:
            self._total = self.usage.total()
        return self._total


class PolicySet:
    """The policy files in force, in order (organisation files, then team files). Build with ``load_policies``."""

    def __init__(self, sources: Sequence[PolicySource]) -> None:
        self.sources = tuple(sources)
        self._compiled = tuple(_Compiled(s.policy) for s in self.sources)
        self.policy_hashes: Mapping[str, str] = MappingProxyType(
            {str(s.path): s.sha256 for s in self.sources}
        )
        groups: dict[str, ApproverGroup] = {}
        teams: dict[str, frozenset[str]] = {}
        self.teams_source = "builtin"
        for source in self.sources:
            groups.update(source.policy.approvers)
            if source.policy.teams and source.policy.scope == "organisation":
                teams.update({t: frozenset(people) for t, people in source.policy.teams.items()})
                self.teams_source = source.policy.name
        self.groups: Mapping[str, ApproverGroup] = MappingProxyType(groups)
        self.teams: Mapping[str, frozenset[str]] = MappingProxyType(teams)

    def evaluate(self, action: Action, *, usage: Usage | None = None) -> Decision:
        """Judge ``action`` given today's ``usage`` (none used if omitted). Pure and fast.

        Team files only tighten: the organisation's files decide (their findings, else their default), and a
        team file's deny or require_approval can make that stricter; its allows never loosen it.
        """
        team, membership = self._team(action)
        files = [c for c in self._compiled if c.team is None or c.team == team]
        org_files = [c for c in files if c.team is None]
        paths = tuple(normalize_path(p) for p in action.paths)
        labels = self._labels(action, paths, files)
        view = _UsageView(usage or _NO_USAGE)
        org: list[Finding] = [*membership]
        for compiled in org_files:
            compiled.findings(action, paths, labels, view, org)
        teams: list[Finding] = []
        for compiled in files:
            if compiled.team is not None:
                compiled.findings(action, paths, labels, view, teams)
        obligations = self._obligations(action, files)
        if not org and not teams:
            findings = [self._default(action, files)]
        elif not org:  # only team findings: they can tighten the organisation's default, never loosen it
            findings = [*teams, self._default(action, files)]
        else:
            findings = [*org, *teams]
        tighter = [f for f in findings if f.effect != "allow" or f in org or f.rule.endswith(":default")]
        effect: Effect = max((f.effect for f in tighter), key=RANK.__getitem__)
        deciding = [f for f in findings if f.effect == effect]
        return Decision(
            effect=effect,
            rules=tuple(dict.fromkeys(f.rule for f in deciding)),
            reason="; ".join(dict.fromkeys(f.reason for f in deciding)),
            findings=tuple(findings),
            obligations=MappingProxyType(obligations),
            labels=tuple(sorted(labels)),
            policy_hashes=self.policy_hashes,
        )

    def _team(self, action: Action) -> tuple[str | None, list[Finding]]:
        """The team whose files apply, and a deny finding when the requester is not one of its members.

        Without a ``teams`` section the team is what the action says. With one, the policy decides: a claimed
        team must list the requester; a requester who belongs to exactly one team is judged as that team even
        when the action names none (so leaving the team out escapes nothing).
        """
        if not self.teams:
            return action.team, []
        where = self.teams_source
        mine = sorted(t for t, people in self.teams.items() if action.requester in people)
        if action.team is None:
            if len(mine) == 1:
                return mine[0], []
            if len(mine) > 1:
                reason = f"{action.requester} belongs to teams {', '.join(mine)}; the action must name one"
                return None, [Finding(f"{where}:teams", "deny", f"{where}: {reason}")]
            return None, []
        if action.requester is None or action.team not in mine:
            who = action.requester or "an action that names no requester"
            listed = ", ".join(self.teams.get(action.team, [])) or "nobody"
            reason = f"{who} is not a member of team {action.team} (the policy lists: {listed})"
            return action.team, [Finding(f"{where}:teams", "deny", f"{where}: {reason}")]
        return action.team, []

    @staticmethod
    def _labels(action: Action, paths: tuple[str, ...], files: Sequence[_Compiled]) -> frozenset[str]:
        """The action's labels plus each path's: the labels of every glob it matches, and the organisation's
        ``default_label`` when no organisation glob matches it (a team's classification cannot suppress it;
        a team's default_label applies when no glob at all matches)."""
        labels = set(action.labels)
        for path in paths:
            matched = {"org": False, "team": False}
            for compiled in files:
                for pattern, label in compiled.classes:
                    if pattern.match(path):
                        labels.add(label)
                        matched["team" if compiled.team else "org"] = True
            for compiled in files:
                data = compiled.p.data
                if data is None or data.default_label is None:
                    continue
                if not matched["org"] and (compiled.team is None or not matched["team"]):
                    labels.add(data.default_label)
        return frozenset(labels)

    @staticmethod
    def _obligations(action: Action, files: Sequence[_Compiled]) -> dict[str, str]:
        """What to do with secrets / personal data found in the data: the strictest handling of any file."""
        if not action.paths:
            return {}
        out: dict[str, str] = {}
        for compiled in files:
            data = compiled.p.data
            if data is None:
                continue
            for key, handling in (("secrets", data.secrets), ("personal_data", data.personal_data)):
                if handling is not None and HANDLING_RANK[handling] >= HANDLING_RANK.get(
                    out.get(key, ""), -1
                ):
                    out[key] = handling
        return out

    @staticmethod
    def _default(action: Action, files: Sequence[_Compiled]) -> Finding:
        chosen: _Compiled | None = None
        for compiled in files:  # strictest default wins; among equals, the later (more specific) file
            default = compiled.p.default
            if default is not None and (chosen is None or RANK[default] >= RANK[chosen.p.default or "allow"]):
                chosen = compiled
        if chosen is None or chosen.p.default is None:
            return Finding(
                "builtin:default",
                "deny",
                f"no rule covers {action.kind} and no policy file sets a default, so it is denied",
            )
        return Finding(
            f"{chosen.name}:default",
            chosen.p.default,
            f"{chosen.name}: no rule covers {action.kind}; the default is {chosen.p.default}",
            tuple(chosen.p.default_approvers),
        )

    # -- approvers and retention --------------------------------------------------------------------------

    def public_key(self, person: str) -> str | None:
        """``person``'s public key as written in the approvers section, or None if they are no approver."""
        for group in self.groups.values():
            if person in group.members:
                return group.members[person]
        return None

    def eligible_groups(self, *, person: str, groups: Sequence[str], kind: str) -> tuple[str, ...]:
        """Of ``groups`` (those a rule names), the ones ``person`` belongs to that may approve ``kind``."""
        out = []
        for name in groups:
            group = self.groups.get(name)
            if group is None or person not in group.members:
                continue
            if any(kind_pattern_matches(p, kind) for p in group.may_approve):
                out.append(name)
        return tuple(out)

    @property
    def retention(self) -> Retention:
        """The longest retention any file asks for, per record type."""
        merged: dict[str, Any] = {}
        for source in self.sources:
            if source.policy.retention is None:
                continue
            for key, days in source.policy.retention.model_dump().items():
                if key == "anchor_file":
                    if days is not None:
                        merged.setdefault(key, days)  # the first file that names one
                elif days is not None:
                    merged[key] = max(days, merged.get(key, 0))
        return Retention(**merged)
