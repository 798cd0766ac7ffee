"""Rule semantics, table-driven: precedence, defaults, composition of files, limits with usage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policies import Action, PolicySet, Usage, check_policies

KEY = "ed25519:" + "A" * 43 + "="  # 32 zero-ish bytes: a well-formed public key for rules that need approvers

PRECEDENCE = f"""
version: 1
name: org
rules:
  - {{id: ok-eval, kinds: [eval.run], effect: allow, reason: evals are fine}}
  - {{id: ok-train, kinds: [train.run], effect: allow, reason: training is fine}}
  - {{id: ask-train, kinds: [train.run], effect: require_approval, approvers: [leads], reason: leads look at runs}}
  - {{id: ok-release, kinds: [model.release], effect: allow, reason: releases are fine}}
  - {{id: ask-release, kinds: [model.release], effect: require_approval, approvers: [leads], reason: sign-off}}
  - {{id: no-release, kinds: [model.release], effect: deny, reason: no releases this quarter}}
approvers:
  leads:
    members: {{alice: "{KEY}"}}
    may_approve: ["*"]
"""


@pytest.mark.parametrize(
    ("kind", "effect", "rules"),
    [
        ("eval.run", "allow", ("org:ok-eval",)),  # only an allow fires
        ("train.run", "require_approval", ("org:ask-train",)),  # require_approval beats allow
        ("model.release", "deny", ("org:no-release",)),  # deny beats require_approval and allow
        ("data.export", "deny", ("builtin:default",)),  # nothing covers it, no default set: deny
    ],
)
def test_precedence(load: Callable[..., PolicySet], kind: str, effect: str, rules: tuple[str, ...]) -> None:
    decision = load(PRECEDENCE).evaluate(Action(kind=kind))
    assert (decision.effect, decision.rules) == (effect, rules)


def test_lower_effects_are_still_reported_as_findings(load: Callable[..., PolicySet]) -> None:
    decision = load(PRECEDENCE).evaluate(Action(kind="model.release"))
    assert {f.rule for f in decision.findings} == {"org:ok-release", "org:ask-release", "org:no-release"}
    assert decision.reason == "org: no releases this quarter"


def test_require_approval_names_the_groups(load: Callable[..., PolicySet]) -> None:
    decision = load(PRECEDENCE).evaluate(Action(kind="train.run"))
    assert [(f.rule, f.approvers) for f in decision.approvals] == [("org:ask-train", ("leads",))]


@pytest.mark.parametrize(
    ("default", "effect", "rule"),
    [
        ("allow", "allow", "org:default"),
        ("deny", "deny", "org:default"),
        (None, "deny", "builtin:default"),
    ],
)
def test_uncovered_action_takes_the_default(
    load: Callable[..., PolicySet], default: str | None, effect: str, rule: str
) -> None:
    header = "version: 1\nname: org\n" + (f"default: {default}\n" if default else "")
    decision = load(header).evaluate(Action(kind="data.export"))
    assert (decision.effect, decision.rules) == (effect, (rule,))


def test_require_approval_default_carries_its_approvers(load: Callable[..., PolicySet]) -> None:
    text = f"""
    version: 1
    name: org
    default: require_approval
    default_approvers: [leads]
    approvers:
      leads: {{members: {{alice: "{KEY}"}}, may_approve: ["*"]}}
    """
    decision = load(text).evaluate(Action(kind="data.export"))
    assert decision.effect == "require_approval"
    assert decision.approvals[0].approvers == ("leads",)


# -- composition: an organisation file and a team file ---------------------------------------------------

ORG = """
version: 1
name: org
default: {default}
compute:
  per_run: {{gpu_hours: 100}}
teams:
  nlp: [ann]
  vision: [vic]
"""
MEMBER = {"nlp": "ann", "vision": "vic"}  # who may act for each team (the org file lists them)
TEAM = """
version: 1
name: team-nlp
scope: team
team: nlp
default: {default}
compute:
  per_run: {{gpu_hours: 10}}
rules:
  - {{id: no-export, kinds: [data.export], effect: deny, reason: nlp exports nothing}}
