"""Post-training orchestration: policy rewards, rollouts (vLLM or in-process Megatron), RL, the agent tool.

* :func:`load_alignment` / :class:`AlignmentPolicy`: the ``alignment:`` rules of the policy files as named
  reward components; :func:`violation_rate` is the evaluation metric from the same rules.
* :func:`chat_from_synth`: ``vibe synth`` samples -> chat SFT data with their provenance.
"""

from tools.posttrain._rewards import (
    AlignmentPolicy,
    RewardRuleError,
    Sample,
    Scores,
    ViolationReport,
    load_alignment,
    violation_rate,
)

__all__ = [
    "AlignmentPolicy",
    "RewardRuleError",
    "Sample",
    "Scores",
    "ViolationReport",
    "load_alignment",
    "violation_rate",
]
