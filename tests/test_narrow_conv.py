"""The row-split output layer computes the plain convolution's sums, and replaces only narrow k x k layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cyclegan_batch.models.narrow_conv import MIN_IN_CHANNELS, RowSplitConv2d, split_narrow_convs
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator


@pytest.mark.parametrize(("in_ch", "out_ch", "k", "bias"), [(64, 3, 7, True), (8, 1, 3, False), (5, 4, 5, True)])
def test_row_split_equals_the_convolution(in_ch: int, out_ch: int, k: int, bias: bool) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(in_ch, out_ch, k, bias=bias)
    x = torch.randn(2, in_ch, 19, 23)
    with torch.no_grad():
        torch.testing.assert_close(RowSplitConv2d(conv)(x), conv(x), rtol=1e-5, atol=1e-5)
        cl = x.contiguous(memory_format=torch.channels_last)
        conv_cl = conv.to(memory_format=torch.channels_last)
        torch.testing.assert_close(RowSplitConv2d(conv_cl)(cl), conv(x), rtol=1e-5, atol=1e-5)


def test_only_the_generators_output_layer_is_split() -> None:
    torch.manual_seed(0)
    net = ResnetGenerator(GeneratorSpec(ngf=8, n_blocks=2)).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        want = net(x)
        split = split_narrow_convs(net, min_in_channels=1)
        got = split(x)
    kinds = [type(m) for m in split.modules()]
    assert kinds.count(RowSplitConv2d) == 1
    assert isinstance(split.model[-2], RowSplitConv2d)  # the 7x7 to RGB; the 3 -> ngf input layer stays plain
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_strided_or_padded_layers_stay_plain() -> None:
    net = nn.Sequential(nn.Conv2d(8, 3, 3, stride=2), nn.Conv2d(8, 3, 3, padding=1), nn.Conv2d(8, 3, 1))
    assert all(type(m) is nn.Conv2d for m in split_narrow_convs(net, min_in_channels=1))


def test_only_wide_output_layers_are_split_by_default() -> None:
    """The split pays only on wide inputs (the paper's 64 channels); smaller generators keep the plain layer."""
    narrow = ResnetGenerator(GeneratorSpec(ngf=MIN_IN_CHANNELS // 2, n_blocks=0))
    wide = ResnetGenerator(GeneratorSpec(ngf=MIN_IN_CHANNELS, n_blocks=0))
    assert not any(isinstance(m, RowSplitConv2d) for m in split_narrow_convs(narrow).modules())
    assert isinstance(split_narrow_convs(wide).model[-2], RowSplitConv2d)