"""


@pytest.mark.parametrize(
    ("org_default", "team_default", "action", "effect", "rules"),
    [
        # the team file tightens its own team's limit...
        (
            "deny",
            "deny",
            {"kind": "train.run", "team": "nlp", "gpu_hours": 20},
            "deny",
            ("team-nlp:compute.per_run",),
        ),
        # ...and leaves other teams alone
        ("deny", "deny", {"kind": "train.run", "team": "vision", "gpu_hours": 20}, "allow", ("org:compute",)),
        # both files allow a small run: both allow findings are reported
        (
            "deny",
            "deny",
            {"kind": "train.run", "team": "nlp", "gpu_hours": 5},
            "allow",
            ("org:compute", "team-nlp:compute"),
        ),
        # the organisation's limit still binds the team
        (
            "deny",
            "deny",
            {"kind": "train.run", "team": "nlp", "gpu_hours": 200},
            "deny",
            ("org:compute.per_run", "team-nlp:compute.per_run"),
        ),
        # a team rule denies what the organisation's default would allow
        ("allow", "allow", {"kind": "data.export", "team": "nlp"}, "deny", ("team-nlp:no-export",)),
        ("allow", "allow", {"kind": "data.export", "team": "vision"}, "allow", ("org:default",)),
        # defaults: the strictest applying default wins, whichever file sets it
        ("deny", "deny", {"kind": "model.export", "team": "nlp"}, "deny", ("team-nlp:default",)),
        ("allow", "deny", {"kind": "model.export", "team": "nlp"}, "deny", ("team-nlp:default",)),
        ("allow", "deny", {"kind": "model.export", "team": "vision"}, "allow", ("org:default",)),
    ],
)
def test_composition(
    load: Callable[..., PolicySet],
    org_default: str,
    team_default: str,
    action: dict[str, Any],
    effect: str,
    rules: tuple[str, ...],
) -> None:
    policies = load(ORG.format(default=org_default), TEAM.format(default=team_default))
    decision = policies.evaluate(Action(**action, requester=MEMBER[action["team"]]))
    assert (decision.effect, decision.rules) == (effect, rules)


def test_a_looser_team_default_is_refused_at_load_time(write: Callable[[str, str], Path]) -> None:
    org = write("org.yaml", ORG.format(default="deny"))
    team = write("team.yaml", TEAM.format(default="allow"))
    check = check_policies([org, team])
    assert not check.ok
    assert f"{team}:5: default: got 'allow'; a team file can only tighten" in str(check.errors[0])


# -- limits that need today's usage ----------------------------------------------------------------------

LIMITS = """
version: 1
name: org
compute:
  per_day: {gpu_hours: 100, cpu_hours: 1000}
  per_team_per_day:
    "*": {gpu_hours: 10}
    big: {gpu_hours: 50}
synthetic:
  max_volume_per_day: 1000
