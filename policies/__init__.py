"""Customer policy files and the engine that judges every action the agent proposes.

A policy file is YAML validated by :class:`PolicyFile` (unknown keys, duplicate keys, undeclared labels and
unknown approver groups are errors that name the file, line and field). Load one or more with
:func:`load_policies`; the resulting :class:`PolicySet` evaluates an :class:`Action` against a
:class:`Usage` snapshot into a :class:`Decision` (``allow``, ``deny`` or ``require_approval``, with the ids of
the rules that fired, a readable reason, obligations such as ``{"secrets": "redact"}`` and the sha256 of
every file in force).

Composition and precedence (also in ``policies/README.md``):

- Files are given organisation-wide first, then team files. An organisation file applies to every action;
  a team file (``scope: team``, ``team: NAME``) applies only to actions whose ``team`` is NAME.
- All applying files' sections and rules are evaluated together. **Deny anywhere wins**, then
  require_approval, then allow: a team file can tighten what the organisation allows (add a deny, a lower
  limit, an approval) but can never override an organisation's deny or approval.
- An action no rule covers takes the **strictest default** among the applying files (deny >
  require_approval > allow); a team's looser default has no effect and ``vibe policy check`` warns about
  it. When no file sets a default, the default is **deny**.
- Approver groups, labels and rule ids are shared by the set; a group is defined in exactly one file.

    policies = load_policies(["org.yaml", "team-nlp.yaml"])
    decision = policies.evaluate(Action(kind="train.run", team="nlp", gpu_hours=6), usage=Usage(...))
    decision.effect, decision.rules, decision.reason

The agent and every tool judge actions through a :class:`Gate`: :class:`PolicyGate` over a
:class:`PolicySet` (with the usage snapshot, team and requester), or :class:`AllowAll` when no policy is in
force; both answer a :class:`GateDecision`.
"""

from policies._action import ACTION_KINDS, TRAINING_KINDS, Action, TeamUsage, Usage, parse_count
from policies._alignment import AlignmentRule, AlignmentRules
from policies._engine import GOVERNS, Decision, Finding, PolicySet, PolicySource
from policies._gate import AllowAll, ApprovalNeed, ApprovedGate, Gate, GateDecision, PolicyGate
from policies._load import PolicyCheck, PolicyError, check_policies, load_policies
from policies._match import Endpoint, compile_glob, normalize_path, under_root
from policies._schema import ApproverGroup, Effect, PolicyFile, Retention, Rule

__all__ = [
    "ACTION_KINDS",
    "GOVERNS",
    "TRAINING_KINDS",
    "Action",
    "AlignmentRule",
    "AlignmentRules",
    "AllowAll",
    "ApprovalNeed",
    "ApprovedGate",
    "ApproverGroup",
    "Decision",
    "Effect",
    "Endpoint",
    "Finding",
    "Gate",
    "GateDecision",
    "PolicyCheck",
    "PolicyError",
    "PolicyFile",
    "PolicyGate",
    "PolicySet",
    "PolicySource",
    "Retention",
    "Rule",
    "TeamUsage",
    "Usage",
    "check_policies",
    "compile_glob",
    "load_policies",
    "normalize_path",
    "parse_count",
    "under_root",
]
