"""Regression tests for the policy holes of issue #10: team files that loosen, self-asserted teams, globs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies import Action, PolicyError, PolicySet, check_policies, load_policies

ORG = """
version: 1
name: org
default: deny
data:
  roots: [/srv/data]
  labels: [public, confidential, secret]
  default_label: confidential
  classification:
    - {paths: "/srv/data/public/**", label: public}
    - {paths: "**/.env", label: secret}
  forbidden_in_training: [secret]
retention:
  ledger_days: 365
teams:
  fraud: [ines]
  risk: [kai]
"""


def test_team_allow_rule_and_allow_default_are_refused_at_load(write: Callable[[str, str], Path]) -> None:
    org = write("org.yaml", ORG)
    team = write(
        "team.yaml",
        """
        version: 1
        name: t
        scope: team
        team: fraud
        default: allow
        rules:
          - {id: everything, kinds: ["*"], effect: allow, reason: we may}
        """,
    )
    check = check_policies([org, team])
    text = str(check.errors[0])
    assert not check.ok
    assert f"{team}:5: default: got 'allow'; a team file can only tighten" in text
    assert f"{team}:7: rules.0.effect: got 'allow'; a team file can only tighten" in text


def test_team_section_allow_does_not_lift_the_org_default_deny(load: Callable[..., PolicySet]) -> None:
    team = "version: 1\nname: t\nscope: team\nteam: fraud\ncompute:\n  per_run: {cpu_hours: 10}\n"
    run = Action(kind="train.run", team="fraud", requester="ines", cpu_hours=1)
    decision = load(ORG, team).evaluate(run)
    assert (decision.effect, decision.rules) == ("deny", ("org:default",))


def test_team_classification_cannot_suppress_the_org_default_label(load: Callable[..., PolicySet]) -> None:
    team = """
    version: 1
    name: t
    scope: team
    team: fraud
    data:
      labels: [fraud-data]
      classification:
        - {paths: "/srv/data/crm/**", label: fraud-data}
    """
    decision = load(ORG, team).evaluate(
        Action(kind="data.ingest", team="fraud", requester="ines", paths=("/srv/data/crm/c1.txt",))
    )
    assert set(decision.labels) == {"fraud-data", "confidential"}


def test_a_team_file_needs_the_org_to_list_its_members(write: Callable[[str, str], Path]) -> None:
    org = write("org.yaml", "version: 1\nname: org\ndefault: deny\n")
    team = write("team.yaml", "version: 1\nname: t\nscope: team\nteam: fraud\n")
    with pytest.raises(PolicyError, match=rf"{team}:4: team: got 'fraud'; team files need the organisation"):
        load_policies([org, team])


def test_claiming_a_team_one_is_not_in_is_denied(load: Callable[..., PolicySet]) -> None:
    policies = load(ORG)
    claim = Action(kind="data.ingest", team="risk", requester="ines", paths=("/srv/data/public/a",))
    decision = policies.evaluate(claim)
    assert decision.effect == "deny" and decision.rules == ("org:teams",)
    assert "ines is not a member of team risk (the policy lists: kai)" in decision.reason


def test_a_member_naming_no_team_is_judged_as_their_team(load: Callable[..., PolicySet]) -> None:
    team = (
        "version: 1\nname: t\nscope: team\nteam: fraud\nrules:\n"
        "  - {id: no-ingest, kinds: [data.ingest], effect: deny, reason: fraud ingests nothing}\n"
    )
    decision = load(ORG, team).evaluate(
        Action(kind="data.ingest", requester="ines", paths=("/srv/data/public/a",))
    )
    assert decision.rules == ("t:no-ingest",)


def test_secret_globs_match_whatever_the_case(load: Callable[..., PolicySet]) -> None:
    decision = load(ORG).evaluate(Action(kind="train.run", paths=("/srv/data/public/code/.ENV",)))
    assert "secret" in decision.labels
    assert "org:data.forbidden_in_training" in decision.rules


@pytest.mark.parametrize("glob", ["/srv/data/../etc/**", "/srv/./data/**", "/srv//data/**", "**/x/../.env"])
def test_globs_that_can_never_match_are_refused(write: Callable[[str, str], Path], glob: str) -> None:
    text = ORG.replace('"**/.env"', f'"{glob}"')
    path = write("org.yaml", text)
    with pytest.raises(PolicyError, match=r"data\.classification\.1\.paths: .*segment"):
        load_policies([path])
