"""The unattended overnight loop: ``vibe loop "GOAL" --until 07:00`` (or ``--hours 8``).

    from vibe.loop import LoopConfig, run_loop
    result = run_loop(LoopConfig(goal="lowest validation bits per byte for a 20M on /data/code", hours=8))

Rounds until the deadline or the budget, no human needed:

1. **Round 1** searches the default space on a narrow proxy of the local run (:mod:`tools.hpo`), then trains
   the full-size (local) run with the best trial's settings transferred onto it (µP-style rule), and
   evaluates it.
2. **Later rounds** refine: a new search in the space of the round that found the best trial so far,
   narrowed around it (``SearchSpace.narrowed``), then again the transferred run and its evaluation.

Each round is one thread of the agent graph itself (``vibe.agent``, ``unattended=True``, auto-confirmed):
the loop does not re-implement planning, gating, approvals, execution, retries or recording; it only sizes
each round by the time left and passes the search settings (space, deadline, trials) through
``PlanSettings.search``. So every step goes through the same policy gate, approvals store and hash-chained
ledger as ``vibe run``, and a step that needs approval is filed and skipped, not waited on (the morning
report lists it, with the command that approves and resumes it).

**One Optuna study per round**, not one for the whole night: a refinement round searches a different
(narrowed) space, which would mix distributions within one study and make TPE's model and the importances
meaningless; per-round studies keep each study's report and plots self-contained, while the loop's report
draws the history over all rounds.

**Finishing on time.** The full-size run's training budget is fixed once (``full_run_share`` of the window,
at most ``full_run_max_s``); a round searches until ``deadline - full run - its start-up and evaluation -
report reserve`` (the search's ``Budget.deadline``: no trial starts after it and running trials are stopped),
and no round starts with less than ``min_round_s`` of search time left.

**Resumable.** ``{workdir}/loop-<time>/loop.json`` records the loop and its rounds after every change;
``run_loop`` with the same workdir and goal continues the unfinished loop: finished rounds are kept, a round
cut off is resumed from the agent's checkpoint (its finished steps are not run again).

**The morning report** is ``{workdir}/loop-<time>/report.md`` (+ ``report.html`` and PNGs): see
:mod:`vibe.loop._report`.
"""

from vibe.loop._config import LoopConfig, RoundSettings, parse_until
from vibe.loop._run import LoopResult, run_loop, why_stop
from vibe.loop._state import LoopState, RoundRecord

__all__ = [
    "LoopConfig",
    "LoopResult",
    "LoopState",
    "RoundRecord",
    "RoundSettings",
    "parse_until",
    "run_loop",
    "why_stop",
]
