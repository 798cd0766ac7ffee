"""Loading policy files: read, validate against the schema, check cross-references, and compose a set.

:func:`check_policies` reports every problem of every file (what ``vibe policy check`` prints);
:func:`load_policies` returns a :class:`PolicySet` or raises :class:`PolicyError` with all of them.
Each problem names the file, the line, the field, the value given and what is allowed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from policies._action import ACTION_KINDS
from policies._engine import RANK, PolicySet, PolicySource
from policies._match import kind_pattern_matches
from policies._schema import PolicyFile
from vibe.core.config import NOT_GIVEN, ConfigError, ConfigProblem, validate  # NOT_GIVEN: "no value given"
from vibe.core.errors import UserError
from vibe.core.yamlfile import read_yaml

__all__ = ["PolicyCheck", "PolicyError", "check_policies", "load_policies"]

# The kinds each section's approvers are asked about (to check a group named there may approve one of them).
_SECTION_KINDS = {
    "data": ACTION_KINDS,
    "compute": ("train.run", "hpo.search", "eval.run"),
    "models": ("train.run", "hpo.search", "model.release", "model.export"),
    "synthetic": ("synth.generate",),
}


class PolicyError(UserError):
    """Policy files that do not load. ``errors`` holds one :class:`ConfigError` per file with problems."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass
class PolicyCheck:
    """The outcome of checking files: problems per file, warnings, and the set when there were no problems."""

    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    policies: PolicySet | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def load_policies(paths: Sequence[str | Path]) -> PolicySet:
    """Load and compose ``paths`` (organisation files first, then team files) or raise :class:`PolicyError`."""
    check = check_policies(paths)
    if check.policies is None:
        raise PolicyError(check.errors)
    return check.policies


def check_policies(paths: Sequence[str | Path]) -> PolicyCheck:
    """Validate every file and the set they form; collect every problem instead of stopping at the first."""
    if not paths:
        raise UserError("no policy files given; pass at least one (e.g. policies/examples/research-lab.yaml)")
    result = PolicyCheck()
    sources: list[PolicySource] = []
    for path in paths:
        source, error = _read(Path(path))
        if error is not None:
            result.errors.append(error)
        if source is not None:
            sources.append(source)
    problems: dict[Path, list[ConfigProblem]] = {s.path: [] for s in sources}
    for source in sources:
        problems[source.path].extend(_file_problems(source))
    for source, problem in _set_problems(sources):
        problems[source.path].append(problem)
    for source in sources:
        if problems[source.path]:
            result.errors.append(ConfigError(source=str(source.path), problems=problems[source.path]))
    if not result.errors:
        result.warnings = list(_warnings(sources))
        result.policies = PolicySet(sources)
    return result


def _read(path: Path) -> tuple[PolicySource | None, ConfigError | None]:
    """Parse and schema-validate one file, keeping its bytes' sha256 and a line index for later problems."""
    source = str(path)
    try:
        document = read_yaml(path)  # the one bounded reader: aliases, depth and size are limited
    except ConfigError as error:
        return None, error
    root, data = document.root, document.data
    if not isinstance(data, dict):
        what = "is empty" if data is None else "must be a mapping of fields (version, name, ...)"
        return None, _error(source, "<top level>", data if data is not None else NOT_GIVEN, what)
    lines, duplicates = _scan(root)
    if duplicates:
        return None, ConfigError(source=source, problems=duplicates)
    try:
        policy = validate(PolicyFile, data, source=source, lines=lines)
    except ConfigError as error:
        return None, error
    digest = hashlib.sha256(document.text.encode("utf-8")).hexdigest()  # = the file's bytes
    return PolicySource(path=path, sha256=digest, policy=policy, lines=lines), None


def _error(source: str, field: str, given: Any, allowed: str) -> ConfigError:
    return ConfigError(source=source, problems=[ConfigProblem(field=field, given=given, allowed=allowed)])


