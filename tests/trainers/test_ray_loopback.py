"""The embedded Ray a local run starts listens on loopback only (issue #10, medium 10).

A fresh process starts Ray the way every part of Vibe does (``trainers.init_ray``, no cluster address) and
lists every listening socket of itself and the Ray processes it started; and no module of the product starts
Ray any other way (post-training once did, listening on the machine's address).
"""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, time
import psutil, ray
from trainers import RunConfig, init_ray

init_ray(RunConfig().ray)
time.sleep(2)  # the agents bind their ports while the node comes up
me = psutil.Process()
ours = {me.pid} | {p.pid for p in me.children(recursive=True)}
listening = sorted(
    {(c.laddr.ip, c.laddr.port, psutil.Process(c.pid).name())
     for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ours}
)
ray.shutdown()
print("LISTENING " + json.dumps(listening))
"""


def test_no_vibe_started_listener_is_on_a_non_loopback_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("LISTENING ")), None)
    assert line is not None, done.stdout[-2000:] + done.stderr[-4000:]
    listening = json.loads(line.removeprefix("LISTENING "))
    assert listening, "Ray started no listener at all: the probe did not see the node"
    # an IPv6 socket bound to ::ffff:127.0.0.1 is the IPv4 loopback address, mapped
    outside = [
        entry for entry in listening if not ipaddress.ip_address(entry[0].removeprefix("::ffff:")).is_loopback
    ]
    assert outside == [], f"listening beyond loopback: {outside}"


def test_every_ray_start_of_the_product_goes_through_init_ray() -> None:
    root = Path(__file__).resolve().parents[2]
    starts = []
    for package in ("vibe", "tools", "trainers", "sandbox", "policies"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                call = node.func if isinstance(node, ast.Call) else None
                if (
                    isinstance(call, ast.Attribute)
                    and call.attr == "init"
                    and ast.unparse(call.value) == "ray"
                ):
                    starts.append(f"{path.relative_to(root)}:{node.lineno}")
    assert starts and all(s.startswith("trainers/_launch.py:") for s in starts), starts