"""


@pytest.mark.parametrize(
    ("action", "usage", "effect", "rules"),
    [
        ({"kind": "train.run", "team": "nlp", "gpu_hours": 4}, {}, "allow", ("org:compute",)),
        (
            {"kind": "train.run", "team": "nlp", "gpu_hours": 4},
            {"nlp": {"gpu_hours": 6}},
            "allow",
            ("org:compute",),
        ),
        (
            {"kind": "train.run", "team": "nlp", "gpu_hours": 4},
            {"nlp": {"gpu_hours": 6.5}},
            "deny",
            ("org:compute.per_team_per_day",),
        ),
        # another team's usage does not count against nlp's own limit...
        (
            {"kind": "train.run", "team": "nlp", "gpu_hours": 4},
            {"big": {"gpu_hours": 40}},
            "allow",
            ("org:compute",),
        ),
        # ...but it does count against the organisation's daily limit
        (
            {"kind": "train.run", "team": "nlp", "gpu_hours": 4},
            {"big": {"gpu_hours": 50}, "x": {"gpu_hours": 47}},
            "deny",
            ("org:compute.per_day",),
        ),
        # a team listed by name gets its own limit instead of '*'
        (
            {"kind": "train.run", "team": "big", "gpu_hours": 30},
            {"big": {"gpu_hours": 15}},
            "allow",
            ("org:compute",),
        ),
        (
            {"kind": "train.run", "team": "big", "gpu_hours": 30},
            {"big": {"gpu_hours": 25}},
            "deny",
            ("org:compute.per_team_per_day",),
        ),
        # CPU hours are limited independently
        (
            {"kind": "eval.run", "team": "nlp", "cpu_hours": 10},
            {"x": {"cpu_hours": 995}},
            "deny",
            ("org:compute.per_day",),
        ),
        # per-team limits need a team
        ({"kind": "train.run", "gpu_hours": 1}, {}, "deny", ("org:compute.per_team_per_day",)),
        # a governed kind must state its cost
        ({"kind": "train.run", "team": "nlp"}, {}, "deny", ("org:compute.estimate",)),
        (
            {"kind": "synth.generate", "team": "nlp", "volume": 300},
            {"x": {"synthetic_volume": 700}},
            "allow",
            ("org:synthetic",),
        ),
        (
            {"kind": "synth.generate", "team": "nlp", "volume": 301},
            {"x": {"synthetic_volume": 700}},
            "deny",
            ("org:synthetic.max_volume_per_day",),
        ),
    ],
)
def test_daily_limits_use_the_usage_snapshot(
    load: Callable[..., PolicySet],
    action: dict[str, Any],
    usage: dict[str, Any],
    effect: str,
    rules: tuple[str, ...],
) -> None:
    decision = load(LIMITS).evaluate(Action(**action), usage=Usage(teams=usage))
    assert (decision.effect, decision.rules) == (effect, rules)


def test_evaluation_is_pure(load: Callable[..., PolicySet]) -> None:
    policies = load(LIMITS)
    usage = Usage(teams={"nlp": {"gpu_hours": 6.5}})
    action = Action(kind="train.run", team="nlp", gpu_hours=4)
    first = policies.evaluate(action, usage=usage)
    assert all(policies.evaluate(action, usage=usage) == first for _ in range(3))
    assert usage.team("nlp").gpu_hours == 6.5


# -- each section ----------------------------------------------------------------------------------------

SECTIONS = f"""
version: 1
name: org
data:
  roots: [/srv/data, /srv/shared/]
  labels: [public, internal, personal, secret]
  default_label: internal
  classification:
    - {{paths: "/srv/data/public/**", label: public}}
    - {{paths: "/srv/data/hr/**", label: personal}}
    - {{paths: "**/*.pem", label: secret}}
  forbidden_in_training: [personal, secret]
  approval_labels: [personal]
  approvers: [stewards]
  secrets: block
  personal_data: redact
models:
  max_parameters: 1B
  architectures: [dense]
  approval_above_parameters: 500M
  approvers: [stewards]