def _scan(root: yaml.Node | None) -> tuple[dict[tuple[str, ...], int], list[ConfigProblem]]:
    """Line of every key path, and a problem for every key that appears twice in one mapping."""
    lines: dict[tuple[str, ...], int] = {}
    duplicates: list[ConfigProblem] = []

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                line = key.start_mark.line + 1
                if child in lines:
                    duplicates.append(
                        ConfigProblem(
                            field=".".join(child),
                            given=NOT_GIVEN,
                            allowed=f"appears twice (first on line {lines[child]}); keep one",
                            line=line,
                        )
                    )
                else:
                    lines[child] = line
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, str(i))] = item.start_mark.line + 1
                walk(item, (*path, str(i)))

    if root is not None:
        walk(root, ())
    return lines, duplicates


def _problem(source: PolicySource, loc: tuple[str | int, ...], given: Any, allowed: str) -> ConfigProblem:
    return ConfigProblem(
        field=".".join(str(p) for p in loc), given=given, allowed=allowed, line=source.line(*loc)
    )


def _file_problems(source: PolicySource) -> Iterator[ConfigProblem]:
    """Checks that relate fields of one file to each other."""
    p = source.policy
    if p.scope == "team" and p.team is None:
        yield _problem(source, ("scope",), p.scope, "a team-scoped file names its team: add `team: NAME`")
    if p.scope == "organisation" and p.team is not None:
        yield _problem(source, ("team",), p.team, "only a file with `scope: team` names a team; remove it")
    if p.scope == "team":
        if p.teams:
            yield _problem(
                source, ("teams",), list(p.teams), "team membership is listed in an organisation file only"
            )
        for i, rule in enumerate(p.rules):
            if rule.effect == "allow":
                yield _problem(
                    source,
                    ("rules", i, "effect"),
                    rule.effect,
                    "a team file can only tighten (deny or require_approval); an allow rule belongs in the "
                    "organisation's file",
                )
    if p.default == "require_approval" and not p.default_approvers:
        yield _problem(source, ("default",), p.default, "a require_approval default needs default_approvers")
    seen: dict[str, int] = {}
    for i, rule in enumerate(p.rules):
        if rule.id in seen:
            yield _problem(
                source, ("rules", i, "id"), rule.id, f"rule ids must be unique (also rules.{seen[rule.id]})"
            )
        seen.setdefault(rule.id, i)
        if rule.effect == "require_approval" and not rule.approvers:
            yield _problem(
                source, ("rules", i, "effect"), rule.effect, "a require_approval rule names its approvers"
            )
        if rule.effect != "require_approval" and rule.approvers:
            yield _problem(
                source,
                ("rules", i, "approvers"),
                rule.approvers,
                "only require_approval rules take approvers",
            )
    thresholds = {
        "data": (p.data, "approval_labels", lambda s: bool(s.approval_labels)),
        "compute": (p.compute, "approval_above", lambda s: s.approval_above is not None),
        "models": (p.models, "approval_above_parameters", lambda s: s.approval_above_parameters is not None),
        "synthetic": (p.synthetic, "approval_above_volume", lambda s: s.approval_above_volume is not None),
    }
    for name, (section, key, has_threshold) in thresholds.items():
        if section is not None and has_threshold(section) and not section.approvers:
            given = getattr(section, key)
            given = given.model_dump(exclude_none=True) if hasattr(given, "model_dump") else given
            yield _problem(source, (name, key), given, f"needs {name}.approvers: who may approve")
    if p.data is not None and p.data.roots == [] and p.data.classification:
        yield _problem(
            source, ("data", "roots"), [], "no roots means no data may be read; list the directories"
        )


