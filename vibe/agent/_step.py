"""A plan step: one gated tool call, its arguments built as the tool's typed argument model.

The step holds its arguments as data (``args``: what the ledger records and LangGraph checkpoints, unchanged
in format), dumped from the tool's argument model (:class:`tools.ToolArgs`, unknown keys refused) by
:meth:`PlanStep.of`, so a plan cannot build a step its tool would refuse; the tool validates them again when
it runs (a step read back from an older checkpoint included).
"""

from __future__ import annotations

from typing import Any

from tools import ToolArgs, registered
from vibe.core.config import VibeConfig

__all__ = ["PlanStep"]


class PlanStep(VibeConfig):
    """One gated tool call. ``id`` is stable, so a resumed thread finds the result of a step already done."""

    id: str
    tool: str
    args: dict[str, Any]
    why: str

    @classmethod
    def of(cls, *, id: str, tool: str, args: ToolArgs, why: str) -> PlanStep:
        """The step calling ``tool`` with ``args`` (that tool's argument model), as data: the fields set."""
        expected = registered()[tool].args
        if not isinstance(args, expected):
            raise TypeError(f"step {id}: tool {tool} takes {expected.__name__}, not {type(args).__name__}")
        return cls(id=id, tool=tool, args=_data(args), why=why)

    def typed_args(self) -> ToolArgs:
        """The arguments as the tool's argument model (a ValidationError names a bad field)."""
        return registered()[self.tool].args.model_validate(self.args)

    def with_args(self, *, why: str | None = None, **changes: Any) -> PlanStep:
        """This step with the argument fields ``changes`` replaced (validated by the tool's model), and ``why``."""
        args = registered()[self.tool].args.model_validate({**self.args, **changes})
        return self.model_copy(update={"args": _data(args), **({"why": why} if why is not None else {})})


def _data(args: ToolArgs) -> dict[str, Any]:
    return args.model_dump(mode="json", exclude_unset=True)
