"""The capture-ready training step (train/capture.py), run eagerly on the CPU with the same code a GPU captures:
against the plain step, its device-side pool against the paper's rule, and a bit-exact resume."""

from __future__ import annotations

import copy

import pytest
import torch

from cyclegan_batch.train.capture import DevicePool
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.step import CycleGANStep

CPU = torch.device("cpu")


def batches(count: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.rand(1, 3, 32, 32, generator=g) * 2 - 1, torch.rand(1, 3, 32, 32, generator=g) * 2 - 1)
        for _ in range(count)
    ]


def step(capture: bool, precision: str = "fp32", **overrides) -> CycleGANStep:
    cfg = build_config("tiny", overrides)
    return CycleGANStep(cfg, CPU, precision, torch.contiguous_format, capture=capture)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_capture_ready_step_equals_the_plain_step_over_20_steps(precision: str) -> None:
    """While the pools fill (the paper's 50 images: all 20 steps) both pools pass the fakes through, so the two
    steps do the same arithmetic (the device-side pool, Adam's state and lr on the device): the same losses and
    weights, bit for bit, in fp32 and in bf16."""
    plain, ready = step(False, precision, pool_size=50), step(True, precision, pool_size=50)
    for real_a, real_b in batches(20):
        ours, theirs = ready.train_step(real_a, real_b), plain.train_step(real_a, real_b)
        assert all(torch.equal(ours[name], value) for name, value in theirs.items())
    for name, net in ready.nets.named().items():
        other = plain.nets.named()[name].state_dict()
        assert all(torch.equal(value, other[key]) for key, value in net.state_dict().items()), name


def test_device_pool_follows_the_paper_rule() -> None:
    """Filling, it passes images through; full, each image is swapped for a stored one exactly when its draw
    says so (u > 0.5), into the drawn slot: a reference pool fed the same draws gives the same outputs."""
    pool = DevicePool(size=3, seed=0, device=CPU)
    reference: list[torch.Tensor] = []
    swaps = 0
    for i in range(40):
        image = torch.full((1, 1, 2, 2), float(i))
        pool.draw(1)
        u, k = float(pool._uniform[0]), int(pool._index[0])
        if len(reference) < 3:
            expected = image
            reference.append(image[0])
        elif u > 0.5:
            expected, reference[k] = reference[k][None].clone(), image[0]
            swaps += 1
        else:
            expected = image
        assert torch.equal(pool.query(image), expected)
    assert 10 < swaps < 30


def test_resume_is_bit_exact_with_the_pools_random_state() -> None:
    """A small pool (swapping from step 3 on), six steps, a checkpoint, six more; a new step loaded from the
    checkpoint makes the same six: same weights, same pool contents and draws."""
    data = batches(12, seed=1)
    first = step(True, pool_size=2)
    for real_a, real_b in data[:6]:
        first.train_step(real_a, real_b)
    state = copy.deepcopy(first.state_dict())
    pools = [{"a": first.pool_a.state_dict(), "b": first.pool_b.state_dict()}]
    for real_a, real_b in data[6:]:
        first.train_step(real_a, real_b)
    second = step(True, pool_size=2)
    second.load_state_dict(state)
    second.load_pools(pools)
    for real_a, real_b in data[6:]:
        second.train_step(real_a, real_b)
    for name, net in first.nets.named().items():
        other = second.nets.named()[name].state_dict()
        assert all(torch.equal(value, other[key]) for key, value in net.state_dict().items()), name
    assert torch.equal(first.pool_a.images, second.pool_a.images)
    assert torch.equal(first.pool_b.rng.get_state(), second.pool_b.rng.get_state())


def test_learning_rate_is_set_in_place_for_the_graph() -> None:
    ready = step(True)
    lr = ready.opt_g.param_groups[0]["lr"]
    ready.set_lr(1e-5)
    assert ready.opt_g.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(1e-5)
