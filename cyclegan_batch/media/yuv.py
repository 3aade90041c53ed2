"""A video's own YUV planes <-> RGB, in torch on any device, as ffmpeg's swscale converts them.

Frames cross the ffmpeg pipes in the stream's own planes (yuv420p, yuv422p, yuv444p, their 10-bit forms and
the full-range yuvj forms); the conversion runs batched where the model runs, so a GPU machine's CPU only
decodes and encodes. Any other pixel format (RGB codecs, grey, palettes, 12-bit...) is converted to rgb24 by
ffmpeg, as before (`RGB24`).

YUV -> RGB, as the decoder did with `-sws_flags bicubic+accurate_rnd+full_chroma_int` (media/decode.py says
why): chroma is interpolated to every pixel with swscale's bicubic (Keys' cubic with a = -0.6, swscale's
default parameter), chroma samples centred between their luma samples, edges replicated; then the stream's
matrix and range (media/picture.py; unsaid: BT.601, limited, as swscale assumes) and rounding to 8 bits.
RGB -> YUV, as ffmpeg's automatic conversion before the encoder did: the same matrix and range, chroma of
each horizontal pair of pixels averaged, then rows halved by the same cubic stretched twice (8 taps). Both
were fitted to ffmpeg's own output and are checked against it on encoded clips (tests/test_yuv.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from cyclegan_batch.media.picture import PLANAR, Layout

if TYPE_CHECKING:
    from cyclegan_batch.media.decode import FrameReader

# Kr, Kb of each matrix ffmpeg converts (media/picture.py's CONVERTIBLE_MATRICES); None: swscale's default
KR_KB = {
    None: (0.299, 0.114),
    "bt470bg": (0.299, 0.114),
    "smpte170m": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "fcc": (0.30, 0.11),
    "smpte240m": (0.212, 0.087),
    "bt2020nc": (0.2627, 0.0593),
}


def _keys(d: float, a: float = -0.6) -> float:
    """Keys' cubic convolution kernel at distance `d` (swscale's bicubic: B = 0, C = -a = 0.6)."""
    d = abs(d)
    if d < 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a if d < 2 else 0.0


# 2x upsampling of centred chroma: output 2k sits at chroma k - 1/4 (taps k-2..k+1), 2k+1 at k + 1/4 (k-1..k+2)
_UP_EVEN = tuple(_keys(d) for d in (1.75, 0.75, 0.25, 1.25))
_UP_ODD = _UP_EVEN[::-1]
# 2x downsampling of rows: chroma row k sits at luma row 2k + 1/2, taps 2k-3..2k+4, the kernel stretched by 2
_DOWN = tuple(_keys(d / 2) / 2 for d in (3.5, 2.5, 1.5, 0.5, 0.5, 1.5, 2.5, 3.5))


def _pad_replicate(x: torch.Tensor, dim: int, before: int, after: int) -> torch.Tensor:
    n = x.shape[dim]
    index = torch.arange(-before, n + after, device=x.device).clamp_(0, n - 1)
    return x.index_select(dim, index)


def _taps(x: torch.Tensor, dim: int, weights: tuple[float, ...], start: int, step: int, count: int) -> torch.Tensor:
    """sum_i weights[i] * x[start + step * k + i] along `dim`, for k in range(count)."""
    out = None
    for i, w in enumerate(weights):
        part = x.narrow(dim, start + i, step * (count - 1) + 1)
        part = part[(slice(None),) * (dim % x.dim()) + (slice(None, None, step),)] if step > 1 else part
        out = part * w if out is None else out.add_(part, alpha=w)
    assert out is not None
    return out


def _upsample2(x: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Centred chroma along `dim` (-1 or -2) interpolated to twice its samples, cropped to `size`."""
    n = x.shape[dim]
    padded = _pad_replicate(x, dim, 2, 2)
    even = _taps(padded, dim, _UP_EVEN, 0, 1, n)
    odd = _taps(padded, dim, _UP_ODD, 1, 1, n)
    both = torch.stack([even, odd], dim=dim % x.dim() + 1).flatten(dim % x.dim(), dim % x.dim() + 1)
    return both.narrow(dim, 0, size)


