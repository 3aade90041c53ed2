"""Dense optical flow in torch, for stabilizing where the model runs (a CUDA device): no round trip to the CPU.

Coarse-to-fine Lucas-Kanade (Bouguet's pyramid, dense): at each level, from the coarsest, the moving frame is
warped along the current flow and a 2x2 least-squares step over a window of every pixel refines it. The same
forward-backward test as cyclegan_batch/video/flow.py marks the pixels to trust. Plain tensor ops, so the
same code runs (and is tested) on the CPU device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cyclegan_batch.video.flow import FLOW_MAX_SIDE, MIN_SIDE

LEVELS = 4  # coarsest level 1/8: follows ~20 px per frame at 640 px
ITERATIONS = 3  # LK steps per level
WINDOW = 9  # pixels, the side of the least-squares window
RIDGE = 1e-4  # keeps the 2x2 systems solvable where the image is flat: the flow stays near its prior there


def grey(rgb: torch.Tensor) -> torch.Tensor:
    """1 x 3 x H x W in [0, 255] -> 1 x 1 x H x W in [0, 1] (BT.601 luma, as OpenCV's grey)."""
    weights = torch.tensor([0.299, 0.587, 0.114], device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(1, keepdim=True) / 255.0


def base_grid(h: int, w: int, device: torch.device) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=torch.float32),
        torch.arange(w, device=device, dtype=torch.float32),
        indexing="ij",
    )
    return torch.stack([xs, ys])[None]  # 1 x 2 x H x W, pixel positions


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """`image` sampled at p + flow(p) (bilinear, border replicated): the frame `flow` points into, seen from p."""
    h, w = image.shape[-2:]
    pos = base_grid(h, w, image.device) + flow
    grid = torch.stack([pos[:, 0] * (2 / max(1, w - 1)) - 1, pos[:, 1] * (2 / max(1, h - 1)) - 1], dim=-1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _box(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, WINDOW, stride=1, padding=WINDOW // 2, count_include_pad=False)


def _lk_level(fixed: torch.Tensor, moving: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    for _ in range(ITERATIONS):
        warped = warp(moving, flow)
        padded = F.pad(warped, (1, 1, 1, 1), mode="replicate")
        gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2  # central differences
        gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
        gt = warped - fixed
        a, b, c = _box(gx * gx) + RIDGE, _box(gx * gy), _box(gy * gy) + RIDGE
        p, q = _box(gx * gt), _box(gy * gt)
        det = a * c - b * b
        du, dv = (b * q - c * p) / det, (b * p - a * q) / det  # solves [a b; b c] [du dv] = -[p q]
        flow = flow + torch.cat([du, dv], 1).clamp(-2.0, 2.0)
    return flow


def lk_flow(fixed: torch.Tensor, moving: torch.Tensor) -> torch.Tensor:
    """1 x 2 x H x W flow v with moving(p + v(p)) ~ fixed(p); inputs 1 x 1 x H x W grey."""
    pyramid = [(fixed, moving)]
    for _ in range(LEVELS - 1):
        f, m = pyramid[-1]
        if min(f.shape[-2:]) < 2 * WINDOW:
            break
        pyramid.append((F.avg_pool2d(f, 2), F.avg_pool2d(m, 2)))
    flow = torch.zeros(1, 2, *pyramid[-1][0].shape[-2:], device=fixed.device)
    for f, m in reversed(pyramid):
        if flow.shape[-2:] != f.shape[-2:]:
            scale = torch.tensor([f.shape[-1] / flow.shape[-1], f.shape[-2] / flow.shape[-2]], device=f.device)
            flow = F.interpolate(flow, size=f.shape[-2:], mode="bilinear", align_corners=False) * scale.view(1, 2, 1, 1)
        flow = _lk_level(f, m, flow)
    return flow


def _flow(fixed: torch.Tensor, moving: torch.Tensor, max_side: int) -> torch.Tensor:
    """Full-size `lk_flow`, computed at most `max_side` long and scaled up (as flow.py does with DIS)."""
    h, w = fixed.shape[-2:]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return lk_flow(fixed, moving)
    size = (max(MIN_SIDE, round(h * scale)), max(MIN_SIDE, round(w * scale)))
    small = lk_flow(*(F.interpolate(g, size=size, mode="area") for g in (fixed, moving)))
    factor = torch.tensor([w / size[1], h / size[0]], device=fixed.device).view(1, 2, 1, 1)
    return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False) * factor


def backward_warp(
    previous: torch.Tensor, current: torch.Tensor, max_side: int = FLOW_MAX_SIDE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(flow, valid) for grey frames t-1 and t: previous(p + flow(p)) ~ current(p); valid where the
    forward-backward round trip closes and p + flow stays inside the frame (cyclegan_batch/video/flow.py)."""
    backward, forward = _flow(current, previous, max_side), _flow(previous, current, max_side)
    there = warp(forward, backward)
    loop = ((backward + there) ** 2).sum(1)
    consistent = loop < 0.01 * ((backward**2).sum(1) + (there**2).sum(1)) + 0.5
    h, w = current.shape[-2:]
    pos = base_grid(h, w, current.device) + backward
    inside = (pos[:, 0] >= 0) & (pos[:, 0] <= w - 1) & (pos[:, 1] >= 0) & (pos[:, 1] <= h - 1)
    return backward, (consistent & inside)[:, None]
