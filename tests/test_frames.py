"""The per-frame work in torch where the frames are (video/frames.py's TorchFrames, run here on the CPU device)
against the NumPy/OpenCV implementations the CPU path uses (metrics.py, video/flow.py)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from cyclegan_batch.demo import skimage_photo
from cyclegan_batch.metrics import cycle_metrics, cycle_metrics_batch
from cyclegan_batch.video.flow import FlowEstimator
from cyclegan_batch.video.frames import CpuFrames, TorchFrames


def pan(size: tuple[int, int], frames: int, step: int = 3) -> list[np.ndarray]:
    photo = skimage_photo("astronaut.png")
    h, w = size
    return [np.ascontiguousarray(photo[80 : 80 + h, 40 + step * t : 40 + step * t + w]) for t in range(frames)]


@pytest.mark.parametrize("size", [(72, 128), (5, 9), (2, 40)])
def test_batched_cycle_metrics_are_the_cpu_values(size: tuple[int, int]) -> None:
    """L1 and PSNR exact (integer sums), SSIM within 1e-3 (float32 box filters both), the small-window and
    no-window sizes, and identical images (PSNR inf) included."""
    x = np.stack(pan(size, 3))
    rng = np.random.default_rng(0)
    rec = np.clip(x.astype(int) + rng.integers(-20, 21, x.shape), 0, 255).astype(np.uint8)
    rec[2] = x[2]
    ours = cycle_metrics_batch(torch.from_numpy(x), torch.from_numpy(rec))
    for i, scores in enumerate(ours):
        expected = cycle_metrics(x[i], rec[i])
        assert scores["l1"] == pytest.approx(expected["l1"], rel=1e-12)
        assert scores["psnr"] == expected["psnr"] or scores["psnr"] == pytest.approx(expected["psnr"], abs=1e-9)
        if expected["ssim"] is None:
            assert scores["ssim"] is None
        else:
            assert scores["ssim"] == pytest.approx(expected["ssim"], abs=1e-3)
    assert math.isinf(ours[2]["psnr"])


def test_device_warp_gives_the_cpu_warping_errors() -> None:
    """The same DIS flows, post-processed in torch: consistency mask and warping errors as OpenCV's."""
    frames = pan((96, 160), 3)
    flicker = [np.clip(f.astype(int) + 12 * (-1) ** t, 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    cpu, device = CpuFrames(), TorchFrames(torch.device("cpu"))
    estimator = FlowEstimator()
    for t in (1, 2):
        prev, cur = device.frames(torch.from_numpy(np.stack([frames[t - 1], frames[t]])).permute(0, 3, 1, 2))
        assert np.array_equal(device.grey(cur), cpu.grey(frames[t]))  # cv2's fixed-point grey levels
        flows = estimator.flows(cpu.grey(frames[t - 1]), cpu.grey(frames[t]))
        assert flows is not None
        warp, device_warp = cpu.warp(flows), device.warp(flows)
        agree = (device_warp.valid[0, 0].numpy() > 0) == warp.valid
        assert agree.mean() > 0.99
        outs = device.frames(torch.from_numpy(np.stack([flicker[t - 1], flicker[t]])).permute(0, 3, 1, 2))
        for (a, b), (da, db) in (((frames[t - 1], frames[t]), (prev, cur)), ((flicker[t - 1], flicker[t]), outs)):
            assert device_warp.error(da, db) == pytest.approx(warp.error(a, b), rel=0.05, abs=2e-4)


def test_device_grey_is_opencvs_on_every_value() -> None:
    every = np.arange(256**3, dtype=np.uint32)  # each RGB triple once
    rgb = np.stack([every >> 16, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
    frame = TorchFrames(torch.device("cpu")).frames(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0]
    assert np.array_equal(TorchFrames(torch.device("cpu")).grey(frame), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
