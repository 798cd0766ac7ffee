"""``python -m trainers RUN.yaml [--resume] [--result RESULT.json]``: train one run, for a supervising parent.

The train tool runs training in a child process it watches (a stalled run is killed and resumed); this is
that child's entry point. It trains ``RUN.yaml`` (a :class:`trainers.RunConfig`) and writes the
:class:`trainers.RunResult` as JSON to ``--result``. Exit status 2: the configuration or the data is wrong
(a retry cannot help; the message on stderr says what to fix); 1: anything else.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path

from vibe.core.config import ConfigError
from vibe.core.errors import UserError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainers", description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path, help="a RunConfig YAML")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--result", type=Path, help="write the RunResult here, as JSON")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Megatron / torch deprecation noise; workers log theirs to logs/
    from trainers import launch, load_run_config

    try:
        result = launch(load_run_config(args.config), resume=args.resume)
    except (UserError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.result is not None:
        tmp = args.result.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(result), default=str, indent=2))
        os.replace(tmp, args.result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
