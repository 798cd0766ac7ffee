"""The tool registry: every built-in tool is there with typed, validated arguments and results."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tools import ToolContext, registered


def test_the_built_in_tools_are_registered_with_schemas() -> None:
    tools = registered()
    assert {"profile", "estimate", "ingest", "train", "eval"} <= set(tools)
    for tool in tools.values():
        schema = tool.schema()
        assert schema["description"] and schema["arguments"]["type"] == "object"


def test_arguments_are_validated_before_the_tool_runs(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="parameters"):
        registered()["estimate"]({"parameters": -1}, ToolContext(workdir=tmp_path))


def test_estimate_tool_returns_a_typed_cost(tmp_path: Path) -> None:
    result = registered()["estimate"](
        {"parameters": 7e9, "gpu_hour_budget": 10}, ToolContext(workdir=tmp_path)
    )
    assert result.layout is not None and result.gpu_hours > 10
    assert any("over the budget" in w for w in result.warnings)


def test_tool_arguments_refuse_unknown_keys(tmp_path) -> None:
    import pytest
    from pydantic import ValidationError

    from tools import ToolContext, registered

    assert {"profile", "estimate", "ingest", "train", "eval", "hpo", "synth", "release"} <= set(registered())
    for name in registered():  # every registered tool, the lifecycle ones (model_*, posttrain, release*) too
        with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
            registered()[name].args.model_validate({"no_such_argument": 1})
    with pytest.raises(ValidationError, match="vocab_sise"):
        registered()["ingest"](
            {"paths": ["/x"], "out": "/y", "vocab_sise": 512}, ToolContext(workdir=tmp_path)
        )
