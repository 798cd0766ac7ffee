"""The agent graph and its persistence.

    intake -> plan -> confirm -> gate -> execute -> observe --(more steps / retry)--> gate
                 \\                                     \\--(done / failed)---------> report
                  \\--(estimate only / stopped)-------------------------------------> report

The same compiled graph runs on SQLite (default: a file) or PostgreSQL (``postgresql://...`` URL):
checkpoints are written after every node, so ``vibe resume THREAD`` continues after a crash.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from vibe.agent import _nodes as nodes
from vibe.agent._approval import gate_node
from vibe.agent._deps import AgentDeps
from vibe.agent._report import report
from vibe.agent._state import AgentState
from vibe.core.errors import UserError

__all__ = ["build_graph", "open_checkpointer"]


_FINAL = ("stopped", "failed", "estimated", "done", "answered", "question", "refused")


def _after(state: AgentState, *, ok: str) -> str:
    return "report" if state.get("status") in _FINAL else ok


def _after_observe(state: AgentState) -> str:
    return "report" if state.get("status") in ("stopped", "failed", "done") else "gate"


def build_graph(deps: AgentDeps, checkpointer: BaseCheckpointSaver[Any]) -> Any:
    graph = StateGraph(AgentState)
    for name, fn in (
        ("intake", nodes.intake),
        ("plan", nodes.plan),
        ("confirm", nodes.confirm),
        ("gate", gate_node),
        ("execute", nodes.execute),
        ("observe", nodes.observe),
        ("report", report),
    ):
        graph.add_node(name, partial(fn, deps=deps))
    graph.add_edge(START, "intake")
    graph.add_conditional_edges("intake", partial(_after, ok="plan"), ["plan", "report"])
    graph.add_conditional_edges("plan", partial(_after, ok="confirm"), ["confirm", "report"])
    graph.add_conditional_edges("confirm", partial(_after, ok="gate"), ["gate", "report"])
    graph.add_conditional_edges("gate", partial(_after, ok="execute"), ["execute", "report"])
    graph.add_edge("execute", "observe")
    graph.add_conditional_edges("observe", _after_observe, ["gate", "report"])
    graph.add_edge("report", END)
    return graph.compile(checkpointer=checkpointer)


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A SQLite file path (or ``sqlite:///path``) or a ``postgresql://`` URL."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver  # type: ignore[import-not-found]
        except ImportError:
            raise UserError(
                f"checkpointer {url.split('@')[-1]!r} is PostgreSQL but langgraph-checkpoint-postgres is not "
                "installed: pip install 'langgraph-checkpoint-postgres' 'psycopg[binary]'"
            ) from None
        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        yield SqliteSaver(conn)
    finally:
        conn.close()
