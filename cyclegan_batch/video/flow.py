"""Flicker as a number: the warping error between consecutive frames, for the input and for the output.

Optical flow is computed once, on the INPUT frames (OpenCV DIS), and used for both: frame t-1 is warped
to frame t along the flow, and the error is the mean absolute difference on the [0, 1] scale over the
pixels that are visible in both frames. Occluded pixels are found by forward-backward consistency
(Sundaram et al. 2010, as used by Ruder et al. for video style transfer): the backward flow at p and the
forward flow where it lands must cancel. Since both errors use the same motion and the same mask, a
translation that adds flicker shows as warp_out > warp_in. The video pipeline computes this flow once per
frame and shares it with the stabilizer (cyclegan_batch/video/stabilize.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MIN_SIDE = 16  # DIS needs at least a few 8x8 patches; smaller frames get no temporal term
# Larger frames get their flow at this longer side and scaled up: DIS's cost grows with the pixels
# (measured: bench/RESULTS.md, appendix "Temporal stabilization"), while the motion that matters for
# flicker is smooth at that scale.
FLOW_MAX_SIDE = 640


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


# cv2.remap's fixed-point maps (1/32 pixel): faster than float maps; interpolated values may differ from
# float maps' by a few grey levels, the mean error by ~1e-4 relative.
Maps = tuple[np.ndarray, np.ndarray]


def sample(image: np.ndarray, maps: Maps) -> np.ndarray:
    return cv2.remap(image, *maps, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Flows:
    """DIS flow between two frames, both ways, at the resolution it was computed at (at most FLOW_MAX_SIDE)."""

    backward: np.ndarray  # h x w x 2, t -> t-1: where pixel p of frame t was
    forward: np.ndarray  # t-1 -> t
    size: tuple[int, int]  # (H, W) of the frames: the flows are scaled up to it where they are used

    def full_size(self, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`flow`'s x and y at the frames' size (bilinear, vectors scaled by the same factors), as two planes:
        OpenCV's per-element ops run several times faster on single-channel planes than on H x W x 2."""
        (h, w), (fh, fw) = self.size, flow.shape[:2]
        planes = cv2.split(flow)
        if (fh, fw) == (h, w):
            return planes[0], planes[1]
        x, y = (cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in planes)
        return cv2.multiply(x, w / fw), cv2.multiply(y, h / fh)


