"""model_sources: base models come in from allowed roots and architectures; model.export stays denied."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from policies import Action, PolicyError, PolicySet, load_policies

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def test_bank_imports_only_vetted_llama_family_models_from_its_model_store() -> None:
    bank = load_policies([EXAMPLES / "regulated-bank.yaml"])
    inside = Action(
        kind="model.import", paths=("/srv/models/smollm2",), source_architecture="LlamaForCausalLM"
    )
    assert bank.evaluate(inside).effect == "allow"
    assert bank.evaluate(inside).rules == ("regulated-bank:model_sources",)

    outside = inside.model_copy(update={"paths": ("/home/eve/downloads/model",)})
    decision = bank.evaluate(outside)
    assert decision.effect == "deny" and decision.rules == ("regulated-bank:model_sources.roots",)
    assert "/home/eve/downloads/model is outside the model roots" in decision.reason

    moe = inside.model_copy(update={"source_architecture": "MixtralForCausalLM"})
    decision = bank.evaluate(moe)
    assert decision.rules == ("regulated-bank:model_sources.architectures",)
    assert "MixtralForCausalLM is not allowed" in decision.reason


def test_converting_inside_the_network_is_not_exporting() -> None:
    bank = load_policies([EXAMPLES / "regulated-bank.yaml"])
    convert = Action(kind="model.convert", paths=("/srv/runs/fraud-7", "/srv/runs/fraud-7-hf"))
    assert bank.evaluate(convert).effect == "allow"
    assert bank.evaluate(Action(kind="model.export", paths=("/srv/runs/fraud-7",))).effect == "deny"


def test_no_section_means_the_default(load: Callable[..., PolicySet]) -> None:
    policies = load("version: 1\nname: t\ndefault: deny\n")
    assert policies.evaluate(Action(kind="model.import", paths=("/x",))).effect == "deny"


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("model_sources:\n  roots: [models]\n", "model_sources.roots.0", "must be an absolute directory"),
        (
            "model_sources:\n  architectures: [llama]\n",
            "model_sources.architectures.0",
            "should match pattern",
        ),
        (
            "model_sources:\n  rootz: [/srv/models]\n",
            "model_sources.rootz",
            "allowed fields here: architectures, roots",
        ),
    ],
)
def test_malformed_model_sources(
    write: Callable[[str, str], Path], text: str, field: str, message: str
) -> None:
    path = write("p.yaml", "version: 1\nname: t\n" + text)
    with pytest.raises(PolicyError) as caught:
        load_policies([path])
    assert field in str(caught.value) and message in str(caught.value) and "p.yaml:4:" in str(caught.value)
