"""The losses on a tiny real Megatron model: global token normalisation, DPO against an independent
plain-torch computation, GRPO's advantages and surrogate."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from trainers.posttrain import (
    ChatTemplate,
    PostTrainConfig,
    dpo_loss,
    group_advantages,
    grpo_loss,
    posttrain,
    read_base_run,
)

sys.path.insert(0, str(Path(__file__).parent))
from posttrain_helpers import pairs, write_jsonl


@pytest.fixture()
def tiny_model(base_run: Path) -> Iterator[tuple[torch.nn.Module, object]]:
    import torch.distributed as dist
    from megatron.core import parallel_state

    from trainers import initialize_parallel
    from trainers.posttrain import build_policy

    base = read_base_run(base_run)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        initialize_parallel(base.config, seed=1)
        yield build_policy(base, tp=1), base
    finally:
        parallel_state.destroy_model_parallel()
        dist.destroy_process_group()


def _grads(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def test_sft_loss_is_normalised_by_the_global_token_count(tiny_model: tuple) -> None:
    from trainers.posttrain import SFTExample, sft_step

    model, _ = tiny_model
    rng = torch.Generator().manual_seed(0)
    examples = []
    for n_trained in (2, 9, 30):  # very different assistant lengths
        ids = torch.randint(0, 700, (40,), generator=rng).tolist()
        examples.append(SFTExample(1, ids, [False] * (40 - n_trained) + [True] * n_trained))
    split = [[examples[0]], [examples[1], examples[2]]]
    whole = [examples]
    grads = {}
    for name, micro in (("split", split), ("whole", whole)):
        model.zero_grad(set_to_none=True)
        record = sft_step(model, micro, dp=1, device=torch.device("cpu"))
        grads[name] = _grads(model).clone()
        assert record["trained_tokens"] == 41
    assert torch.allclose(grads["split"], grads["whole"], atol=1e-6, rtol=1e-5)
    # the naive per-micro-batch mean weights the lone short sample's tokens far more: a different gradient
    from trainers.posttrain import token_logps

    model.zero_grad(set_to_none=True)
    for mb in split:
        logps, mask = token_logps(
            model, [e.ids for e in mb], [e.mask for e in mb], device=torch.device("cpu")
        )
        (-(logps * mask).sum() / mask.sum() / len(split)).backward()
    assert not torch.allclose(_grads(model), grads["whole"], atol=1e-4)


def _oracle_logp(model: torch.nn.Module, prompt: list[int], completion: list[int]) -> float:
    """Plain torch: full logits, log-softmax, gather the completion tokens' log-probs, sum."""
    ids = torch.tensor([prompt + completion])
    s = ids.shape[1]
    mask = torch.triu(torch.ones(s, s, dtype=torch.bool), diagonal=1)[None, None]
    with torch.no_grad():
        logits = model(ids, torch.arange(s)[None], mask)[0].double()  # [s, v]
    logp = torch.log_softmax(logits, dim=-1)
    return sum(logp[len(prompt) + i - 1, tok].item() for i, tok in enumerate(completion))


