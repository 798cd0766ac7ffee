"""Release into the organisation's model registry: a run's evaluation judged against the policy's gates,
then registered (MLflow) with its lineage. Importing this package registers the agent tools ``release`` and
``release_check``; ``vibe model release`` and the agent both call :func:`release_run`.
"""

from tools.release import _tool  # noqa: F401  (registers the tools)
from tools.release._release import (
    SUITE_OF_METRIC,
    ReleaseCheck,
    ReleaseDenied,
    ReleaseNeedsApproval,
    ReleaseResult,
    check_release,
    gated_metrics,
    release_attributes,
    release_run,
    suites_for,
)
from tools.release._tool import ReleaseArgs, ReleaseCheckArgs, ReleaseCheckResult, ReleaseToolResult

__all__ = [
    "SUITE_OF_METRIC",
    "ReleaseArgs",
    "ReleaseCheck",
    "ReleaseCheckArgs",
    "ReleaseCheckResult",
    "ReleaseDenied",
    "ReleaseNeedsApproval",
    "ReleaseResult",
    "ReleaseToolResult",
    "check_release",
    "gated_metrics",
    "release_attributes",
    "release_run",
    "suites_for",
]
