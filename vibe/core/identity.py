"""Who is running this process: the OS account of its effective uid, not what the environment claims.

``LOGNAME``/``USER`` (what ``getpass.getuser`` reads) are set by whoever starts the process, so
``LOGNAME=intern vibe run ...`` would let anyone file requests as someone else and then approve them.
The uid is set by the OS at login; changing it takes the account's credentials.
"""

from __future__ import annotations

import os
import pwd

__all__ = ["process_user"]


def process_user() -> str:
    """The login name of this process's effective uid (``uid-N`` when the uid has no passwd entry)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid-{uid}"
