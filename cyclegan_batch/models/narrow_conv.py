"""A faster CPU form of the generators' output convolution (64 -> 3 channels, 7x7), for inference.

oneDNN's CPU convolutions block output channels by 16, so a convolution to 3 channels leaves most of each
block idle: the paper generator's last layer took 14.7 ms of its 253 ms per 256x256 image in bf16 on an
AVX512-BF16 CPU, at a fifth of the rate of its other layers. `RowSplitConv2d` computes the same sums as a
1 x k convolution to k * 3 channels (one per kernel row), then adds the k row results shifted into place:
5.7 ms (bench/RESULTS.md, "CPU precision (bf16)"). Training keeps the plain layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

NARROW = 4  # output channels up to this count are split; wider layers fill oneDNN's blocks already
# Only layers this wide in: the row sums' own memory traffic outweighs the saving on narrower inputs. On an
# Intel Xeon with AMX, in bf16, the split ran the tiny, `quick` and `demo` generators (4, 16, 32 channels in)
# at 0.68x, 0.78x and 0.93x at 720p (1.04x, 0.89x, 0.96x at 256^2), the paper's (64) at 0.98x and 1.01x
# (bench/RESULTS.md, "CPU precision (bf16)"); on an AMD EPYC without AMX it gave the paper's 1.05x.
MIN_IN_CHANNELS = 64


class RowSplitConv2d(nn.Module):
    """`conv` (k x k, stride 1, no padding, no dilation or groups) as k row convolutions summed in float32.

    Each row's partial sum leaves the row convolution in the input's dtype: in bf16 that is k roundings
    where the plain layer has one (at most 1 grey level apart in the output, bench/narrow_conv.py)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        out_ch, in_ch, k, _ = conv.weight.shape
        self.out_channels, self.k = out_ch, k
        # (out, in, ky, kx) -> (ky * out + out_index, in, 1, kx): row ky's taps for every output channel
        rows = conv.weight.detach().permute(2, 0, 1, 3).reshape(k * out_ch, in_ch, 1, k)
        channels_last = conv.weight.is_contiguous(memory_format=torch.channels_last)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.weight = nn.Parameter(rows.contiguous(memory_format=memory_format), False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().float().view(1, -1, 1, 1), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # N x k*out x H x W-k+1 in x's dtype, made channel-planar: slicing 3 of k*out interleaved channels
        # (channels-last) was slower than this copy; the float32 sums then take 3 planes at a time.
        per_row = F.conv2d(x, self.weight).contiguous()
        height, c = per_row.shape[2] - self.k + 1, self.out_channels
        out = per_row[:, :c, :height].float()
        for row in range(1, self.k):
            out += per_row[:, row * c : (row + 1) * c, row : row + height]
        if self.bias is not None:
            out = out + self.bias
        return out.to(x.dtype)


def splittable(module: nn.Module, min_in_channels: int = MIN_IN_CHANNELS) -> bool:
    return (
        type(module) is nn.Conv2d
        and module.out_channels <= NARROW
        and module.in_channels >= min_in_channels
        and module.kernel_size[0] == module.kernel_size[1] > 1
        and module.stride == (1, 1)
        and module.padding == (0, 0)
        and module.dilation == (1, 1)
        and module.groups == 1
    )


def split_narrow_convs(net: nn.Module, min_in_channels: int = MIN_IN_CHANNELS) -> nn.Module:
    """`net` with every narrow k x k convolution of at least `min_in_channels` inputs replaced by its
    RowSplitConv2d, in place."""
    for name, child in net.named_children():
        if splittable(child, min_in_channels):
            setattr(net, name, RowSplitConv2d(child))
        else:
            split_narrow_convs(child, min_in_channels)
    return net
