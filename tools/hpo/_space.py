"""The search space: which ``trainers.RunConfig`` fields a search varies, and within which bounds.

A :class:`ParamSpec` names a dotted RunConfig field (``optimizer.lr``, ``model.hidden_size``, ...) and its
distribution; :func:`suggest` draws a trial's values from an Optuna trial and :func:`apply_params` writes them
onto the base run. Two couplings are handled there, not by the sampler: ``optimizer.min_lr`` keeps its ratio to
``optimizer.lr`` (so a sampled lr below the base min_lr stays valid), and a searched ``model.hidden_size`` keeps
the base head size when it does not divide by the base head count (heads = hidden / head size).

:func:`bound_by_policy` shrinks the width and depth bounds until the largest model of the space is within the
policy's ``models.max_parameters`` (found through the gate alone, see its docstring), so every trial the
sampler can propose is allowed.

A categorical whose choices are all numbers (widths, batch sizes) is searched as the index of its sorted
choices (``ParamSpec.ordered``; the study stores the index, :func:`to_values` and :func:`to_sampler` convert,
and every trial records the values it ran with in its ``values`` user attr). TPE's kernel for a categorical
has no notion of "nearby": in ``bench/hpo_efficiency.py`` one good trial at width 64 kept it at 64 for forty
trials while the best results were at 32. On the index its numeric kernel carries what it learnt about a
width to the neighbouring ones; choices such as 32/64/128 are evenly spaced on that index, i.e. on a log scale.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from vibe.core.config import VibeConfig, set_dotted

if TYPE_CHECKING:
    import optuna

    from trainers import ModelConfig, RunConfig

__all__ = [
    "ParamSpec",
    "SearchSpace",
    "apply_params",
    "bound_by_policy",
    "default_space",
    "distributions",
    "largest_run",
    "model_parameters",
    "space_size",
    "suggest",
    "to_sampler",
    "to_values",
]

_SECTIONS = ("model", "optimizer", "training", "parallel", "data", "ray")


class ParamSpec(VibeConfig):
    """One searched field: ``name`` is a dotted RunConfig field; float/int take low/high, categorical choices."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: int | None = None
    choices: list[Any] | None = None
    ordered: bool | None = Field(
        default=None,
        description="categorical only: search the sorted choices as an ordered index (an int to the "
        "sampler), so TPE's numeric kernel carries what it learnt about one choice to its neighbours; "
        "None: ordered when every choice is a number (widths, batch sizes), unordered otherwise",
    )

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        section = self.name.split(".", 1)[0]
        if "." not in self.name or section not in _SECTIONS:
            raise ValueError(
                f"name {self.name!r}: must be a dotted trainers.RunConfig field such as optimizer.lr "
                f"(sections: {', '.join(_SECTIONS)})"
            )
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError(f"{self.name}: kind categorical needs a non-empty `choices` list")
            if self.ordered and not _numeric(self.choices):
                raise ValueError(
                    f"{self.name}: ordered: true needs numeric choices (got {self.choices}); "
                    "leave `ordered` out or set it to false for named choices"
                )
            if _numeric(self.choices) and len(set(self.choices)) != len(self.choices):
                raise ValueError(f"{self.name}: choices {self.choices} repeat a value; list each once")
            return self
        if self.ordered is not None:
            raise ValueError(f"{self.name}: `ordered` applies to kind categorical only (this is {self.kind})")
        if self.low is None or self.high is None:
            raise ValueError(f"{self.name}: kind {self.kind} needs both `low` and `high`")
        if self.low > self.high:
            raise ValueError(f"{self.name}: low ({self.low}) must be <= high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: log: true needs low > 0 (got {self.low})")
        if self.log and self.step not in (None, 1):
            raise ValueError(f"{self.name}: log: true cannot be combined with step {self.step}")
        return self

    @property
    def is_ordered(self) -> bool:
        """A categorical searched as the index of its sorted choices (see ``ordered``)."""
        if self.kind != "categorical":
            return False
        return _numeric(self.choices or []) if self.ordered is None else self.ordered

    def ordered_choices(self) -> list[Any]:
        """The choices in the order the sampler sees them: sorted when ordered, as given otherwise."""
        choices = list(self.choices or [])
        return sorted(choices) if self.is_ordered else choices


def _numeric(choices: list[Any]) -> bool:
    return all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)


