"""The inference engine shared by image and video translation: uint8 frames in, uint8 frames out.

A `Translator` holds one direction of a model file (G, and F for the cycle back) on a device in a
precision, and turns a batch of same-size HxWx3 uint8 frames into translated frames and, when asked,
their reconstructions F(G(x)). Any size works: frames are reflect-padded to a multiple of 4 and the
result is cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.modelfile import Generators, load_generators
from cyclegan_batch.precision import autocast, pick_device, resolve_precision

MULTIPLE = 4  # two stride-2 downsamplings


@dataclass
class TranslatedBatch:
    outputs: np.ndarray  # N x H x W x 3 uint8
    reconstructions: np.ndarray | None  # F(G(x)), same shape, when the cycle is computed


def resolve_direction(direction: str, domains: tuple[str, str]) -> bool:
    """True for A->B. Accepts AtoB/BtoA and the model's own domain names (`photo2painting`, `painting`...)."""
    d = direction.strip()
    a, b = domains
    forward = {"atob", "a2b", f"{a}to{b}".lower(), f"{a}2{b}".lower(), b.lower()}
    backward = {"btoa", "b2a", f"{b}to{a}".lower(), f"{b}2{a}".lower(), a.lower()}
    key = d.lower().replace("-", "").replace("_", "").replace(">", "to")
    if key in forward and key not in backward:
        return True
    if key in backward and key not in forward:
        return False
    raise UserError(
        f"--direction {direction!r}: use AtoB or BtoA, or {a}2{b} / {b}2{a} (this model's domains)",
        ExitCode.USAGE,
    )


class Translator:
    def __init__(
        self,
        model: Generators,
        *,
        a_to_b: bool = True,
        device: str = "auto",
        precision: str = "auto",
        cycle: bool = True,
        channels_last: bool = True,
    ) -> None:
        self.device = pick_device(device)
        self.precision = resolve_precision(precision, self.device)  # type: ignore[arg-type]
        self.info = model.info
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        forward, backward = (model.a_to_b, model.b_to_a) if a_to_b else (model.b_to_a, model.a_to_b)
        self.forward = forward.to(self.device, memory_format=self.memory_format).eval()
        self.backward = backward.to(self.device, memory_format=self.memory_format).eval() if cycle else None

    @classmethod
    def from_file(cls, path: Path, *, direction: str = "AtoB", **kwargs) -> Translator:
        model = load_generators(path)
        return cls(model, a_to_b=resolve_direction(direction, model.info.domains), **kwargs)

    def to_device(self, frames: np.ndarray) -> torch.Tensor:
        """N x H x W x 3 uint8 -> N x 3 x H x W float in [-1, 1] on the device (pinned, async copy on CUDA)."""
        t = torch.from_numpy(np.ascontiguousarray(frames))
        if self.device.type == "cuda":
            t = t.pin_memory()
        t = t.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
        return t.contiguous(memory_format=self.memory_format)

    @staticmethod
    def to_uint8(t: torch.Tensor) -> np.ndarray:
        return t.float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()

    @torch.inference_mode()
    def run(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply `net` to any H x W: reflect-pad to a multiple of 4, crop back. Returns float in [-1, 1]."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % MULTIPLE, (-w) % MULTIPLE
        if ph or pw:
            # reflect needs the pad smaller than the side; tiny inputs fall back to replicate
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        with autocast(self.device, self.precision):
            y = net(x)
        return y[..., :h, :w].float()

    def translate(self, frames: np.ndarray) -> TranslatedBatch:
        """Translate a batch of same-size uint8 frames (N x H x W x 3)."""
        x = self.to_device(frames)
        y = self.run(self.forward, x)
        rec = self.run(self.backward, y) if self.backward is not None else None
        return TranslatedBatch(self.to_uint8(y), self.to_uint8(rec) if rec is not None else None)
