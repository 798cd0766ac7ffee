"""Post-training on the Megatron trainer: SFT, DPO and the trainer side of GRPO-style RL.

:func:`posttrain` runs SFT or DPO from a base run (``PostTrainConfig.base``) under Ray Train (or in this
process for tiny runs); the data formats are in ``_records.py``, the loss mask and chat templates in
``_chat.py``, the losses in ``_loss.py``, the run directory in ``_launch.py``. RL's orchestration
(generation, policy rewards, the ledger) lives in ``tools.posttrain``; its trainer is :class:`PolicyTrainer`.
The run metrics (:func:`read_metrics`, :class:`MetricsWriter`) of the trainer are re-exported for the tools that
drive post-training; a run's size is its ``ModelConfig.param_counts`` / ``flops_per_token`` (``trainers._arithmetic``).
"""

from trainers import MetricsWriter, read_metrics
from trainers.posttrain._chat import (
    DEFAULT_CHAT_TEMPLATE,
    END_OF_TURN,
    ChatTemplate,
    TokenizedChat,
    tokenize_chat,
    tokenize_prompt,
)
from trainers.posttrain._config import (
    DPOConfig,
    GeneratorConfig,
    PostTrainConfig,
    PostTrainingConfig,
    RLConfig,
    load_posttrain_config,
)
from trainers.posttrain._launch import (
    PostTrainResult,
    check_data,
    end_tracking,
    posttrain,
    prepare_run_dir,
    resolve_paths,
    start_tracking,
)
from trainers.posttrain._loop import pair_logps, sft_step, step_indices
from trainers.posttrain._loss import dpo_loss, group_advantages, grpo_loss, sequence_logps, token_entropy
from trainers.posttrain._pack import pack, packed_logps
from trainers.posttrain._policy import BaseRun, build_policy, read_base_run, token_logps
from trainers.posttrain._records import (
    PreferenceExample,
    PromptExample,
    SFTExample,
    read_jsonl_records,
    read_preference_data,
    read_prompt_data,
    read_sft_data,
)
from trainers.posttrain._report import write_posttrain_report
from trainers.posttrain._rl import PolicyTrainer

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "END_OF_TURN",
    "BaseRun",
    "ChatTemplate",
    "DPOConfig",
    "GeneratorConfig",
    "MetricsWriter",
    "PolicyTrainer",
    "PostTrainConfig",
    "PostTrainResult",
    "PostTrainingConfig",
    "PreferenceExample",
    "PromptExample",
    "RLConfig",
    "SFTExample",
    "TokenizedChat",
    "build_policy",
    "check_data",
    "dpo_loss",
    "end_tracking",
    "group_advantages",
    "grpo_loss",
    "load_posttrain_config",
    "pack",
    "packed_logps",
    "pair_logps",
    "posttrain",
    "prepare_run_dir",
    "read_base_run",
    "read_jsonl_records",
    "read_metrics",
    "read_preference_data",
    "read_prompt_data",
    "read_sft_data",
    "resolve_paths",
    "sequence_logps",
    "sft_step",
    "start_tracking",
    "step_indices",
    "token_entropy",
    "token_logps",
    "tokenize_chat",
    "tokenize_prompt",
    "write_posttrain_report",
]
