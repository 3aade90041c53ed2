"""Where the frames are: the video sink's per-frame work, on the CPU (NumPy/OpenCV) or on a torch device (a GPU).

The model hands over each batch as tensors on its device. On a GPU everything after the model stays there:
the cycle metrics (batched), the stabilizer's trust, warp and blend, the warping errors, fidelity and the
conversion to the encoder's YUV planes; only the grey input frames come down for the DIS flow (CPU threads,
at the resolution it is computed at: video/flow.py) and its two small flows go up again, and only the encoded
planes come down for ffmpeg. On a CPU the same work runs in OpenCV/NumPy, several times faster there than
torch's CPU kernels for these filters (bench/RESULTS.md, "Issue 30: the work around the model"); both give the
same cycle.csv values (tests/test_frames.py).

A frame is an H x W x 3 uint8 array (CpuFrames) or a 1 x 3 x H x W float tensor of integer values 0..255
(TorchFrames). With the model on a CPU, ffmpeg's own conversions to and from RGB24 are cheaper in CPU time
than media/yuv.py's in torch's CPU kernels, so there the pipes carry RGB24 (video/pipeline.py).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch

from cyclegan_batch.media.picture import Picture
from cyclegan_batch.media.yuv import Layout, from_rgb
from cyclegan_batch.metrics import cycle_metrics, cycle_metrics_batch, psnr, psnr_batch
from cyclegan_batch.video.flow import DeviceWarp, Flows, Warp
from cyclegan_batch.video.stabilize import Stabilizer, TorchStabilizer

Frame = Any  # np.ndarray (CpuFrames) or torch.Tensor (TorchFrames)
# cv2.cvtColor's RGB -> grey in fixed point (15 bits, found against it on every input in tests/test_frames.py):
# the same grey levels on any device
_GREY = (9798, 19235, 3735)


class CpuFrames:
    """The per-frame work in OpenCV/NumPy on HxWx3 uint8 arrays (the model's device is the CPU)."""

    def frames(self, pixels: torch.Tensor) -> list[np.ndarray]:
        """A batch (N x 3 x H x W, values 0..255) as frames."""
        return list(pixels.to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy())

    def decoded(self, rgb: np.ndarray) -> list[np.ndarray]:
        """A batch of RGB24 frames as ffmpeg decoded them (N x H x W x 3 uint8): already frames."""
        return list(rgb)

    def cycle(self, inputs: list[np.ndarray], reconstructions: list[np.ndarray]) -> list[dict[str, float | None]]:
        return [cycle_metrics(x, r) for x, r in zip(inputs, reconstructions, strict=True)]

    def grey(self, frame: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)

    def warp(self, flows: Flows) -> Warp:
        return Warp.from_flows(flows)

    def stabilizer(self, strength: float) -> Stabilizer:
        return Stabilizer(strength)

    def psnr(self, a: np.ndarray, b: np.ndarray) -> float:
        return psnr(a, b)

    def image(self, frame: np.ndarray) -> np.ndarray:
        return frame

    def planes(self, frame: np.ndarray, layout: Layout, picture: Picture) -> np.ndarray:
        """The frame as the encoder takes it (media/yuv.py's conversion, in torch on the CPU)."""
        rgb = torch.from_numpy(frame).permute(2, 0, 1)[None]
        return from_rgb(rgb, layout, picture.matrix, picture.range)[0].numpy()


class TorchFrames:
    """The same work in torch on `device` (a GPU), on 1 x 3 x H x W float frames."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def frames(self, pixels: torch.Tensor) -> list[torch.Tensor]:
        return list(pixels.float().split(1))

    def decoded(self, rgb: np.ndarray) -> list[torch.Tensor]:
        return self.frames(torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2))

    def cycle(self, inputs: list[torch.Tensor], reconstructions: list[torch.Tensor]) -> list[dict[str, float | None]]:
        def hwc(frames: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat(frames).to(torch.uint8).permute(0, 2, 3, 1)

        return cycle_metrics_batch(hwc(inputs), hwc(reconstructions))

    def grey(self, frame: torch.Tensor) -> np.ndarray:
        r, g, b = frame[0].int()
        grey = (r * _GREY[0] + g * _GREY[1] + b * _GREY[2] + (1 << 14)) >> 15
        return grey.to(torch.uint8).cpu().numpy()

    def warp(self, flows: Flows) -> DeviceWarp:
        return DeviceWarp.from_flows(flows, self.device)

    def stabilizer(self, strength: float) -> TorchStabilizer:
        return TorchStabilizer(self.device, strength)

    def psnr(self, a: torch.Tensor, b: torch.Tensor) -> float:
        return psnr_batch(a, b)[0]

    def image(self, frame: torch.Tensor) -> np.ndarray:
        return frame[0].to(torch.uint8).permute(1, 2, 0).cpu().numpy()

    def planes(self, frame: torch.Tensor, layout: Layout, picture: Picture) -> np.ndarray:
        return from_rgb(frame, layout, picture.matrix, picture.range)[0].cpu().numpy()


def frames_on_device(device: torch.device, on_device: bool | None = None) -> bool:
    """Whether the frames stay on the model's device (`on_device`, or by default where that is a GPU)."""
    return device.type == "cuda" if on_device is None else on_device


def frame_ops(device: torch.device, on_device: bool | None = None) -> CpuFrames | TorchFrames:
    """Where the frames are: on the model's device (a GPU, or `on_device`), else on the CPU in OpenCV."""
    return TorchFrames(device) if frames_on_device(device, on_device) else CpuFrames()
