"""Malformed policy files: each error names the file, the line, the field and what is allowed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies import PolicyError, check_policies, load_policies

KEY = "ed25519:" + "A" * 43 + "="
H = "version: 1\nname: t\n"  # lines 1-2 of every case below
GROUP = f'approvers:\n  leads:\n    members: {{alice: "{KEY}"}}\n    may_approve: [train.run]\n'  # 4 lines

# (case id, file text, line, field, what the message must say)
CASES = [
    (
        "yaml-syntax",
        H + "default: allow: deny\ncompute: {}\n",
        3,
        "<syntax>",
        "mapping values are not allowed here",
    ),
    ("top-level-list", "- version: 1\n", None, "<top level>", "must be a mapping of fields"),
    ("empty-file", "", None, "<top level>", "is empty"),
    ("missing-version", "name: t\n", None, "version", "required field is missing"),
    ("wrong-version", "version: 2\nname: t\n", 1, "version", "Input should be 1"),
    ("missing-name", "version: 1\n", None, "name", "required field is missing"),
    ("unknown-top-level-key", H + "computee: {}\n", 3, "computee", "allowed fields here: approvers, compute"),
    (
        "unknown-nested-key",
        H + "compute:\n  per_runn: {gpu_hours: 1}\n",
        4,
        "compute.per_runn",
        "allowed fields here: approval_above, approvers, per_day",
    ),
    ("duplicate-key", H + "default: allow\ndefault: deny\n", 4, "default", "appears twice (first on line 3)"),
    (
        "bad-person",
        H + f'approvers:\n  leads:\n    members: {{"al ice": "{KEY}"}}\n    may_approve: ["*"]\n',
        5,
        "approvers.leads.members.al ice.[key]",
        "a person is letters, digits",
    ),
    ("bad-name", "version: 1\nname: My Policy\n", 2, "name", "use lowercase letters, digits, - and _"),
    ("bad-default", H + "default: maybe\n", 3, "default", "'allow', 'deny' or 'require_approval'"),
    ("team-scope-without-team", H + "scope: team\n", 3, "scope", "add `team: NAME`"),
    ("organisation-with-team", H + "team: nlp\n", 3, "team", "only a file with `scope: team` names a team"),
    (
        "approval-default-without-approvers",
        H + "default: require_approval\n",
        3,
        "default",
        "needs default_approvers",
    ),
    ("relative-root", H + "data:\n  roots: [srv/data]\n", 4, "data.roots.0", "must be an absolute directory"),
    ("glob-root", H + "data:\n  roots: [/srv/*/data]\n", 4, "data.roots.0", "is a directory, not a glob"),
    (
        "relative-glob",
        H + "data:\n  labels: [pii]\n  classification:\n    - {paths: hr/*, label: pii}\n",
        6,
        "data.classification.0.paths",
        "must be absolute",
    ),
    (
        "undeclared-classification-label",
        H + "data:\n  labels: [pii]\n  classification:\n    - {paths: /hr/**, label: pi}\n",
        6,
        "data.classification.0.label",
        "label is not declared",
    ),
    (
        "undeclared-forbidden-label",
        H + "data:\n  labels: [pii]\n  forbidden_in_training: [pii, secret]\n",
        5,
        "data.forbidden_in_training.1",
        "label is not declared in any data.labels (pii)",
    ),
    (
        "bad-secret-handling",
        H + "data:\n  secrets: encrypt\n",
        4,
        "data.secrets",
        "'redact', 'drop' or 'block'",
    ),
    (
        "negative-hours",
        H + "compute:\n  per_run: {gpu_hours: -1}\n",
        4,
        "compute.per_run.gpu_hours",
        "greater than or equal to 0",
    ),
    (
        "hours-not-a-number",
        H + "compute:\n  per_run:\n    gpu_hours: lots\n",
        5,
        "compute.per_run.gpu_hours",
        "valid number",
    ),
    (
        "empty-limit",
        H + "compute:\n  per_run: {}\n",
        4,
        "compute.per_run",
        "set gpu_hours, cpu_hours or both",
    ),
    (
        "threshold-without-approvers",
        H + "compute:\n  approval_above: {gpu_hours: 4}\n",
        4,
        "compute.approval_above",
        "got {'gpu_hours': 4.0}; needs compute.approvers",
    ),
    (
        "bad-team-key",
        H + "compute:\n  per_team_per_day:\n    Team A: {gpu_hours: 1}\n",
        5,
        "compute.per_team_per_day.Team A.[key]",
        "use lowercase letters, digits, - and _",
    ),
    (
        "bad-parameter-count",
        H + "models:\n  max_parameters: huge\n",
        4,
        "models.max_parameters",
        "write e.g. 350M, 1.3B",
    ),
    (
        "bad-architecture",
        H + "models:\n  architectures: [dense, sparse]\n",
        4,
        "models.architectures.1",
        "'dense' or 'moe'",
    ),
    (
        "non-http-endpoint",
        H + "endpoints:\n  llm: [ftp://127.0.0.1/v1]\n",
        4,
        "endpoints.llm.0",
        "must start with http:// or https://",
    ),
    (
        "endpoint-without-host",
        H + "endpoints:\n  llm:\n    - http:///v1\n",
        5,
        "endpoints.llm.0",
        "has no host",
    ),
    (
        "endpoint-with-credentials",
        H + "endpoints:\n  llm: [http://me:pw@127.0.0.1/v1]\n",
        4,
        "endpoints.llm.0",
        "must not carry a user name or password",
    ),
    (
        "endpoint-bad-port",
        H + "endpoints:\n  llm: [http://127.0.0.1:99999/v1]\n",
        4,
        "endpoints.llm.0",
        "invalid port",
    ),
    (
        "negative-volume",
        H + "synthetic:\n  max_volume_per_run: -5\n",
        4,
        "synthetic.max_volume_per_run",
        "greater than or equal to 0",
    ),
    ("no-gates", H + "evaluation:\n  gates: []\n", 4, "evaluation.gates", "at least 1 item"),
    (
        "gate-without-bound",
        H + "evaluation:\n  gates:\n    - {metric: val_bpb}\n",
        5,
        "evaluation.gates.0",
        "a gate needs min, max or both",
    ),
    (
        "gate-min-above-max",
        H + "evaluation:\n  gates:\n    - {metric: acc, min: 0.9, max: 0.5}\n",
        5,
        "evaluation.gates.0",
        "min 0.9 is above max 0.5",
    ),
    (
        "key-without-prefix",
        H + "approvers:\n  leads:\n    members: {alice: abc}\n    may_approve: ['*']\n",
        5,
        "approvers.leads.members.alice",
        "must be 'ed25519:<base64>'",
    ),
    (
        "key-wrong-length",
        H + "approvers:\n  leads:\n    members: {alice: 'ed25519:AAAA'}\n    may_approve: ['*']\n",
        5,
        "approvers.leads.members.alice",
        "32 bytes; this one is 3",
    ),
    (
        "key-not-base64",
        H + "approvers:\n  leads:\n    members: {alice: 'ed25519:@@@'}\n    may_approve: ['*']\n",
        5,
        "approvers.leads.members.alice",
        "not valid base64",
    ),
    (
        "group-without-members",
        H + "approvers:\n  leads:\n    members: {}\n    may_approve: ['*']\n",
        5,
        "approvers.leads.members",
        "at least 1 item",
    ),
    (
        "may-approve-typo",
        H + f'approvers:\n  leads:\n    members: {{alice: "{KEY}"}}\n    may_approve: [train.runn]\n',
        6,
        "approvers.leads.may_approve.0",
        "matches no action kind",
    ),
    (
        "rule-kind-typo",
        H + "rules:\n  - {id: r, kinds: [trian.*], effect: deny, reason: x}\n",
        4,
        "rules.0.kinds.0",
        "matches no action kind",
    ),
    (
        "rule-id-with-dot",
        H + "rules:\n  - {id: a.b, kinds: ['*'], effect: deny, reason: x}\n",
        4,
        "rules.0.id",
        "use lowercase letters, digits, - and _",
    ),
    (
        "rule-without-reason",
        H + "rules:\n  - {id: r, kinds: ['*'], effect: deny}\n",
        4,
        "rules.0.reason",
        "required field is missing",
    ),
    (
        "rule-duplicate-id",
        H + "rules:\n  - {id: r, kinds: ['*'], effect: deny, reason: x}\n"
        "  - {id: r, kinds: ['*'], effect: allow, reason: y}\n",
        5,
        "rules.1.id",
        "rule ids must be unique",
    ),
    (
        "approval-rule-without-approvers",
        H + "rules:\n  - {id: r, kinds: ['*'], effect: require_approval, reason: x}\n",
        4,
        "rules.0.effect",
        "a require_approval rule names its approvers",
    ),
    (
        "deny-rule-with-approvers",
        H + GROUP + "rules:\n  - {id: r, kinds: [train.run], effect: deny, approvers: [leads], reason: x}\n",
        8,
        "rules.0.approvers",
        "only require_approval rules take approvers",
    ),
    (
        "unknown-approver-group",
        H + GROUP + "rules:\n"
        "  - {id: r, kinds: [train.run], effect: require_approval, approvers: [boss], reason: x}\n",
        8,
        "rules.0.approvers.0",
        "unknown approver group (defined: leads)",
    ),
    (
        "group-cannot-approve-kind",
        H + GROUP + "rules:\n"
        "  - {id: r, kinds: [model.release], effect: require_approval, approvers: [leads], reason: x}\n",
        8,
        "rules.0.approvers.0",
        "group leads may approve train.run, none of model.release",
    ),
    (
        "zero-retention",
        H + "retention:\n  ledger_days: 0\n",
        4,
        "retention.ledger_days",
        "greater than or equal to 1",
    ),
    (
        "empty-roots-with-classification",
        H + "data:\n  labels: [a]\n  roots: []\n  classification:\n    - {paths: /x/**, label: a}\n",
        5,
        "data.roots",
        "no roots means no data may be read",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "field", "allowed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_malformed_file_is_reported_precisely(
    write: Callable[[str, str], Path], text: str, line: int | None, field: str, allowed: str
) -> None:
    path = write("bad.yaml", text)
    with pytest.raises(PolicyError) as error:
        load_policies([path])
    message = str(error.value)
    where = f"{path}:{line}: " if line else f"{path}: "
    assert f"{where}{field}:" in message, message
    assert allowed in message, message


def test_there_are_at_least_thirty_cases() -> None:
    assert len({c[0] for c in CASES}) == len(CASES) >= 30


def test_given_value_is_quoted(write: Callable[[str, str], Path]) -> None:
    path = write("bad.yaml", H + "default: maybe\n")
    with pytest.raises(PolicyError) as error:
        load_policies([path])
    assert "got 'maybe'" in str(error.value)


def test_every_problem_of_every_file_is_reported(write: Callable[[str, str], Path]) -> None:
    first = write("a.yaml", H + "default: maybe\ncompute:\n  per_run: {gpu_hours: -1}\n")
    second = write("b.yaml", "version: 1\nname: Bad Name\n")
    check = check_policies([first, second])
    assert not check.ok and check.policies is None
    lines = "\n".join(str(e) for e in check.errors).splitlines()
    assert [line.split(": ")[0] for line in lines] == [f"{first}:3", f"{first}:5", f"{second}:2"]


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(
        PolicyError,
        match=r"nope\.yaml: <file>: cannot be read \(No such file or directory\); pass an existing UTF-8 file$",
    ):
        load_policies([tmp_path / "nope.yaml"])


# -- problems across the files of a set ------------------------------------------------------------------


def test_two_files_with_one_name(write: Callable[[str, str], Path]) -> None:
    first, second = write("a.yaml", H), write("b.yaml", H)
    with pytest.raises(PolicyError) as error:
        load_policies([first, second])
    assert f"{second}:2: name: got 't'; is also the name of {first}; rename one" in str(error.value)


def test_group_defined_in_two_files(write: Callable[[str, str], Path]) -> None:
    first = write("a.yaml", H + GROUP)
    second = write("b.yaml", "version: 1\nname: u\n" + GROUP)
    with pytest.raises(PolicyError) as error:
        load_policies([first, second])
    assert f"{second}:4: approvers.leads: got 'leads'; group is already defined in {first}" in str(
        error.value
    )


def test_one_person_two_keys(write: Callable[[str, str], Path]) -> None:
    other = "ed25519:" + "B" * 43 + "="
    text = H + GROUP + f'  admins:\n    members: {{alice: "{other}"}}\n    may_approve: ["*"]\n'
    path = write("a.yaml", text)
    with pytest.raises(PolicyError) as error:
        load_policies([path])
    assert f"{path}:8: approvers.admins.members.alice:" in str(error.value)
    assert "one person, one key" in str(error.value)


def test_team_file_may_use_groups_and_labels_of_the_organisation(write: Callable[[str, str], Path]) -> None:
    org = write("org.yaml", H + GROUP + "data:\n  labels: [pii]\nteams:\n  nlp: [ann]\n")
    team = write(
        "team.yaml",
        "version: 1\nname: team\nscope: team\nteam: nlp\ndata:\n  forbidden_in_training: [pii]\nrules:\n"
        "  - {id: r, kinds: [train.run], effect: require_approval, approvers: [leads], reason: x}\n",
    )
    assert load_policies([org, team]).groups.keys() == {"leads"}
    with pytest.raises(PolicyError, match="unknown approver group"):
        load_policies([team])
