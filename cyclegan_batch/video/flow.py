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


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    """|v|^2 per pixel of an H x W x 2 flow (einsum: one pass, where (flow**2).sum(-1) makes two)."""
    return np.einsum("ijk,ijk->ij", flow, flow)


@dataclass
class Warp:
    """Where each pixel of frame t was in frame t-1, and which pixels can be trusted."""

    maps: Maps
    valid: np.ndarray  # bool H x W: inside the frame and not occluded

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

    def _flow(self, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
        """Full-size flow from `frm` to `to` (grey), computed at most `max_side` long and scaled up."""
        h, w = frm.shape
        scale = self.max_side / max(h, w)
        if scale >= 1.0:
            return self._dis.calc(frm, to, None)
        size = (max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale)))
        small = self._dis.calc(*(cv2.resize(g, size, interpolation=cv2.INTER_AREA) for g in (frm, to)), None)
        flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / size[0]
        flow[..., 1] *= h / size[1]
        return flow

    def warp(self, previous: np.ndarray, current: np.ndarray) -> Warp | None:
        h, w = current.shape[:2]
        if min(h, w) < MIN_SIDE:
            return None
        prev_gray, cur_gray = _gray(previous), _gray(current)
        backward = self._flow(cur_gray, prev_gray)  # t -> t-1: where pixel p of t was
        forward = self._flow(prev_gray, cur_gray)  # t-1 -> t
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        map_x, map_y = xs + backward[..., 0], ys + backward[..., 1]
        maps = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
        forward_there = sample(forward, maps)
        round_trip = backward + forward_there
        consistent = _squared_norm(round_trip) < 0.01 * (_squared_norm(backward) + _squared_norm(forward_there)) + 0.5
        inside = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
        return Warp(maps, consistent & inside)


def warping_errors(
    flow: FlowEstimator,
    previous: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
) -> tuple[float | None, float | None]:
    """(warp_in, warp_out) of frame t given the (input, output) pairs of frames t-1 and t."""
    warp = flow.warp(previous[0], current[0])
    return (None, None) if warp is None else errors_along(warp, previous, current)


def errors_along(
    warp: Warp, previous: tuple[np.ndarray, np.ndarray], current: tuple[np.ndarray, np.ndarray]
) -> tuple[float | None, float | None]:
    """(warp_in, warp_out) along a flow already computed (the video pipeline shares it with the stabilizer)."""
    return warp.error(previous[0], current[0]), warp.error(previous[1], current[1])
