"""Evaluation of a training run: held-out loss and bits per byte, and the suites release gates read.

``evaluate(run_dir, suites=[...])`` loads the run's latest checkpoint (any training layout, resharded to one
process), scores every token of the validation split exactly once and every given text file, runs the suites
asked for, writes ``RUN_DIR/eval.json`` (with a flat ``metrics`` map: ``val_bpb``, ``pii_leak_rate``,
``code_pass_at_1``, ``canary_exposure_max``, ...), logs it to MLflow and returns an :class:`EvalResult`.
``vibe eval RUN_DIR [--suite memorisation,code,policy] [--text PATH ...]`` is the CLI.

Suites: ``memorisation`` (canaries' exposure and extraction, regurgitation; ``_memorisation.py``), ``code``
(held-out functions' doctests in the sandbox, pass@1; ``_code.py``), ``policy`` (secret / personal-data leak
rates of completions; ``_policy.py``), ``tasks`` (lm-evaluation-harness on the task files shipped in
``tools/eval/tasks/``, against the run's HF export; ``_tasks.py``). Generation goes through a :class:`Generator`: in-process Megatron
sampling (:class:`MegatronGenerator`) or a served model (:class:`OpenAIGenerator`).
"""

from tools.eval._code import CodeConfig, CodeTask, code_suite, code_tasks
from tools.eval._documents import split_documents
from tools.eval._evaluate import SUITES, EvalResult, SplitScore, evaluate, parse_suites
from tools.eval._generate import Generator, MegatronGenerator, OpenAIGenerator, Sampling
from tools.eval._memorisation import MemorisationConfig, memorisation_suite, sequence_nll
from tools.eval._policy import PolicyEvalConfig, policy_suite
from tools.eval._tasks import TASKS_DIR, find_export, shipped_tasks, tasks_suite

__all__ = [
    "SUITES",
    "TASKS_DIR",
    "CodeConfig",
    "CodeTask",
    "EvalResult",
    "Generator",
    "MegatronGenerator",
    "MemorisationConfig",
    "OpenAIGenerator",
    "PolicyEvalConfig",
    "Sampling",
    "SplitScore",
    "code_suite",
    "code_tasks",
    "evaluate",
    "find_export",
    "memorisation_suite",
    "parse_suites",
    "policy_suite",
    "sequence_nll",
    "shipped_tasks",
    "split_documents",
    "tasks_suite",
]
