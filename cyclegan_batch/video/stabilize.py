"""Temporal stabilization of translated video: blind (any per-frame translator), no learned weights, streaming.

CycleGAN translates each frame on its own, so texture and colour jitter from frame to frame. The stabilized
frame t is a per-pixel blend of the per-frame translation and the previous *stabilized* frame carried along
the optical flow of the *input* frames (recursive, so the carried frame already holds all earlier frames):

    S_t = w * warp(S_{t-1}) + (1 - w) * T_t,     w = strength * valid * exp(-(d / SIGMA)^2)

`valid` is the forward-backward consistency mask of the flow (cyclegan_batch/video/flow.py), `d` the mismatch,
in grey levels, between the input frame and the previous input frame warped along the same flow: where the
flow is wrong, the pixel is newly uncovered, or the light changed, the carried frame is not trusted and the
per-frame translation shows. A frame where less than CUT_TRUST of the picture can be trusted follows a scene
cut (or a flash): the stabilizer resets and writes the per-frame translation unchanged, so nothing ghosts
across a cut. The state is one float frame, so memory does not grow with the video. On a CUDA device
(TorchStabilizer, chosen by video/frames.py) the same trust, warp and blend run there, along the same flow.

Chosen by measurement, graded with an independent flow (bench/RESULTS.md, appendix "Temporal stabilization",
the method choice): a split in the spirit of Bonneel et al. 2015 (per-frame detail, carried low frequencies)
removed little of the added flicker, since this flicker is mostly in the detail; the reverse split less than
the plain blend, which is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch

from cyclegan_batch.video import DEFAULT_STRENGTH
from cyclegan_batch.video.flow import DeviceWarp, Warp, sample

SIGMA = 12.0  # grey levels of input mismatch at which trust falls to 1/e
CUT_TRUST = 0.3  # mean trust below this: a scene cut, the stabilizer starts again


_CHANNEL_SUM = np.ones((1, 3), np.float32)


def trust(warp: Warp, previous_input: np.ndarray, current_input: np.ndarray) -> np.ndarray:
    """Per-pixel trust in [0, 1] (float32 H x W) of the previous frame carried along `warp`."""
    diff = cv2.absdiff(current_input, sample(previous_input, warp.maps))
    # the mean over the channels: an exact sum of three grey levels (OpenCV's transform, a tenth of NumPy's
    # axis mean's time), then the same float32 division
    mismatch = cv2.transform(diff.astype(np.float32), _CHANNEL_SUM)
    mismatch /= np.float32(3)
    mismatch *= 1.0 / SIGMA
    weight = np.exp(-(mismatch * mismatch))
    weight[~warp.valid] = 0.0
    return weight


@dataclass
class StepResult:
    frame: Any  # the stabilized frame: H x W x 3 uint8 (Stabilizer), 1 x 3 x H x W float (TorchStabilizer)
    reset: bool  # True: the per-frame translation unchanged (first frame, or after a cut)


class Stabilizer:
    """The recursive blend over one stream of frames; `step` them in order. CPU (NumPy/OpenCV) state."""

    def __init__(self, strength: float = DEFAULT_STRENGTH) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength {strength}: use a value in [0, 1)")
        self.strength = strength
        self._state: np.ndarray | None = None  # float32 H x W x 3: no rounding drift between frames

    def step(
        self, warp: Warp | None, previous_input: np.ndarray | None, current_input: np.ndarray, output: np.ndarray
    ) -> StepResult:
        """Stabilize `output` (the per-frame translation of `current_input`); `warp` maps the previous frame."""
        weight = None if warp is None or previous_input is None else trust(warp, previous_input, current_input)
        if weight is None or self._state is None or float(weight.mean()) < CUT_TRUST or self.strength == 0.0:
            self._state = output.astype(np.float32)
            return StepResult(output, reset=True)
        weight *= self.strength
        carried = sample(self._state, warp.maps)
        # S = T + w (carried - T): one fused pass, in place
        state = output.astype(np.float32)
        carried -= state
        carried *= weight[..., None]
        state += carried
        self._state = state
        return StepResult(np.clip(state + 0.5, 0, 255).astype(np.uint8), reset=False)


class TorchStabilizer:
    """The same blend with the state on a torch device (a GPU): trust, warp and blend run there.

    Frames are 1 x 3 x H x W float tensors of pixel values (video/frames.py), the flow a DeviceWarp: the
    pipeline's own DIS flow (flow.py), computed on the CPU from the grey input frames for cycle.csv's warping
    columns in any case, so the device follows the same motion as the CPU path. (A torch Lucas-Kanade flow on
    the device followed about half of what DIS follows, at 10x the model's time on an H200: bench/RESULTS.md,
    "The GPU path's flow".)"""

    def __init__(self, device: torch.device, strength: float = DEFAULT_STRENGTH) -> None:
        Stabilizer(strength)  # the same argument check
        self.device, self.strength = device, strength
        self._state: torch.Tensor | None = None  # 1 x 3 x H x W float32

    def step(
        self,
        warp: DeviceWarp | None,
        previous_input: torch.Tensor | None,
        current_input: torch.Tensor,
        output: torch.Tensor,
    ) -> StepResult:
        """As Stabilizer.step, on tensors; the stabilized frame is rounded to whole pixel values."""
        weight = None
        if warp is not None and previous_input is not None and self.strength > 0.0:
            mismatch = (current_input - warp.sample(previous_input)).abs_().mean(1, keepdim=True) / SIGMA
            weight = torch.exp(-(mismatch * mismatch)) * warp.valid
        if weight is None or self._state is None or float(weight.mean()) < CUT_TRUST:
            self._state = output
            return StepResult(output, reset=True)
        assert warp is not None
        self._state = torch.lerp(output, warp.sample(self._state), weight * self.strength)
        return StepResult((self._state + 0.5).clamp(0, 255).floor_(), reset=False)
