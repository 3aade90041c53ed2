"""The networks are the paper's: reference parameter counts, patch size, receptive field, shapes."""

from __future__ import annotations

import pytest
import torch

from cyclegan_batch.models.nets import (
    GeneratorSpec,
    InstanceNorm2d,
    PatchDiscriminator,
    ResnetGenerator,
    init_weights,
)


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_reference_parameter_counts() -> None:
    assert count_parameters(ResnetGenerator(GeneratorSpec(ngf=64, n_blocks=9))) == 11_378_179
    assert count_parameters(PatchDiscriminator(ndf=64, n_layers=3)) == 2_764_737


def test_patchgan_output_and_receptive_field() -> None:
    d = PatchDiscriminator(ndf=8)
    init_weights(d)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # Receptive field: the input pixels that influence one output logit (gradient support). Instance
    # norm mixes every position through its statistics, so measure the conv stack without it.
    for i, layer in enumerate(d.model):
        if isinstance(layer, torch.nn.InstanceNorm2d):
            d.model[i] = torch.nn.Identity()
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    y = d(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero(as_tuple=True)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == (70, 70)


@pytest.mark.parametrize("upsample", ["transpose", "resize-conv"])
@pytest.mark.parametrize("size", [(32, 32), (36, 44), (64, 20)])
def test_generator_keeps_any_size_divisible_by_4(upsample: str, size: tuple[int, int]) -> None:
    g = ResnetGenerator(GeneratorSpec(ngf=8, n_blocks=1, upsample=upsample))
    y = g(torch.randn(2, 3, *size))
    assert y.shape == (2, 3, *size)
    assert y.abs().max() <= 1.0  # tanh output


@pytest.mark.parametrize("n_downsampling", [0, 1, 2])
def test_receptive_radius_bounds_what_an_output_pixel_sees(n_downsampling: int) -> None:
    """The tile overlap's radius (models/engine.py) is at least the conv stack's reach, measured as above."""
    spec = GeneratorSpec(ngf=4, n_blocks=2, n_downsampling=n_downsampling)
    g = ResnetGenerator(spec)
    init_weights(g)
    for name, module in list(g.named_modules()):
        if isinstance(module, torch.nn.InstanceNorm2d):
            g.get_submodule(name.rpartition(".")[0]).register_module(name.rpartition(".")[2], torch.nn.Identity())
    x = torch.randn(1, 3, 96, 96, requires_grad=True)
    y = g(x)
    assert y.shape == x.shape
    y[0, 0, 48, 48].backward()
    rows, cols = (x.grad[0].abs().sum(0) > 0).nonzero(as_tuple=True)
    reach = max(48 - rows.min(), rows.max() - 48, 48 - cols.min(), cols.max() - 48)
    assert reach <= spec.receptive_radius() <= reach + 6
    assert ("n_downsampling" in spec.to_dict()) == (n_downsampling != 2)  # the paper's header stays as it was


def test_init_is_normal_002_and_norm_has_no_parameters() -> None:
    g = ResnetGenerator(GeneratorSpec(ngf=16, n_blocks=2))
    init_weights(g)
    weights = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(weights.std().item() - 0.02) < 0.002
    assert abs(weights.mean().item()) < 0.002
    norms = [m for m in g.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_fast_instance_norm_equals_the_stock_one(memory_format: torch.memory_format) -> None:
    bf16 = (torch.randn(2, 16, 12, 20) * 3).to(torch.bfloat16).contiguous(memory_format=memory_format)
    ours_bf16 = InstanceNorm2d(16)(bf16).float()
    torch.testing.assert_close(ours_bf16, torch.nn.functional.instance_norm(bf16.float()), atol=0.04, rtol=0.02)
    unbatched = torch.randn(16, 8, 8)  # C x H x W: falls back to the stock op, which accepts it
    torch.testing.assert_close(InstanceNorm2d(16)(unbatched), torch.nn.InstanceNorm2d(16)(unbatched))

    x = (torch.randn(3, 16, 20, 28) * 3 + 1).contiguous(memory_format=memory_format)
    x.requires_grad_(True)
    ours = InstanceNorm2d(16)(x)
    stock = torch.nn.functional.instance_norm(x, eps=1e-5)
    torch.testing.assert_close(ours, stock, atol=1e-5, rtol=1e-5)
    weight = torch.randn_like(stock)  # a loss whose gradient does not vanish through the normalization
    (g_ours,) = torch.autograd.grad((ours * weight).sum(), x)
    (g_stock,) = torch.autograd.grad((stock * weight).sum(), x)
    torch.testing.assert_close(g_ours, g_stock, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("mean_over_std", [0.0, 1.0, 10.0, 100.0, 1000.0])
def test_channels_last_instance_norm_is_exact_on_flat_channels(mean_over_std: float) -> None:
    """Flat frames (skies, fades, titles) give channels whose mean dwarfs their spread: no cancellation."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 32, 24, 40, generator=generator) * 0.5 + torch.linspace(0, 1, 32).view(1, 32, 1, 1)
    x = (x + mean_over_std * 0.5).contiguous(memory_format=torch.channels_last)

    def float64_reference(t: torch.Tensor) -> torch.Tensor:
        t = t.double()
        return (t - t.mean((2, 3), keepdim=True)) / torch.sqrt(t.var((2, 3), unbiased=False, keepdim=True) + 1e-5)

    ours = InstanceNorm2d(32)(x)
    assert ours.is_contiguous(memory_format=torch.channels_last)
    assert (ours.double() - float64_reference(x)).abs().max() <= 1e-3
    bf16 = x.bfloat16()  # bf16 rounds the input itself; compare with the exact norm of what it holds
    assert (InstanceNorm2d(32)(bf16).double() - float64_reference(bf16)).abs().max() <= 0.04