_grids: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of every pixel (float32 H x W each), made once per size (read-only, shared by threads)."""
    if (h, w) not in _grids:
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        xs.flags.writeable = ys.flags.writeable = False
        _grids[(h, w)] = xs, ys
    return _grids[(h, w)]


def _squared_norm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return cv2.add(cv2.multiply(x, x), cv2.multiply(y, y))


@dataclass
class Warp:
    """Where each pixel of frame t was in frame t-1, and which pixels can be trusted."""

    maps: Maps
    valid: np.ndarray  # bool H x W: inside the frame and not occluded

    @classmethod
    def from_flows(cls, flows: Flows) -> Warp:
        """The sampling maps of the backward flow, and its forward-backward consistent pixels (Sundaram et al.)."""
        h, w = flows.size
        (bx, by), (fx, fy) = flows.full_size(flows.backward), flows.full_size(flows.forward)
        xs, ys = _pixel_grid(h, w)
        map_x, map_y = cv2.add(xs, bx), cv2.add(ys, by)
        maps = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
        fx, fy = sample(fx, maps), sample(fy, maps)  # the forward flow where each pixel came from
        bound = cv2.add(_squared_norm(bx, by), _squared_norm(fx, fy))
        round_trip = _squared_norm(cv2.add(bx, fx), cv2.add(by, fy))
        consistent = cv2.compare(round_trip, cv2.add(cv2.multiply(bound, 0.01), 0.5), cv2.CMP_LT)
        inside = cv2.bitwise_and(cv2.inRange(map_x, 0, w - 1), cv2.inRange(map_y, 0, h - 1))
        return cls(maps, cv2.bitwise_and(consistent, inside).view(bool))

    def error(self, previous: np.ndarray, current: np.ndarray) -> float | None:
        """Mean |current - warp(previous)| on the [0, 1] scale over valid pixels (None if there are none)."""
        if not self.valid.any():
            return None
        # uint8 absdiff and a masked mean: the same value as in float (the remap of uint8 is uint8), cheaper.
        diff = cv2.absdiff(current, sample(previous, self.maps))
        channels = 1 if diff.ndim == 2 else diff.shape[2]
        channel_means = cv2.mean(diff, mask=self.valid.view(np.uint8))[:channels]
        return float(np.mean(channel_means) / 255.0)


class FlowEstimator:
    """DIS optical flow between consecutive input frames, with the forward-backward occlusion mask.

    One estimator per thread: an OpenCV DIS object must not be used by two threads at once.
    """

    def __init__(self, max_side: int = FLOW_MAX_SIDE) -> None:
        # MEDIUM, not FAST: the stabilizer trusts what this flow follows, and MEDIUM follows parallax over
        # a blurred background far better, at a few times the cost (measured: bench/RESULTS.md, appendix
        # "Temporal stabilization")
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.max_side = max_side

    def flows(self, previous_gray: np.ndarray, current_gray: np.ndarray) -> Flows | None:
        """Both flows between two grey frames, computed at most `max_side` long; None for frames too small."""
        h, w = current_gray.shape
        if min(h, w) < MIN_SIDE:
            return None
        scale = self.max_side / max(h, w)
        if scale < 1.0:
            size = (max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale)))
            previous_gray, current_gray = (
                cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (previous_gray, current_gray)
            )
        backward = self._dis.calc(current_gray, previous_gray, None)  # t -> t-1: where pixel p of t was
        forward = self._dis.calc(previous_gray, current_gray, None)  # t-1 -> t
        return Flows(backward, forward, (h, w))

    def warp(self, previous: np.ndarray, current: np.ndarray) -> Warp | None:
        flows = self.flows(_gray(previous), _gray(current))
        return None if flows is None else Warp.from_flows(flows)


def errors_along(
    warp: Warp, previous: tuple[np.ndarray, np.ndarray], current: tuple[np.ndarray, np.ndarray]
) -> tuple[float | None, float | None]:
    """(warp_in, warp_out) along a flow already computed (the video pipeline shares it with the stabilizer)."""
    return warp.error(previous[0], current[0]), warp.error(previous[1], current[1])


@dataclass
class DeviceWarp:
    """A Warp on a torch device (a GPU, where the frames are): the same flows, consistency test and masked error,
    sampled bilinearly with `grid_sample` at the flow's exact positions (the CPU path rounds them to 1/32 pixel)."""

    grid: torch.Tensor  # 1 x H x W x 2 sampling positions in [-1, 1] (align_corners=True)
    valid: torch.Tensor  # 1 x 1 x H x W float, 1 where inside and consistent

    @classmethod
    def from_flows(cls, flows: Flows, device: torch.device) -> DeviceWarp:
        h, w = flows.size
        small = torch.from_numpy(np.stack([flows.backward, flows.forward])).to(device).permute(0, 3, 1, 2)
        fh, fw = small.shape[-2:]
        if (fh, fw) != (h, w):  # cv2.resize's INTER_LINEAR: half-pixel centres, as align_corners=False
            small = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
            small = small * torch.tensor([w / fw, h / fh], device=device)[None, :, None, None]
        backward, forward = small[:1], small[1:]
        ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
        pos = torch.stack([xs, ys]).float()[None] + backward  # 1 x 2 x H x W, in pixels
        scale = torch.tensor([2 / max(1, w - 1), 2 / max(1, h - 1)], device=device)[None, :, None, None]
        grid = (pos * scale - 1).permute(0, 2, 3, 1).contiguous()
        there = F.grid_sample(forward, grid, mode="bilinear", padding_mode="border", align_corners=True)
        bound = backward.square().sum(1, keepdim=True) + there.square().sum(1, keepdim=True)
        consistent = (backward + there).square().sum(1, keepdim=True) < bound * 0.01 + 0.5
        inside = (pos[:, :1] >= 0) & (pos[:, :1] <= w - 1) & (pos[:, 1:] >= 0) & (pos[:, 1:] <= h - 1)
        return cls(grid, (consistent & inside).float())

    def sample(self, image: torch.Tensor) -> torch.Tensor:
        """A 1 x C x H x W float image of frame t-1 carried to frame t (bilinear, border replicated)."""
        return F.grid_sample(image, self.grid, mode="bilinear", padding_mode="border", align_corners=True)

    def error(self, previous: torch.Tensor, current: torch.Tensor) -> float | None:
        """Warp.error of two 1 x C x H x W float frames (0..255)."""
        count = float(self.valid.sum())
        if count == 0:
            return None
        diff = (current - self.sample(previous).round_()).abs_().mean(1, keepdim=True)  # uint8, as cv2.remap's
        return float((diff * self.valid).sum()) / count / 255.0