def _set_problems(sources: Sequence[PolicySource]) -> Iterator[tuple[PolicySource, ConfigProblem]]:
    """Checks across the files of a set: unique names, approver groups and labels that resolve."""
    names: dict[str, PolicySource] = {}
    groups: dict[str, PolicySource] = {}
    keys: dict[str, tuple[str, str]] = {}  # person -> (key, where)
    labels: set[str] = set()
    for source in sources:
        p = source.policy
        if p.name in names:
            yield (
                source,
                _problem(source, ("name",), p.name, f"is also the name of {names[p.name].path}; rename one"),
            )
        names.setdefault(p.name, source)
        for group_name, group in p.approvers.items():
            if group_name in groups:
                other = groups[group_name].path
                yield (
                    source,
                    _problem(
                        source, ("approvers", group_name), group_name, f"group is already defined in {other}"
                    ),
                )
            groups.setdefault(group_name, source)
            for person, key in group.members.items():
                where = f"{source.path} approvers.{group_name}"
                if person in keys and keys[person][0] != key:
                    yield (
                        source,
                        _problem(
                            source,
                            ("approvers", group_name, "members", person),
                            key,
                            f"{person} has a different key in {keys[person][1]}; one person, one key",
                        ),
                    )
                keys.setdefault(person, (key, where))
        if p.data is not None:
            labels.update(p.data.labels)
    org_defaults = [s.policy.default or "deny" for s in sources if s.policy.scope == "organisation"]
    strictest = max(org_defaults, key=RANK.__getitem__) if org_defaults else "deny"
    members = {t for s in sources if s.policy.scope == "organisation" for t in s.policy.teams}
    for source in sources:
        p = source.policy
        if p.scope != "team":
            continue
        if p.default is not None and RANK[p.default] < RANK[strictest]:
            yield (
                source,
                _problem(
                    source,
                    ("default",),
                    p.default,
                    f"a team file can only tighten: the organisation's default is {strictest}; use "
                    f"{strictest} or stricter, or remove it",
                ),
            )
        if p.team is not None and p.team not in members:
            yield (
                source,
                _problem(
                    source,
                    ("team",),
                    p.team,
                    "team files need the organisation to list the team's members (teams: {"
                    f"{p.team}: [alice, ...]}} in an organisation file), so a team cannot be claimed",
                ),
            )
    group_defs = {name: src.policy.approvers[name] for name, src in groups.items()}
    for source in sources:
        for loc, group_name, kinds in _group_references(source.policy):
            group = group_defs.get(group_name)
            if group is None:
                known = ", ".join(sorted(group_defs)) or "none defined"
                yield source, _problem(source, loc, group_name, f"unknown approver group (defined: {known})")
            elif not any(kind_pattern_matches(pat, k) for pat in group.may_approve for k in kinds):
                yield (
                    source,
                    _problem(
                        source,
                        loc,
                        group_name,
                        f"group {group_name} may approve {', '.join(group.may_approve)}, none of {', '.join(kinds)}",
                    ),
                )
        for loc, label in _label_references(source.policy):
            if label not in labels:
                known = ", ".join(sorted(labels)) or "none declared"
                yield (
                    source,
                    _problem(source, loc, label, f"label is not declared in any data.labels ({known})"),
                )


def _group_references(p: PolicyFile) -> Iterator[tuple[tuple[str | int, ...], str, tuple[str, ...]]]:
    """(location, group, kinds the group is asked about) for each approver group the file names."""
    for i, group in enumerate(p.default_approvers):
        yield ("default_approvers", i), group, ACTION_KINDS
    for name in ("data", "compute", "models", "synthetic"):
        section = getattr(p, name)
        for i, group in enumerate(section.approvers if section is not None else ()):
            yield (name, "approvers", i), group, _SECTION_KINDS[name]
    for r, rule in enumerate(p.rules):
        kinds = tuple(k for k in ACTION_KINDS if any(kind_pattern_matches(pat, k) for pat in rule.kinds))
        for i, group in enumerate(rule.approvers):
            yield ("rules", r, "approvers", i), group, kinds


def _label_references(p: PolicyFile) -> Iterator[tuple[tuple[str | int, ...], str]]:
    data = p.data
    if data is not None:
        if data.default_label is not None:
            yield ("data", "default_label"), data.default_label
        for i, c in enumerate(data.classification):
            yield ("data", "classification", i, "label"), c.label
        for key in ("forbidden_in_training", "approval_labels"):
            for i, label in enumerate(getattr(data, key)):
                yield ("data", key, i), label
    for r, rule in enumerate(p.rules):
        for i, label in enumerate(rule.when.labels or () if rule.when else ()):
            yield ("rules", r, "when", "labels", i), label


def _warnings(sources: Sequence[PolicySource]) -> Iterator[str]:
    org_defaults = [
        s.policy.default for s in sources if s.policy.scope == "organisation" and s.policy.default
    ]
    strictest = max(org_defaults, key=RANK.__getitem__) if org_defaults else None
    for source in sources:
        p = source.policy
        if p.scope == "team" and p.default and strictest and RANK[p.default] < RANK[strictest]:
            yield (
                f"{source.path}:{source.line('default')}: default {p.default} has no effect: the organisation's "
                f"default {strictest} is stricter and the strictest default applies"
            )
