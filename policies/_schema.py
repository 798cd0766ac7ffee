"""The schema of one policy file: pydantic models, unknown keys rejected.

A file has a header (``version``, ``name``, ``scope``, ``default``), one optional section per area (data,
compute, models, endpoints, synthetic, evaluation, approvers, retention) and free-form ``rules``. Types and
ranges are checked here; checks that relate fields to each other (a label that is used but not declared, a
rule naming an approver group nobody defined) live in ``_checks.py`` so that each problem can name its line.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from policies._action import ACTION_KINDS, Count, Hours
from policies._match import Endpoint, compile_glob, glob_problem, kind_pattern_matches, normalize_path
from vibe.core.config import VibeConfig

__all__ = [
    "ApproverGroup",
    "ComputeRules",
    "Condition",
    "DataRules",
    "Effect",
    "EndpointRules",
    "EvaluationRules",
    "Gate",
    "HoursLimit",
    "ModelRules",
    "PolicyFile",
    "Retention",
    "Rule",
    "SyntheticRules",
]

Effect = Literal["allow", "deny", "require_approval"]
SecretHandling = Literal["redact", "drop", "block"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("use lowercase letters, digits, - and _ (up to 64, starting with a letter or digit)")
    return value


def _team_key(value: str) -> str:
    return value if value == "*" else _name(value)


def _person(value: str) -> str:
    if not _PERSON.match(value):
        raise ValueError("a person is letters, digits and . _ @ - (e.g. alice or alice.smith@corp)")
    return value


Name = Annotated[str, AfterValidator(_name)]
TeamKey = Annotated[str, AfterValidator(_team_key)]
Person = Annotated[str, AfterValidator(_person)]
ED25519_PREFIX = "ed25519:"


def _kind_pattern(pattern: str) -> str:
    if not any(kind_pattern_matches(pattern, kind) for kind in ACTION_KINDS):
        raise ValueError(f"{pattern!r} matches no action kind; kinds are: {', '.join(ACTION_KINDS)}")
    return pattern


def _absolute_dir(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"root {path!r} must be an absolute directory path, e.g. /srv/data")
    if any(ch in path for ch in "*?"):
        raise ValueError(f"root {path!r} is a directory, not a glob; put globs under data.classification")
    return normalize_path(path)


def _glob(pattern: str) -> str:
    if not pattern.startswith(("/", "**")):
        raise ValueError(f"glob {pattern!r} must be absolute (/srv/data/hr/**) or start with ** (**/*.pem)")
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(problem)
    compile_glob(pattern)
    return pattern


def _url(url: str) -> str:
    Endpoint.parse(url)
    return url


def _public_key(text: str) -> str:
    if not text.startswith(ED25519_PREFIX):
        raise ValueError("must be 'ed25519:<base64>' as printed by `vibe approvals keygen NAME`")
    try:
        raw = base64.b64decode(text[len(ED25519_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after 'ed25519:' is not valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"an ed25519 public key is 32 bytes; this one is {len(raw)}")
    return text


KindPattern = Annotated[str, AfterValidator(_kind_pattern)]
Root = Annotated[str, AfterValidator(_absolute_dir)]
Glob = Annotated[str, AfterValidator(_glob)]
Url = Annotated[str, AfterValidator(_url)]
PublicKey = Annotated[str, AfterValidator(_public_key)]


class HoursLimit(VibeConfig):
    """A GPU-hour and/or CPU-hour amount."""

    gpu_hours: Hours | None = None
    cpu_hours: Hours | None = None

    @model_validator(mode="after")
    def _one_set(self) -> HoursLimit:
        if self.gpu_hours is None and self.cpu_hours is None:
            raise ValueError("set gpu_hours, cpu_hours or both")
        return self


class Classification(VibeConfig):
    """Files matching ``paths`` (a glob) carry ``label``."""

    paths: Glob
    label: Name


class DataRules(VibeConfig):
    """Where data may come from, how it is labelled, and what may not be trained on."""

    roots: list[Root] | None = Field(None, description="directories data may be read from; None = anywhere")
    labels: list[Name] = Field(default_factory=list, description="every classification label in use")
    default_label: Name | None = Field(None, description="label of a path no classification glob matches")
    classification: list[Classification] = Field(default_factory=list)
    forbidden_in_training: list[Name] = Field(default_factory=list)
    approval_labels: list[Name] = Field(default_factory=list, description="touching these needs approval")
    approvers: list[Name] = Field(default_factory=list)
    secrets: SecretHandling | None = Field(None, description="what to do with files holding secrets")
    personal_data: SecretHandling | None = Field(None, description="... and with personal data")


class ComputeRules(VibeConfig):
    """GPU/CPU-hour limits per run, per day (whole organisation) and per team per day."""

    per_run: HoursLimit | None = None
    per_day: HoursLimit | None = None
    per_team_per_day: dict[TeamKey, HoursLimit] = Field(
        default_factory=dict, description="by team name; '*' applies to teams not listed"
    )
    approval_above: HoursLimit | None = Field(None, description="a run above this needs approval")
    approvers: list[Name] = Field(default_factory=list)


class ModelRules(VibeConfig):
    """How large a model may be and which architectures."""

    max_parameters: Count | None = None
    architectures: list[Literal["dense", "moe"]] | None = None
    approval_above_parameters: Count | None = None
    approvers: list[Name] = Field(default_factory=list)


class EndpointRules(VibeConfig):
    """The LLM endpoints the agent may call (scheme, host and port exactly; the path as a prefix)."""

    llm: list[Url] = Field(default_factory=list)


class SyntheticRules(VibeConfig):
    """Whether synthetic data may be generated, by what and how much."""

    enabled: bool = True
    generators: list[Name] | None = Field(None, description="allowed generators; None = any")
    max_volume_per_run: Count | None = None
    max_volume_per_day: Count | None = Field(None, description="whole organisation, using the Usage snapshot")
    approval_above_volume: Count | None = None
    approvers: list[Name] = Field(default_factory=list)


class Gate(VibeConfig):
    """A metric a model must meet to be released: ``min`` <= value <= ``max``."""

    metric: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./@-]+$")]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Gate:
        if self.min is None and self.max is None:
            raise ValueError("a gate needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class EvaluationRules(VibeConfig):
    """The gates every ``model.release`` must pass."""

    gates: list[Gate] = Field(min_length=1)


class ApproverGroup(VibeConfig):
    """Named people with their public keys, and the action kinds the group may approve."""

    members: dict[Person, PublicKey] = Field(min_length=1, description="name -> 'ed25519:<base64>'")
    may_approve: list[KindPattern] = Field(min_length=1, description="action kinds, globs allowed (train.*)")


class Retention(VibeConfig):
    """How long records are kept at least, in days; a prune or delete of younger records is denied."""

    ledger_days: int | None = Field(None, ge=1)
    runs_days: int | None = Field(None, ge=1)
    approvals_days: int | None = Field(None, ge=1)
    anchor_file: Root | None = Field(
        None,
        description="a file (absolute; on other storage) each finished thread appends the ledger head to",
    )


class Condition(VibeConfig):
    """Extra conditions of a rule; every one given must hold (a list means any of its values)."""

    teams: list[Name] | None = None
    requesters: list[Person] | None = None
    labels: list[Name] | None = None


class Rule(VibeConfig):
    """A free-form rule: for actions of ``kinds`` (and ``when``), the ``effect``, with a reason."""

    id: Name
    kinds: list[KindPattern] = Field(min_length=1)
    effect: Effect
    reason: str = Field(min_length=1)
    approvers: list[Name] = Field(default_factory=list)
    when: Condition | None = None


class PolicyFile(VibeConfig):
    """One policy file. Organisation files apply to every action; team files to the actions of ``team``."""

    version: Literal[1]
    name: Name
    description: str = ""
    scope: Literal["organisation", "team"] = "organisation"
    team: Name | None = Field(None, description="the team a team-scoped file applies to")
    default: Effect | None = Field(None, description="for actions no rule covers; unset everywhere = deny")
    default_approvers: list[Name] = Field(default_factory=list)
    data: DataRules | None = None
    compute: ComputeRules | None = None
    models: ModelRules | None = None
    endpoints: EndpointRules | None = None
    synthetic: SyntheticRules | None = None
    evaluation: EvaluationRules | None = None
    approvers: dict[Name, ApproverGroup] = Field(default_factory=dict)
    teams: dict[Name, list[Person]] = Field(
        default_factory=dict,
        description="who belongs to which team (organisation files only); when set, an action's team is "
        "checked against its requester, and team files need their team listed here",
    )
    retention: Retention | None = None
    rules: list[Rule] = Field(default_factory=list)