class SearchSpace(VibeConfig):
    """The searched fields; every other field of the base run stays as it is."""

    params: list[ParamSpec]

    @model_validator(mode="after")
    def _unique(self) -> SearchSpace:
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"params: {', '.join(dup)} appear(s) more than once; keep one entry per field")
        return self

    def get(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def narrowed(self, best: dict[str, Any], *, factor: float = 0.5) -> SearchSpace:
        """A space around ``best``: each numeric range shrinks to ``factor`` of its width (in log space for
        log params), centred on the best value and kept inside the old bounds; categoricals keep their
        choices; params ``best`` does not name stay as they are."""
        if not 0 < factor <= 1:
            raise ValueError(f"factor: got {factor}; must be in (0, 1]")
        out = []
        for p in self.params:
            if p.kind == "categorical" or p.name not in best:
                out.append(p)
                continue
            assert p.low is not None and p.high is not None
            fwd, inv = (math.log, math.exp) if p.log else ((lambda x: x), (lambda x: x))
            lo, hi, centre = fwd(p.low), fwd(p.high), fwd(min(max(float(best[p.name]), p.low), p.high))
            half = (hi - lo) * factor / 2
            new_lo, new_hi = max(lo, centre - half), min(hi, centre + half)
            if new_hi - new_lo < 2 * half:  # against a bound: slide the window inside instead of cutting it
                new_lo, new_hi = (
                    (lo, min(hi, lo + 2 * half)) if new_lo == lo else (max(lo, hi - 2 * half), hi)
                )
            low, high = inv(new_lo), inv(new_hi)
            if p.kind == "int":
                step = p.step or 1
                base = int(p.low)
                low = base + math.floor((low - base) / step) * step
                high = base + math.ceil((high - base) / step) * step
                low, high = max(int(p.low), int(low)), min(int(p.high), int(high))
            out.append(p.model_copy(update={"low": low, "high": high}))
        return SearchSpace(params=out)


def default_space(base: RunConfig) -> SearchSpace:
    """The usual proxy search around ``base``: lr (log, base/10 to base*10), warmup (0 to a quarter of the
    steps), weight decay (0 to 0.3), global batch (half, same, double), width (half, same, double, keeping the
    head size), depth (half to double); for MoE also the router's top-k and the aux loss coefficient."""
    m, t, o = base.model, base.training, base.optimizer
    unit = t.micro_batch_size * base.parallel.dp
    batches = sorted(
        {
            b
            for b in (t.global_batch_size // 2, t.global_batch_size, 2 * t.global_batch_size)
            if b >= unit and b % unit == 0
        }
    )
    head = m.hidden_size // m.num_attention_heads
    widths = sorted(
        {
            w
            for w in (m.hidden_size // 2, m.hidden_size, 2 * m.hidden_size)
            if w >= head and w % head == 0 and (w // head) % base.parallel.tp == 0
        }
    )
    params = [
        ParamSpec(name="optimizer.lr", kind="float", low=o.lr / 10, high=o.lr * 10, log=True),
        ParamSpec(name="optimizer.warmup_steps", kind="int", low=0, high=max(1, t.max_steps // 4)),
        ParamSpec(name="optimizer.weight_decay", kind="float", low=0.0, high=0.3),
        ParamSpec(name="training.global_batch_size", kind="categorical", choices=batches),
        ParamSpec(name="model.hidden_size", kind="categorical", choices=widths),
        ParamSpec(name="model.num_layers", kind="int", low=max(1, m.num_layers // 2), high=2 * m.num_layers),
    ]
    if m.num_experts is not None:
        params += [
            ParamSpec(name="model.moe_router_topk", kind="int", low=1, high=min(m.num_experts, 4)),
            ParamSpec(name="model.moe_aux_loss_coeff", kind="float", low=1e-3, high=1e-1, log=True),
        ]
    return SearchSpace(params=params)


def distributions(space: SearchSpace) -> dict[str, optuna.distributions.BaseDistribution]:
    """The Optuna distribution of every param (what ``trial.suggest_*`` would register)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for p in space.params:
        if p.is_ordered:
            out[p.name] = IntDistribution(0, len(p.choices or []) - 1)
        elif p.kind == "categorical":
            out[p.name] = CategoricalDistribution(list(p.choices or []))
        elif p.kind == "int":
            out[p.name] = IntDistribution(int(p.low or 0), int(p.high or 0), log=p.log, step=p.step or 1)
        else:
            out[p.name] = FloatDistribution(float(p.low or 0), float(p.high or 0), log=p.log)
    return out


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw the trial's values (enqueued trials get their fixed values back). An ordered categorical is
    drawn as the index of its sorted choices and returned as the choice."""
    values: dict[str, Any] = {}
    for p in space.params:
        if p.is_ordered:
            choices = p.ordered_choices()
            values[p.name] = choices[trial.suggest_int(p.name, 0, len(choices) - 1)]
        elif p.kind == "categorical":
            values[p.name] = trial.suggest_categorical(p.name, list(p.choices or []))
        elif p.kind == "int":
            values[p.name] = trial.suggest_int(
                p.name, int(p.low or 0), int(p.high or 0), step=p.step or 1, log=p.log
            )
        else:
            values[p.name] = trial.suggest_float(p.name, float(p.low or 0), float(p.high or 0), log=p.log)
    return values


def to_values(space: SearchSpace, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's params as the study stores them (an ordered categorical as its index) to run values."""
    out = dict(params)
    for p in space.params:
        if p.is_ordered and p.name in out:
            choices = p.ordered_choices()
            index = out[p.name]
            if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(choices):
                out[p.name] = choices[index]
    return out


def to_sampler(space: SearchSpace, values: dict[str, Any]) -> dict[str, Any]:
    """Run values to what the study stores (``study.enqueue_trial`` takes these): the inverse of
    :func:`to_values`; a value that is not one of an ordered categorical's choices raises ValueError."""
    out = dict(values)
    for p in space.params:
        if p.is_ordered and p.name in out:
            choices = p.ordered_choices()
            if out[p.name] not in choices:
                raise ValueError(f"{p.name}: {out[p.name]!r} is not one of the choices {choices}")
            out[p.name] = choices.index(out[p.name])
    return out


def space_size(space: SearchSpace) -> float:
    """How many distinct points the space has (``inf`` with a float param)."""
    size = 1.0
    for p in space.params:
        if p.kind == "categorical":
            size *= len(p.choices or [])
        elif p.kind == "int" and not p.log:
            size *= (int(p.high or 0) - int(p.low or 0)) // (p.step or 1) + 1
        else:
            return math.inf
    return size


def apply_params(base: RunConfig, params: dict[str, Any], **fields: Any) -> RunConfig:
    """``base`` with the dotted ``params`` set (and top-level ``fields`` such as ``out``), validated."""
    from trainers import RunConfig

    data = base.model_dump(mode="json")
    data.update({k: v for k, v in fields.items()})
    for dotted, value in params.items():
        set_dotted(data, dotted, value)
    if "optimizer.lr" in params and "optimizer.min_lr" not in params:  # keep the schedule's shape
        data["optimizer"]["min_lr"] = base.optimizer.min_lr * params["optimizer.lr"] / base.optimizer.lr
    if "model.hidden_size" in params and "model.num_attention_heads" not in params:
        head = base.model.hidden_size // base.model.num_attention_heads
        if params["model.hidden_size"] % base.model.num_attention_heads:
            data["model"]["num_attention_heads"] = max(1, params["model.hidden_size"] // head)
    if any(k.startswith("model.") for k in params):
        data["model"]["preset"] = None
    return RunConfig.model_validate(data)


def model_parameters(model: ModelConfig, *, vocab_size: int) -> int:
    """Total parameters (embeddings included), as the policy's ``models.max_parameters`` counts them."""
    return model.param_counts(vocab_size=vocab_size)[0]


def largest_run(space: SearchSpace, base: RunConfig) -> RunConfig:
    """The base run with the widest and deepest values of the space (the space's largest model)."""
    params: dict[str, Any] = {}
    for name in ("model.hidden_size", "model.num_layers", "model.num_experts", "model.moe_router_topk"):
        p = space.get(name)
        if p is not None:
            params[name] = max(p.choices or []) if p.kind == "categorical" else int(p.high or 0)
    return apply_params(base, params)


def max_space_parameters(space: SearchSpace, base: RunConfig, *, vocab_size: int) -> int:
    return model_parameters(largest_run(space, base).model, vocab_size=vocab_size)


def bound_by_policy(
    space: SearchSpace, base: RunConfig, *, vocab_size: int, limit: int | None
) -> tuple[SearchSpace, list[str]]:
    """Shrink depth, then width, until the space's largest model has at most ``limit`` parameters.

    Returns the bounded space and one line per change (for the report). Depth goes first because it costs
    the sampler less (width also changes the lr that transfers). Raises ``UserError`` when even the
    smallest model of the space is over the limit.
    """
    from vibe.core.errors import UserError

    if limit is None or max_space_parameters(space, base, vocab_size=vocab_size) <= limit:
        return space, []
    params = {p.name: p for p in space.params}
    notes: list[str] = []

    def fits() -> bool:
        return (
            max_space_parameters(SearchSpace(params=list(params.values())), base, vocab_size=vocab_size)
            <= limit
        )

    depth = params.get("model.num_layers")
    while depth is not None and not fits() and int(depth.high or 0) > int(depth.low or 0):
        depth = depth.model_copy(update={"high": int(depth.high or 0) - (depth.step or 1)})
        params[depth.name] = depth
    width = params.get("model.hidden_size")
    while width is not None and not fits():
        if width.kind == "categorical" and len(width.choices or []) > 1:
            width = width.model_copy(update={"choices": sorted(width.choices or [])[:-1]})
        elif width.kind != "categorical" and int(width.high or 0) > int(width.low or 0):
            width = width.model_copy(update={"high": int(width.high or 0) - (width.step or 1)})
        else:
            break
        params[width.name] = width
    if not fits():
        smallest = max_space_parameters(
            SearchSpace(params=list(params.values())), base, vocab_size=vocab_size
        )
        raise UserError(
            f"space: even the smallest model of the search ({smallest:,} parameters) exceeds the policy's "
            f"models.max_parameters ({limit:,}); lower the base model's size or the space's width/depth bounds"
        )
    for name in ("model.num_layers", "model.hidden_size"):
        old, new = space.get(name), params.get(name)
        if old is not None and new is not None and old != new:
            was = old.choices if old.kind == "categorical" else [old.low, old.high]
            now = new.choices if new.kind == "categorical" else [new.low, new.high]
            notes.append(f"{name}: {was} -> {now} (policy models.max_parameters {limit:,})")
    return SearchSpace(params=[params[p.name] for p in space.params]), notes
