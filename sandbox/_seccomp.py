"""A seccomp filter that stops the sandboxed process from creating user namespaces.

Inside a user namespace an unprivileged process is root (``unshare -U -r``) and can mount, and reach
kernel code that is otherwise out of its reach. bubblewrap's ``--disable-userns`` only works with
``--unshare-user``, and Vibe runs bwrap as root without one (then drops to a per-run uid), so the filter is
loaded in both modes (``bwrap --seccomp FD``) and ``--disable-userns`` is added where a user namespace is made.

The program (classic BPF, as the kernel's ``struct sock_filter`` array) allows every system call except:
``unshare`` and ``clone`` with ``CLONE_NEWUSER`` in their flags (EPERM), ``clone3`` (ENOSYS: its flags
sit behind a pointer a filter cannot read; glibc then falls back to ``clone``), and any call made under
another architecture or the x32 ABI (the process is killed), so no other syscall table can be used around it.
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["CLONE_NEWUSER", "no_userns_filter"]

CLONE_NEWUSER = 0x10000000
# (AUDIT_ARCH_*, unshare, clone, clone3) per machine
_ARCH = {
    "x86_64": (0xC000003E, 272, 56, 435),
    "aarch64": (0xC00000B7, 97, 220, 435),
}
_X32_BIT = 0x40000000

# BPF opcodes
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_KILL = 0x80000000  # SECCOMP_RET_KILL_PROCESS
_ERRNO = 0x00050000
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little-endian: low word first)
_NR, _ARCH_OFF, _ARG0_LOW = 0, 4, 16


def no_userns_filter(machine: str | None = None) -> bytes:
    """The filter program for ``machine`` (default: this one), as the bytes ``bwrap --seccomp`` reads."""
    machine = machine or platform.machine()
    if machine not in _ARCH:
        raise RuntimeError(f"no seccomp filter for {machine}; supported: {', '.join(_ARCH)}")
    arch, unshare, clone, clone3 = _ARCH[machine]
    eperm, enosys = _ERRNO | errno.EPERM, _ERRNO | errno.ENOSYS
    program = [
        (_LD_W_ABS, 0, 0, _ARCH_OFF),
        (_JEQ_K, 1, 0, arch),  # this architecture: go on; else kill
        (_RET_K, 0, 0, _KILL),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, 0, 1, _X32_BIT),  # x32 ABI numbers: kill
        (_RET_K, 0, 0, _KILL),
        (_JEQ_K, 0, 1, clone3),
        (_RET_K, 0, 0, enosys),
        (_JEQ_K, 1, 0, unshare),  # unshare or clone: look at the flags
        (_JEQ_K, 0, 3, clone),
        (_LD_W_ABS, 0, 0, _ARG0_LOW),
        (_JSET_K, 0, 1, CLONE_NEWUSER),
        (_RET_K, 0, 0, eperm),
        (_RET_K, 0, 0, _ALLOW),
    ]
    return b"".join(struct.pack("<HBBI", *ins) for ins in program)