def test_dpo_loss_matches_an_independent_computation(base_run: Path, tmp_path: Path) -> None:
    from trainers import open_run, read_metrics
    from trainers.posttrain import read_preference_data

    data = write_jsonl(tmp_path / "pairs.jsonl", pairs(8))
    config = PostTrainConfig(
        method="dpo", base=base_run, data=data, out=tmp_path / "dpo", in_process=True,
        training={"max_steps": 4, "micro_batch_size": 2, "global_batch_size": 4, "checkpoint_interval": 0},
        optimizer={"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 0}, dpo={"beta": 0.5},
    )  # fmt: skip
    result = posttrain(config)
    records = read_metrics(result.run_dir / "metrics.jsonl")
    assert records[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # policy == reference at step 1
    assert records[-1]["loss"] < records[0]["loss"]
    base = read_base_run(base_run)
    examples = read_preference_data(
        data, template=ChatTemplate(base.template_source), encode=base.encoder(), seq_length=64
    )
    reference = torch.load(result.run_dir / "reference_logps.pt")
    with open_run(base_run) as ref_run:
        ref = [
            (
                _oracle_logp(ref_run.model, e.prompt, e.chosen),
                _oracle_logp(ref_run.model, e.prompt, e.rejected),
            )
            for e in examples
        ]
    assert torch.allclose(reference, torch.tensor(ref, dtype=torch.float64), atol=1e-3)
    with open_run(result.run_dir) as policy_run:
        pol = [
            (
                _oracle_logp(policy_run.model, e.prompt, e.chosen),
                _oracle_logp(policy_run.model, e.prompt, e.rejected),
            )
            for e in examples
        ]
        from trainers.posttrain import pair_logps

        with torch.no_grad():
            chosen, rejected = pair_logps(policy_run.model, examples, torch.device("cpu"))
    oracle = [
        math.log1p(math.exp(-0.5 * ((pc - rc) - (pr - rr))))
        for (pc, pr), (rc, rr) in zip(pol, ref, strict=True)
    ]
    ours, _, _ = dpo_loss(chosen, rejected, reference[:, 0].float(), reference[:, 1].float(), beta=0.5)
    assert ours.tolist() == pytest.approx(oracle, abs=1e-4)
    assert (result.run_dir / "report.md").is_file() and (result.run_dir / "loss.png").is_file()


def test_group_advantages_and_clipped_surrogate() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    adv = group_advantages(rewards)
    assert adv[0].tolist() == pytest.approx([1, -1, -1, 1], abs=1e-4)
    assert adv[1].abs().max() < 1e-6  # a group with one reward teaches nothing
    logps = torch.tensor([[-1.0, -2.0], [-1.0, -2.0]], requires_grad=True)
    old = logps.detach().clone()
    gen = old - torch.tensor([[0.0, math.log(4.0)], [0.0, 0.0]])  # token (0,1): trainer 4x the generator
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, terms = grpo_loss(
        logps, old, gen, torch.tensor([1.0, -1.0]), mask, total_tokens=3, clip_eps=0.2, tis_cap=2.0
    )
    # ratio 1: loss = -(A * w) summed / tokens, with the truncated weight min(4, 2) = 2 on token (0,1)
    assert loss.item() == pytest.approx(-(1 + 2 - 1) / 3)
    assert terms["tokens"] == 3 and terms["truncated"] == 1 and terms["ratio_sum"] == pytest.approx(1 + 4 + 1)
    loss.backward()
    assert logps.grad[1, 1] == 0  # masked token
    # outside the clip range with a positive advantage: no gradient
    far = (old + 0.5).requires_grad_(True)
    grpo_loss(far, old, old, torch.tensor([1.0, 1.0]), mask, total_tokens=3, clip_eps=0.2, tis_cap=2.0)[
        0
    ].backward()
    assert far.grad.abs().sum() == 0


def test_packed_loss_equals_the_sum_of_unpacked_losses(tiny_model: tuple) -> None:
    from trainers import causal_mask
    from trainers.posttrain import SFTExample, pack, packed_logps, token_logps

    model, _ = tiny_model
    model.eval()
    rng = torch.Generator().manual_seed(1)
    examples = []
    for length, trained in ((20, 5), (9, 3), (30, 12), (14, 14)):
        ids = torch.randint(0, 700, (length,), generator=rng).tolist()
        examples.append(SFTExample(1, ids, [False] * (length - trained) + [True] * trained))
    rows = pack(examples, seq_length=64)
    assert len(rows) == 2 and [len(r) for r in rows] == [3, 1]  # 19 + 8 + 29 = 56 fit; 13 more do not
    with torch.no_grad():
        alone = []
        for e in examples:
            logps, mask = token_logps(model, [e.ids], [e.mask], device=torch.device("cpu"))
            alone.append(-(logps * mask).sum().item())
        logps, mask = packed_logps(model, rows, seq_length=64, device=torch.device("cpu"))
        packed = -(logps * mask).sum().item()
        assert mask.sum().item() == 5 + 3 + 12 + 13  # a first token is never predicted
        assert abs(packed - sum(alone)) < 2e-4, (packed, sum(alone))
        # the first row's second sample, segment by segment: exactly its loss alone
        second = -(logps[0, 19:27] * mask[0, 19:27]).sum().item()
        assert abs(second - alone[1]) < 1e-4
        # without the block-diagonal mask and position reset (plain causal attention) the losses differ
        row = rows[0]
        ids = [t for e in row for t in e.ids[:-1]]
        labels = [t for e in row for t in e.ids[1:]]
        trained = torch.tensor([m for e in row for m in e.mask[1:]], dtype=torch.float32)
        s = len(ids)
        nll = model(
            torch.tensor([ids]), torch.arange(s)[None], causal_mask(s, "cpu"), labels=torch.tensor([labels])
        )
        assert abs((nll[0] * trained).sum().item() - sum(alone[:3])) > 5e-3  # (a random model: small, not 0)
