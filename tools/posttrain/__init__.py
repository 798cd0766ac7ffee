"""Post-training orchestration: policy rewards, rollouts (vLLM or in-process Megatron), RL, the agent tool.

* :func:`load_alignment` / :class:`AlignmentPolicy`: the ``alignment:`` rules of the policy files as named
  reward components; :func:`violation_rate` is the evaluation metric from the same rules.
* :func:`run_posttrain`: SFT, DPO or RL, gated as ``train.run`` and recorded in the ledger; :func:`run_rl`
  the RL loop with a :class:`Generator` (:class:`VLLMGenerator` or :class:`MegatronGenerator`).
* :func:`sample_preference_pairs`: on-policy DPO pairs, best against worst of k samples by the policy reward.
* :func:`chat_from_synth`: ``vibe synth`` samples -> chat SFT data with their provenance.
"""

from tools.posttrain import _tool  # noqa: F401  (registers the agent tool `posttrain`)
from tools.posttrain._convert import chat_from_synth
from tools.posttrain._generate import (
    Completion,
    Generator,
    GeneratorError,
    MegatronGenerator,
    SyncReport,
    VLLMGenerator,
    greedy_agrees,
)
from tools.posttrain._pairs import sample_preference_pairs
from tools.posttrain._rewards import (
    AlignmentPolicy,
    FunctionReward,
    RewardRuleError,
    Sample,
    Scores,
    ViolationReport,
    load_alignment,
    violation_rate,
)
from tools.posttrain._rl import RLResult, run_rl
from tools.posttrain._run import gate_attributes, run_posttrain
from tools.posttrain._tool import PostTrainArgs, PostTrainToolResult, posttrain_config

__all__ = [
    "AlignmentPolicy",
    "Completion",
    "FunctionReward",
    "Generator",
    "GeneratorError",
    "MegatronGenerator",
    "PostTrainArgs",
    "PostTrainToolResult",
    "RLResult",
    "RewardRuleError",
    "Sample",
    "Scores",
    "SyncReport",
    "VLLMGenerator",
    "ViolationReport",
    "chat_from_synth",
    "gate_attributes",
    "greedy_agrees",
    "load_alignment",
    "posttrain_config",
    "run_posttrain",
    "run_rl",
    "sample_preference_pairs",
    "violation_rate",
]