def _downsample_rows(x: torch.Tensor, rows: int) -> torch.Tensor:
    """Halve the rows (dim -2) of full-resolution chroma: swscale's vertical cubic, 8 taps."""
    padded = _pad_replicate(x, -2, 3, 4 + 2 * rows - x.shape[-2])
    return _taps(padded, -2, _DOWN, 0, 2, rows)


def _coefficients(matrix: str | None) -> tuple[float, float, float]:
    kr, kb = KR_KB.get(matrix, KR_KB[None])
    return kr, 1.0 - kr - kb, kb


def to_rgb(raw: torch.Tensor, layout: Layout, matrix: str | None = None, range_tag: str | None = None) -> torch.Tensor:
    """N raw frames (N x frame_bytes uint8, any device) -> N x 3 x H x W float32 RGB, rounded to 0..255."""
    n, h, w = raw.shape[0], layout.height, layout.width
    if not layout.planar:
        return raw.view(n, h, w, 3).permute(0, 3, 1, 2).float()
    sx, sy, bits = PLANAR[layout.pix_fmt]
    samples = raw.view(torch.int16) if layout.bytes_per_sample == 2 else raw  # little-endian 10-bit
    ch, cw = layout.chroma_size
    y = samples[:, : h * w].view(n, h, w).float()
    uv = samples[:, h * w :].view(n, 2, ch, cw).float()
    if bits > 8:
        scale = 1.0 / (1 << (bits - 8))
        y, uv = y.mul_(scale), uv.mul_(scale)
    if sx == 2:
        uv = _upsample2(uv, -1, w)
    if sy == 2:
        uv = _upsample2(uv, -2, h)
    kr, kg, kb = _coefficients(matrix)
    if layout.full_range(range_tag):
        luma, chroma = 1.0, 1.0
    else:
        y.sub_(16.0)
        luma, chroma = 255.0 / 219.0, 255.0 / 224.0
    uv = uv.sub_(128.0).mul_(chroma)
    u, v = uv[:, 0], uv[:, 1]
    y = y.mul_(luma)
    r = y + v * (2 * (1 - kr))
    b = y + u * (2 * (1 - kb))
    g = y - u * (2 * (1 - kb) * kb / kg) - v * (2 * (1 - kr) * kr / kg)
    return torch.stack([r, g, b], dim=1).round_().clamp_(0, 255)


def from_rgb(
    rgb: torch.Tensor, layout: Layout, matrix: str | None = None, range_tag: str | None = None
) -> torch.Tensor:
    """N x 3 x H x W RGB (0..255, any float or uint8, any device) -> N x frame_bytes uint8 in `layout`
    (8-bit yuv420p / yuv444p, the encoder's formats, or rgb24)."""
    n, w = rgb.shape[0], layout.width
    if not layout.planar:
        return rgb.permute(0, 2, 3, 1).to(torch.uint8).reshape(n, -1)
    sx, sy, bits = PLANAR[layout.pix_fmt]
    if bits != 8:
        raise ValueError(f"{layout.pix_fmt}: the encoder is fed 8-bit planes")
    rgb = rgb.float()
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    kr, kg, kb = _coefficients(matrix)
    y = r * kr + g * kg + b * kb
    uv = torch.stack([(b - y) * (0.5 / (1 - kb)), (r - y) * (0.5 / (1 - kr))], dim=1)
    if layout.full_range(range_tag):
        uv = uv.add_(127.5)  # swscale's full-range chroma sits half a level lower (fitted: its mean bias)
    else:
        y = y.mul_(219.0 / 255.0).add_(16.0)
        uv = uv.mul_(224.0 / 255.0).add_(128.0)
    ch, cw = layout.chroma_size
    if sx == 2:
        if w % 2:
            uv = _pad_replicate(uv, -1, 0, 1)
        uv = F.avg_pool2d(uv, (1, 2))
    if sy == 2:
        uv = _downsample_rows(uv, ch)
    planes = [y.round_().clamp_(0, 255).reshape(n, -1), uv.round_().clamp_(0, 255).reshape(n, -1)]
    return torch.cat(planes, dim=1).to(torch.uint8)


def rgb_frames(reader: FrameReader) -> Iterator[np.ndarray]:
    """A FrameReader's frames one at a time as H x W x 3 uint8 RGB arrays, converted on the CPU."""
    picture = reader.picture
    for raw in reader:
        rgb = to_rgb(torch.from_numpy(raw.copy())[None], reader.layout, picture.matrix, picture.range)
        yield rgb[0].to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
