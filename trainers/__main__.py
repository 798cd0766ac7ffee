"""``python -m trainers RUN.yaml [--resume] [--result RESULT.json]``: train one run, for a supervising parent.

The train tool runs training in a child process it watches (a stalled run is killed and resumed); this is
that child's entry point. It trains ``RUN.yaml`` (a :class:`trainers.RunConfig`) and writes the
:class:`trainers.RunResult` as JSON to ``--result``. Exit status 2: the configuration or the data is wrong
(a retry cannot help; the message on stderr says what to fix); 1: anything else.

``--wait-for GO``: started ahead of its step (``tools`` starts it while ingest runs), the child imports the
trainer and starts (or joins) Ray for ``RUN.yaml``'s ``ray`` section, prints ``ready: Ray at ADDRESS`` on
stderr (with its pid), then waits for the file ``GO`` (JSON ``{"resume": bool}``), which the parent writes once the gate
has allowed the step and ``RUN.yaml`` holds the final config. Until then it reads no data and writes nothing
in the run directory. Never told to go within ``--wait-timeout`` seconds, it exits 0 having trained nothing.
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
    parser.add_argument(
        "--wait-for", type=Path, help="start ahead: Ray up, then wait for this file (see above)"
    )
    parser.add_argument("--wait-timeout", type=float, default=3600.0, help="seconds to wait for --wait-for")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # Megatron / torch deprecation noise; workers log theirs to logs/
    from trainers import launch, load_run_config

    try:
        resume = args.resume
        if args.wait_for is not None:
            go = _wait_ahead(args.config, args.wait_for, timeout_s=args.wait_timeout)
            if go is None:
                print("not told to go: exiting without training", file=sys.stderr)
                return 0
            resume = resume or bool(go.get("resume"))
        result = launch(load_run_config(args.config), resume=resume)
    except (UserError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.result is not None:
        tmp = args.result.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(result), default=str, indent=2))
        os.replace(tmp, args.result)
    return 0


def _wait_ahead(config: Path, go: Path, *, timeout_s: float) -> dict[str, object] | None:
    """Start (or join) Ray for ``config``'s ray section and import what ``launch`` will, then wait for ``go``;
    its JSON, or None when it did not come within ``timeout_s``."""
    import threading
    import time

    from trainers import init_ray, load_run_config

    threading.Thread(target=_die_with_parent, args=(os.getppid(),), daemon=True).start()
    init_ray(load_run_config(config).ray)
    import ray
    import ray.train.torch

    address = ray.get_runtime_context().gcs_address
    print(f"ready: Ray at {address} (pid {os.getpid()})", file=sys.stderr, flush=True)
    deadline = time.monotonic() + timeout_s
    while not go.is_file():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    return json.loads(go.read_text())


def _die_with_parent(parent: int) -> None:
    """A child started ahead outlives the thread that started it, so the parent's PR_SET_PDEATHSIG (which
    follows that thread) cannot guard it: when the parent process is gone, kill this process group (this
    process, its Ray, and a run it started) rather than train or wait for nobody."""
    import signal
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    if os.getpgid(0) == os.getpid():  # our own group (the tool starts us in a new session)
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    sys.exit(main())
