"""The agent's face: open the persistence, build the graph, run or resume a thread."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Literal

from langgraph.types import Command
from pydantic import BaseModel, Field

from policies import AllowAll, Gate, PolicyGate
from tools import stop_training_ahead
from vibe.agent._deps import AgentDeps
from vibe.agent._graph import build_graph, open_checkpointer
from vibe.agent._plan import PlanSettings
from vibe.agent._record import Recorder
from vibe.approvals import ApprovalStore
from vibe.core.config import VibeConfig
from vibe.core.errors import UserError
from vibe.llm import ChatModel

__all__ = ["Agent", "AgentSettings", "Outcome", "continue_thread", "local_training_flops"]

# Share of the measured fp32 matmul peak a small proxy run sustains end to end under Ray here (evaluation,
# checkpoints and data loading included): ~0.35 on the demo's run (1.3M tokens of a 1.2M-parameter GPT in
# ~140 s against a 188 GFLOP/s peak). Larger models sustain more (bench/trainer_throughput.py: 0.77).
SUSTAINED_FRACTION = 0.35


def local_training_flops() -> float:
    """FLOP/s a training run sustains on this machine: its measured matmul peak times the sustained share."""
    import os

    from trainers import cpu_peak_flops

    return cpu_peak_flops(os.cpu_count() or 1) * SUSTAINED_FRACTION


class AgentSettings(VibeConfig):
    workdir: str = "runs"
    checkpointer: str | None = Field(
        default=None, description="SQLite path or postgresql:// URL; None: WORKDIR/agent.sqlite"
    )
    ledger: str | None = Field(
        default=None, description="ledger SQLite path; None: $VIBE_LEDGER, else WORKDIR/ledger.sqlite"
    )
    plan: PlanSettings = Field(default_factory=PlanSettings)
    llm_proposals: bool = False
    measure_local_flops: bool = Field(
        default=True, description="size local runs by this machine's measured matmul peak (cached after once)"
    )
    policies: list[str] = Field(
        default_factory=list, description="policy files, organisation first, then team; empty: no policy"
    )
    usage: str | None = Field(default=None, description="YAML of today's usage by team, read at each check")
    team: str | None = Field(default=None, description="the team it works for: its budget and team policy")
    requester: str | None = Field(
        default=None,
        description="who asks (may not approve their own requests): always the OS user running the process; "
        "set, it must name that user",
    )
    approvals: str | None = Field(
        default=None, description="approvals SQLite path; None: $VIBE_CACHE/approvals/approvals.sqlite"
    )
    unattended: bool = Field(default=False, description="never wait for approval: skip what needs it")
    train_ahead: bool = Field(
        default=True,
        description="start a train step's child process (imports, Ray start-up) while the steps before it "
        "run; it touches no data until the step has passed the gate",
    )
    approval_ttl_hours: float = Field(default=24.0, gt=0, description="a request expires after this long")
    llm_mode: Literal["draft", "tools"] = Field(
        default="draft",
        description="draft: the LLM drafts the typed intent, the planner decides (small models); tools: a capable "
        "model calls the registered tools itself, each call gated (any OpenAI-compatible endpoint)",
    )
    max_tool_turns: int = Field(default=8, ge=1, description="tools mode: model turns per request")
    max_tool_tokens: int = Field(default=20_000, ge=1, description="tools mode: tokens per request")


class Outcome(BaseModel):
    """Where a thread stands after a call: finished (status) or paused waiting for an answer (interrupt)."""

    thread_id: str
    status: str
    reason: str = ""
    report: str | None = None
    waiting_for: dict[str, Any] | None = None
    values: dict[str, Any] = Field(default_factory=dict)


class Agent:
    def __init__(self, *, graph: Any, settings: AgentSettings, deps: AgentDeps) -> None:
        self.graph, self.settings, self.deps = graph, settings, deps

    @classmethod
    @contextmanager
    def open(
        cls,
        settings: AgentSettings,
        *,
        llm: ChatModel | None = None,
        gate: Gate | None = None,
        yes: bool = False,
        on_event: Callable[[str], None] = lambda line: None,
        approvals: ApprovalStore | None = None,
    ) -> Iterator[Agent]:
        """Open the thread store, ledger and gate. ``gate`` None: a :class:`PolicyGate` over
        ``settings.policies`` when any are set (requests filed in ``approvals``, else ``settings.approvals``)."""
        from vibe.approvals import default_store_path
        from vibe.core.identity import process_user
        from vibe.ledger import SqliteLedger, default_ledger_path

        workdir = Path(settings.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        # Absolute, so the paths in plans and run configs mean the same thing to every process that reads them.
        plan_settings = settings.plan.model_copy(update={"workdir": str(workdir.resolve())})
        if settings.measure_local_flops:
            plan_settings = plan_settings.model_copy(
                update={"local_flops_per_second": local_training_flops()}
            )
        with ExitStack() as stack:
            saver = stack.enter_context(
                open_checkpointer(settings.checkpointer or str(workdir / "agent.sqlite"))
            )
            ledger = SqliteLedger(Path(settings.ledger or default_ledger_path(workdir)))
            stack.callback(getattr(ledger, "close", lambda: None))
            if gate is None and settings.policies:
                user = process_user()  # the requester is who runs this process, never a claim
                if settings.requester is not None and settings.requester != user:
                    raise UserError(
                        f"requester: {settings.requester!r} is not the user running this process ({user}); "
                        "requests are filed as the OS user: leave requester unset or run Vibe as that user"
                    )
                gate = PolicyGate.from_files(
                    settings.policies, usage_file=settings.usage, team=settings.team, requester=user
                )
            if approvals is None and isinstance(gate, PolicyGate):
                approvals = stack.enter_context(ApprovalStore(settings.approvals or default_store_path()))
            deps = AgentDeps(
                record=Recorder(ledger),
                llm=llm,
                gate=gate or AllowAll(),
                settings=plan_settings,
                auto_confirm=yes,
                llm_proposals=settings.llm_proposals,
                on_event=on_event,
                approvals=approvals,
                unattended=settings.unattended,
                approval_ttl_hours=settings.approval_ttl_hours,
                train_ahead=settings.train_ahead,
            )
            stack.callback(stop_training_ahead, workdir.resolve())
            yield cls(graph=build_graph(deps, saver), settings=settings, deps=deps)

    def _outcome(self, thread_id: str) -> Outcome:
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        values = dict(snapshot.values)
        waiting = None
        for task in snapshot.tasks:
            for intr in getattr(task, "interrupts", ()):
                waiting = intr.value
        return Outcome(
            thread_id=thread_id,
            status="waiting" if waiting else values.get("status", "new"),
            reason=values.get("reason", ""),
            report=values.get("report"),
            waiting_for=waiting,
            values=values,
        )

    def run(self, request: str, *, thread_id: str | None = None, reading: Any = None) -> Outcome:
        """Plan (and run) ``request`` in a new thread; ``reading``: a Reading already made of it (a chat
        follow-up's edit), used instead of reading the request again."""
        thread_id = thread_id or f"t-{uuid.uuid4().hex[:8]}"
        config = {"configurable": {"thread_id": thread_id}}
        if self.graph.get_state(config).values:
            raise UserError(f"thread {thread_id} already exists: continue it with `vibe resume {thread_id}`")
        if self.settings.llm_mode == "tools":
            return self._run_tools(request, thread_id)
        import secrets

        start = {
            "request": request,
            "thread_id": thread_id,
            "run_id": secrets.token_hex(16),
            "policy_hashes": self._policy_hashes(),
            "requester": getattr(self.deps.gate, "requester", None),
            "events": [],
        }
        if reading is not None:
            start["reading"] = reading.model_dump(mode="json")
        self.graph.invoke(start, config)
        return self._outcome(thread_id)

    def _policy_hashes(self) -> dict[str, str]:
        gate = self.deps.gate
        return dict(gate.policies.policy_hashes) if isinstance(gate, PolicyGate) else {}

    def _run_tools(self, request: str, thread_id: str) -> Outcome:
        from vibe.agent._tools_mode import drive_with_tools

        llm = self.deps.llm
        if llm is None or not hasattr(llm, "chat_tools"):
            raise UserError(
                "llm_mode 'tools' needs an OpenAI-compatible endpoint (VIBE_LLM_URL); or set llm_mode: draft"
            )
        result = drive_with_tools(request, llm=llm, deps=self.deps, thread=thread_id,  # type: ignore[arg-type]
                                  max_turns=self.settings.max_tool_turns, max_tokens=self.settings.max_tool_tokens)  # fmt: skip
        out = Path(self.deps.settings.workdir) / thread_id
        out.mkdir(parents=True, exist_ok=True)
        lines = [f"# Vibe report: {thread_id}", "", f"**Request:** {request}", "",
                 f"**Status:** {result['status']} — {result['reason']}", "", "## Tool calls (tools mode)", "",
                 *[f"- {c['tool']}: {json.dumps(c['result'])[:300]}" for c in result["calls"]], ""]  # fmt: skip
        (out / "report.md").write_text("\n".join(lines))
        self.deps.record(thread_id, kind="report", actor="planner", inputs={}, outputs={"path": str(out / "report.md")},
                         reason=result["status"])  # fmt: skip
        return Outcome(thread_id=thread_id, status=result["status"], reason=result["reason"],
                       report=str(out / "report.md"), values=result)  # fmt: skip

    def resume(self, thread_id: str, *, answer: Any = None) -> Outcome:
        """Continue a thread after a crash (``answer`` None) or answer the question it paused on."""
        config = {"configurable": {"thread_id": thread_id}}
        snapshot = self.graph.get_state(config)
        if not snapshot.values:
            raise UserError(f"no thread {thread_id} in {self.settings.checkpointer or self.settings.workdir}")
        if not snapshot.next:
            return self._outcome(thread_id)
        from vibe.agent._approval import policy_refusal

        refused = policy_refusal(dict(snapshot.values), self.deps)
        if refused:  # before anything runs: the thread stays exactly where it is
            raise UserError(refused)
        if isinstance(self.deps.gate, PolicyGate) and snapshot.values.get("requester"):
            # the thread acts for whoever started it (bound to their uid then), whoever resumes it
            self.deps.gate.requester = snapshot.values["requester"]
        waiting = self._outcome(thread_id).waiting_for
        if waiting is not None:
            if answer is None:
                return self._outcome(thread_id)
            self.graph.invoke(Command(resume=answer), config)
        else:
            self.graph.invoke(None, config)
        return self._outcome(thread_id)


def continue_thread(agent: Agent, thread_id: str) -> Outcome:
    """Continue ``thread_id`` after its approval request was decided, from any process.

    A thread paused on the request resumes where it paused (the gate re-reads the store). A thread that
    finished unattended with steps skipped for approval goes back to the first step that did not run, which
    the gate then checks again. Anything else is returned as it stands.
    """
    config = {"configurable": {"thread_id": thread_id}}
    outcome = agent.resume(thread_id)  # a paused thread stays paused; one cut off by a crash goes on
    if outcome.waiting_for is not None:
        if outcome.waiting_for.get("kind") == "approval":
            return agent.resume(thread_id, answer="yes")  # the gate reads the decision from the store
        return outcome  # e.g. a plan waiting for its requester's confirmation: not ours to answer
    snapshot = agent.graph.get_state(config)
    values = snapshot.values
    if snapshot.next or not values.get("plan") or values.get("status") not in ("stopped", "done"):
        return outcome
    results = values.get("results", {})
    todo = [i for i, s in enumerate(values["plan"]["steps"]) if s["id"] not in results]
    store = agent.deps.approvals
    if not todo or store is None:
        return outcome
    if not any(r.thread_id == thread_id and r.status == "approved" for r in store.list(status="approved")):
        return outcome
    agent.graph.update_state(
        config, {"cursor": todo[0], "status": "running", "reason": ""}, as_node="observe"
    )
    return agent.resume(thread_id)