endpoints:
  llm: [http://127.0.0.1:8000/v1, https://llm.corp.internal/v1]
synthetic:
  generators: [template]
  max_volume_per_run: 10K
  approval_above_volume: 5K
  approvers: [stewards]
evaluation:
  gates:
    - {{metric: val_bpb, max: 1.2}}
    - {{metric: accuracy, min: 0.5}}
retention:
  ledger_days: 365
rules:
  - {{id: hr-team-only, kinds: ["data.*"], effect: deny, when: {{labels: [personal], teams: [sales]}},
      reason: sales never reads HR data}}
approvers:
  stewards: {{members: {{alice: "{KEY}"}}, may_approve: ["*"]}}
"""


@pytest.mark.parametrize(
    ("action", "effect", "rules"),
    [
        # data roots: lexical containment after normalisation
        ({"kind": "data.ingest", "paths": ["/srv/data/code/a.py"]}, "allow", ("org:data",)),
        ({"kind": "data.ingest", "paths": ["/srv/shared/x"]}, "allow", ("org:data",)),
        ({"kind": "data.profile", "paths": ["/srv/shared/x"]}, "allow", ("org:data",)),
        ({"kind": "data.profile", "paths": ["/home/me/x"]}, "deny", ("org:data.roots",)),
        ({"kind": "data.ingest", "paths": ["/srv/database/x"]}, "deny", ("org:data.roots",)),
        ({"kind": "data.ingest", "paths": ["/srv/data/../etc/passwd"]}, "deny", ("org:data.roots",)),
        ({"kind": "data.ingest", "paths": ["/srv/data/a", "/tmp/b"]}, "deny", ("org:data.roots",)),
        # labels by glob: forbidden in training, approval to touch
        (
            {
                "kind": "train.run",
                "paths": ["/srv/data/hr/salaries.csv"],
                "gpu_hours": 1,
                "parameters": 1000,
                "architecture": "dense",
            },
            "deny",
            ("org:data.forbidden_in_training",),
        ),
        (
            {
                "kind": "train.run",
                "paths": ["/srv/data/code/k.pem"],
                "parameters": 1000,
                "architecture": "dense",
            },
            "deny",
            ("org:data.forbidden_in_training",),
        ),
        (
            {"kind": "data.ingest", "paths": ["/srv/data/hr/salaries.csv"]},
            "require_approval",
            ("org:data.approval_labels",),
        ),
        (
            {"kind": "train.run", "labels": ["secret"], "parameters": 1000, "architecture": "dense"},
            "deny",
            ("org:data.forbidden_in_training",),
        ),
        # secrets found in the data: blocked
        (
            {"kind": "data.ingest", "paths": ["/srv/data/code"], "findings": ["secrets"]},
            "deny",
            ("org:data.secrets",),
        ),
        (
            {"kind": "data.ingest", "paths": ["/srv/data/code"], "findings": ["personal_data"]},
            "allow",
            ("org:data",),
        ),
        # a rule with conditions
        (
            {"kind": "data.ingest", "paths": ["/srv/data/hr/x"], "team": "sales"},
            "deny",
            ("org:hr-team-only",),
        ),
        # models
        (
            {"kind": "train.run", "parameters": "2B", "architecture": "dense"},
            "deny",
            ("org:models.max_parameters",),
        ),
        (
            {"kind": "train.run", "parameters": "100M", "architecture": "moe"},
            "deny",
            ("org:models.architectures",),
        ),
        ({"kind": "train.run", "architecture": "dense"}, "deny", ("org:models.max_parameters",)),
        (
            {"kind": "train.run", "parameters": "600M", "architecture": "dense"},
            "require_approval",
            ("org:models.approval_above_parameters",),
        ),
        # endpoints: scheme, host and port exactly, path as a prefix on / boundaries
        (
            {"kind": "llm.call", "url": "http://127.0.0.1:8000/v1/chat/completions"},
            "allow",
            ("org:endpoints.llm",),
        ),
        (
            {"kind": "llm.call", "url": "https://LLM.corp.internal:443/v1/models"},
            "allow",
            ("org:endpoints.llm",),
        ),
        ({"kind": "llm.call", "url": "http://127.0.0.1:8000/v10/chat"}, "deny", ("org:endpoints.llm",)),
        ({"kind": "llm.call", "url": "http://127.0.0.1:8001/v1/chat"}, "deny", ("org:endpoints.llm",)),
        ({"kind": "llm.call", "url": "http://llm.corp.internal/v1/chat"}, "deny", ("org:endpoints.llm",)),
        (
            {"kind": "llm.call", "url": "http://127.0.0.1:8000@evil.example/v1"},
            "deny",
            ("org:endpoints.llm",),
        ),
        ({"kind": "llm.call", "url": "http://127.0.0.1:8000/v1/../admin"}, "deny", ("org:endpoints.llm",)),
        ({"kind": "llm.call"}, "deny", ("org:endpoints.llm",)),
        # synthetic data
        ({"kind": "synth.generate", "generator": "template", "volume": 100}, "allow", ("org:synthetic",)),
        (
            {"kind": "synth.generate", "generator": "gpt", "volume": 100},
            "deny",
            ("org:synthetic.generators",),
        ),
        (
            {"kind": "synth.generate", "generator": "template", "volume": "20K"},
            "deny",
            ("org:synthetic.max_volume_per_run",),
        ),
        (
            {"kind": "synth.generate", "generator": "template", "volume": "6K"},
            "require_approval",
            ("org:synthetic.approval_above_volume",),
        ),
        ({"kind": "synth.generate", "generator": "template"}, "deny", ("org:synthetic.volume",)),
        # evaluation gates
        (
            {"kind": "model.release", "metrics": {"val_bpb": 1.1, "accuracy": 0.6}},
            "allow",
            ("org:evaluation",),
        ),
        (
            {"kind": "model.release", "metrics": {"val_bpb": 1.3, "accuracy": 0.6}},
            "deny",
            ("org:evaluation.val_bpb",),
        ),
        (
            {"kind": "model.release", "metrics": {"val_bpb": 1.1, "accuracy": 0.4}},
            "deny",
            ("org:evaluation.accuracy",),
        ),
        ({"kind": "model.release", "metrics": {"val_bpb": 1.1}}, "deny", ("org:evaluation.accuracy",)),
        # retention
        ({"kind": "ledger.prune", "age_days": 30}, "deny", ("org:retention.ledger_days",)),
        ({"kind": "ledger.prune", "age_days": 400}, "deny", ("builtin:default",)),
    ],
)
def test_sections(
    load: Callable[..., PolicySet], action: dict[str, Any], effect: str, rules: tuple[str, ...]
) -> None:
    decision = load(SECTIONS).evaluate(Action(**action))
    assert (decision.effect, decision.rules) == (effect, rules), decision.reason


def test_unmatched_paths_take_the_default_label(load: Callable[..., PolicySet]) -> None:
    decision = load(SECTIONS).evaluate(
        Action(kind="data.ingest", paths=("/srv/data/code/a.py", "/srv/data/public/b"))
    )
    assert decision.labels == ("internal", "public")


def test_obligations_carry_the_strictest_handling(load: Callable[..., PolicySet]) -> None:
    team = """
    version: 1
    name: team
    scope: team
    team: nlp
    data:
      personal_data: drop
    """
    policies = load(SECTIONS + "teams:\n  nlp: [ann]\n", team)
    ingest = {"kind": "data.ingest", "paths": ["/srv/data/code"]}
    assert dict(policies.evaluate(Action(**ingest, team="nlp", requester="ann")).obligations) == {
        "secrets": "block",
        "personal_data": "drop",
    }
    assert dict(policies.evaluate(Action(**ingest)).obligations) == {
        "secrets": "block",
        "personal_data": "redact",
    }


def test_decision_names_the_sha256_of_every_file(write: Callable[[str, str], Path]) -> None:
    from policies import load_policies

    org, team = write("org.yaml", ORG.format(default="deny")), write("team.yaml", TEAM.format(default="deny"))
    decision = load_policies([org, team]).evaluate(Action(kind="eval.run", cpu_hours=1))
    assert dict(decision.policy_hashes) == {
        str(org): hashlib.sha256(org.read_bytes()).hexdigest(),
        str(team): hashlib.sha256(team.read_bytes()).hexdigest(),
    }


def test_decision_as_json_carries_what_the_ledger_records(load: Callable[..., PolicySet]) -> None:
    action = Action(kind="model.release", metrics={"val_bpb": 1.3, "accuracy": 0.6})
    decision = load(SECTIONS).evaluate(action)
    record = decision.to_json()
    assert (record["effect"], record["rules"]) == ("deny", ["org:evaluation.val_bpb"])
    assert record["policy_hashes"] == dict(decision.policy_hashes)
    assert record["reason"] == decision.reason


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("kind", "train.go", "unknown action kind"),
        ("paths", ["data/x"], "must be absolute"),
        ("gpu_hours", -1, "greater than or equal to 0"),
        ("parameters", "big", "not a count"),
        ("architecture", "sparse", "'dense' or 'moe'"),
    ],
)
def test_action_validation_names_the_field(field: str, value: Any, message: str) -> None:
    from vibe.core.config import ConfigError, validate

    data = {"kind": "train.run", field: value}
    with pytest.raises(ConfigError) as error:
        validate(Action, data, source="action")
    assert f"action: {field}" in str(error.value)
    assert message in str(error.value)
