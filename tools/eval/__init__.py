"""Held-out evaluation of a training run: loss and bits per byte on the validation split and on text files.

``evaluate(run_dir, texts=(...))`` loads the run's latest checkpoint (any training layout, resharded to one
process), scores every token of the validation split exactly once and every given text file, writes
``RUN_DIR/eval.json`` and returns an :class:`EvalResult`. ``vibe eval RUN_DIR [--text PATH ...]`` is the CLI.
"""

from tools.eval._evaluate import EvalResult, SplitScore, evaluate

__all__ = ["EvalResult", "SplitScore", "evaluate"]
