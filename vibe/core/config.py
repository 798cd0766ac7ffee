"""One configuration system: pydantic models that load from YAML and fail with precise errors.

Every typed config in Vibe (ingest, run, model, policy, ...) subclasses :class:`VibeConfig`. Loading goes
through :func:`load_yaml` or :func:`validate`, which turn pydantic's errors into a :class:`ConfigError` naming
the file, the line (when known), the field, the value given and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from vibe.core.errors import NOT_GIVEN, ConfigError, ConfigProblem, short_repr  # noqa: F401  (re-exported)

__all__ = [
    "NOT_GIVEN",
    "ConfigError",
    "ConfigProblem",
    "VibeConfig",
    "dump_yaml",
    "line_index",
    "load_config",
    "load_yaml",
    "set_dotted",
    "validate",
]

C = TypeVar("C", bound="VibeConfig")


class VibeConfig(BaseModel):
    """Base of every config: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def line_index(root: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """Map each key path under the composed node ``root`` to its 1-based line number."""
    index: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                index[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = (*path, str(i))
                index[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, ())
    return index


def _problems(
    model_cls: type[BaseModel], error: ValidationError, lines: Mapping[tuple[str, ...], int]
) -> list[ConfigProblem]:
    problems = []
    for err in error.errors():
        loc = tuple(str(p) for p in err["loc"])
        field = ".".join(loc) or "<top level>"
        line = next((lines[loc[:i]] for i in range(len(loc), 0, -1) if loc[:i] in lines), None)
        if err["type"] == "extra_forbidden":
            allowed = "unknown field; allowed fields here: " + ", ".join(_fields_at(model_cls, loc[:-1]))
        elif err["type"] == "missing":
            allowed = "required field is missing"
            problems.append(ConfigProblem(field=field, given=NOT_GIVEN, allowed=allowed, line=line))
            continue
        else:
            allowed = err["msg"].replace("Value error, ", "")
        problems.append(ConfigProblem(field=field, given=err.get("input"), allowed=allowed, line=line))
    return problems


def _fields_at(model_cls: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """Names of the fields of the (nested) model at ``loc``, for 'unknown field' messages."""
    current: Any = model_cls
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(part)
        if field is None:
            return []
        current = field.annotation
        # unwrap Optional[Model] / list[Model] / dict[str, Model]
        for arg in getattr(current, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
                break
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def validate(
    model_cls: type[C],
    data: Any,
    *,
    source: str = "<arguments>",
    lines: Mapping[tuple[str, ...], int] | None = None,
) -> C:
    """Validate ``data`` into ``model_cls`` or raise a :class:`ConfigError` that names ``source``."""
    try:
        return model_cls.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source=source, problems=_problems(model_cls, error, lines or {})) from None


def load_yaml(path: str | Path, model_cls: type[C], *, overrides: Mapping[str, Any] | None = None) -> C:
    """Load a YAML file into ``model_cls``. ``overrides`` (dotted keys) are applied on top."""
    from vibe.core.yamlfile import read_yaml  # the one bounded YAML reader

    source = str(path)
    document = read_yaml(path)
    data = document.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            source=source,
            problems=[ConfigProblem(field="<top level>", given=data, allowed="must be a mapping of fields")],
        )
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return validate(model_cls, data, source=source, lines=line_index(document.root))


def load_config(
    model_cls: type[C],
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    source: str = "<command line>",
) -> C:
    """A config from a YAML file (if given) with dotted ``overrides`` on top, e.g. a command's flags over its
    ``--config``; without a file, from the overrides alone (errors then name ``source``)."""
    if path is not None:
        return load_yaml(path, model_cls, overrides=overrides)
    data: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        set_dotted(data, dotted, value)
    return validate(model_cls, data, source=source)


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """``data["a"]["b"] = value`` for ``dotted`` ``"a.b"``, creating the mappings on the way."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def dump_yaml(config: BaseModel, path: str | Path) -> None:
    """Write ``config`` as YAML that :func:`load_yaml` reads back to an equal object."""
    Path(path).write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
