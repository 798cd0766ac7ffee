"""Run the approvals page with uvicorn, on the loopback interface only."""

from __future__ import annotations

from typing import Any

__all__ = ["HOST", "serve"]

HOST = "127.0.0.1"  # never a public interface: the page is for this machine (or an SSH tunnel to it)


def serve(app: Any, *, port: int) -> None:
    """Serve ``app`` on http://127.0.0.1:PORT until interrupted."""
    import uvicorn

    if not 0 < port < 65536:
        raise ValueError(f"port must be in 1..65535, got {port}")
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False, proxy_headers=False)
