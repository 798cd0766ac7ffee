"""What the sandboxed command cannot reach: the network, the host's files, credentials, the caller's uid."""

from __future__ import annotations

import os
from pathlib import Path

from sandbox import run, run_python

CONNECT = """
import errno, socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
start = time.monotonic()
s = socket.socket()
s.settimeout(20)
try:
    s.connect((host, port))
    print("connected")
except OSError as exc:
    print(errno.errorcode.get(exc.errno, exc.errno), round(time.monotonic() - start, 3))
"""


def test_tcp_to_a_private_address_is_unreachable() -> None:
    r = run_python(CONNECT, args=["10.255.255.1", "80"])
    assert r.ok, r.stderr
    code, seconds = r.stdout.split()
    assert code == "ENETUNREACH"
    assert float(seconds) < 5  # refused at once by the empty routing table, not a timeout


def test_tcp_to_a_public_dns_server_is_unreachable() -> None:
    r = run_python(CONNECT, args=["1.1.1.1", "53"])
    assert r.ok, r.stderr
    assert r.stdout.split()[0] == "ENETUNREACH"


def test_only_loopback_exists() -> None:
    r = run_python("import socket\nprint(sorted(n for _, n in socket.if_nameindex()))")
    assert r.ok, r.stderr
    assert r.stdout == "['lo']\n"


def test_dns_resolution_fails() -> None:
    code = """
import socket
try:
    print(socket.getaddrinfo("example.com", 443))
except socket.gaierror as exc:
    print("gaierror", exc.errno)
"""
    r = run_python(code)
    assert r.ok, r.stderr
    assert r.stdout.startswith("gaierror")


def test_writes_outside_scratch_fail(tmp_path: Path) -> None:
    bound = tmp_path / "bound"
    bound.mkdir()
    (bound / "data.txt").write_text("original")
    targets = ["/etc/x", "/x", "/usr/x", "/proc/x", str(bound / "new"), str(bound / "data.txt")]
    code = """
import sys
for path in sys.argv[1:]:
    try:
        with open(path, "a") as f:
            f.write("pwned")
        print(path, "WRITTEN")
    except OSError as exc:
        print(path, "refused", exc.errno)
"""
    r = run_python(code, args=targets, ro_binds=[bound])
    assert r.ok, r.stderr
    assert "WRITTEN" not in r.stdout
    assert len(r.stdout.splitlines()) == len(targets)
    assert (bound / "data.txt").read_text() == "original" and not (bound / "new").exists()


def test_scratch_and_tmp_are_writable() -> None:
    r = run(["/bin/sh", "-c", "echo a > /scratch/f && echo b > /tmp/g && cat /scratch/f /tmp/g"])
    assert r.ok, r.stderr
    assert r.stdout == "a\nb\n"


def test_scratch_is_private_to_each_run() -> None:
    first = run(["/bin/sh", "-c", "echo left > /scratch/left-behind"])
    second = run(["/bin/ls", "-A", "/scratch"])
    assert first.ok and second.ok
    assert second.stdout == ""


def test_scratch_is_limited_to_scratch_mb() -> None:
    from sandbox import Limits

    r = run(["/bin/sh", "-c", "head -c 3000000 /dev/zero > /scratch/big"], limits=Limits(scratch_mb=1))
    assert r.exit_code != 0
    assert "No space left" in r.stderr


def test_host_files_are_not_visible() -> None:
    paths = [
        "/root",
        "/work",
        "/home",
        str(Path.home()),
        os.getcwd(),
        "/etc/shadow",
        "/etc/ssh",
        "/var",
        "/run",
    ]
    r = run(["/bin/ls", "-d", *paths])
    assert r.exit_code != 0
    assert r.stdout == ""
    for p in paths:
        assert f"cannot access '{p}'" in r.stderr


def test_etc_holds_no_credentials() -> None:
    r = run(["/bin/ls", "-A", "/etc"])
    assert r.ok
    names = set(r.stdout.split())
    assert not names & {"shadow", "gshadow", "sudoers", "ssh", "ssl", "resolv.conf", "environment"}
    assert "passwd" in names


def test_command_runs_as_an_unprivileged_user() -> None:
    code = "import os\nprint(os.getuid(), os.geteuid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])"
    r = run_python(code)
    assert r.ok, r.stderr
    uid, euid, caps = r.stdout.split()
    assert int(uid) != 0 and int(euid) != 0
    assert int(caps, 16) == 0


def test_only_the_sandbox_processes_are_visible() -> None:
    r = run(["/bin/sh", "-c", "ls /proc | grep -c '^[0-9]'"])
    assert r.ok
    assert int(r.stdout) <= 4  # bwrap's pid 1, sh, ls, grep


def test_no_user_namespace_can_be_created_inside() -> None:
    # `unshare -U -r` would make the command root in a new user namespace (issue #10, medium 9)
    r = run(["/bin/sh", "-c", "unshare -U -r id -u; echo exit=$?"])
    assert "exit=0" not in r.stdout, r.stdout
    assert "Operation not permitted" in r.stderr, r.stderr
    r = run_python(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER
    )
    assert r.ok, r.stderr
    assert r.stdout.split() == ["-1", "1"]  # EPERM


def test_threads_and_subprocesses_still_work_inside() -> None:
    code = (
        "import subprocess, threading\nt = threading.Thread(target=print, args=('thread',))\nt.start()\n"
        "t.join()\nprint(subprocess.run(['/bin/echo', 'child'], capture_output=True, text=True).stdout.strip())\n"
    )
    r = run_python(code)
    assert r.ok, r.stderr
    assert r.stdout.split() == ["thread", "child"]
