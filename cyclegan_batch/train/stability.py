"""Single-frame regularization (Eilertsen, Mantiuk & Unger, CVPR 2019): generators that flicker less on video.

A generator that redraws texture answers a small change of its input (a sub-pixel move, sensor noise) with a
larger change of its output: on video that is flicker. For every training image x a small random motion T
(shift, rotation, zoom, shear) and noise n are drawn, and the loss holds G(T(x) + n) close to T(G(x)):

    L_stab = stability_weight * mean over the pixels T keeps inside the image of (G(T(x) + n) - T(G(x)))^2

the paper's transform-invariance term (its "coherence" regularization: squared error, both sides trained),
for both generators, on the images the step already has: no video data. Ranges as in the authors' code
(gabrieleilertsen/hdrcnn, training_code): shift +-2 px, rotation and shear +-1 degree, zoom +-3 %, Gaussian
noise with a standard deviation drawn from [0.01, 0.05] of the full scale per image, clipped to the range.
Here each is a config key (`stability_shift`, `stability_rotate`, `stability_zoom`, `stability_noise`);
`stability_every` k applies the term on every k-th step only, which divides its cost by k.

`stability_blur` s (a departure from the paper, 0 = off) makes T soften as well: a Gaussian blur of a standard
deviation drawn from [0, s] pixels per image, after the motion, on both sides (G(T(x) + n) against T(G(x))).
Video is softer than photos (motion blur, low bitrates); a generator that draws texture into soft input, texture
that does not follow the motion, is held to blur(G(x)) there: for a grade or tone mapping that is what it
should give anyway.

The draws come from their own generator (seeded from the run's seed and rank, checkpointed), drawn before the
step's computation, so the paper's random stream is untouched, resume is exact, and the step's tensors are
fixed inputs (compile and graph capture see no RNG). With stability_weight 0 nothing here runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from cyclegan_batch.train.config import TrainConfig


@dataclass(frozen=True)
class Motion:
    """One batch's motions and noise: `theta` N x 2 x 3 (affine_grid's output-to-input maps), `noise` like x."""

    theta: torch.Tensor
    noise: torch.Tensor
    blur: torch.Tensor | None = None  # N Gaussian standard deviations in pixels (stability_blur), or none
    blur_radius: int = 0  # the blur's kernel radius: fixed by the config, so no step waits to read `blur`

    def to(self, device: torch.device) -> Motion:
        blur = None if self.blur is None else self.blur.to(device, non_blocking=True)
        theta, noise = self.theta.to(device, non_blocking=True), self.noise.to(device, non_blocking=True)
        return Motion(theta, noise, blur, self.blur_radius)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """T(x): the motion (the border reflected where it looks outside), then the blur where there is one."""
        x = move(x, self.theta)
        return x if self.blur is None else gaussian_blur(x, self.blur, self.blur_radius)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """T(x) + n, clipped to the model range [-1, 1]."""
        return (self.transform(x) + self.noise).clamp(-1.0, 1.0)


def move(x: torch.Tensor, theta: torch.Tensor, padding: str = "reflection") -> torch.Tensor:
    """x resampled (bilinear) through the affine maps `theta`."""
    x = x.float()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)


def blur_radius(sigma: float) -> int:
    """The taps each side of a Gaussian blur of standard deviation up to `sigma` (> 0) pixels: three of them.
    train/config.py refuses a `stability_blur` whose kernel would not fit the crop (reflected padding)."""
    return math.ceil(3 * sigma)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """Each image of x (N x C x H x W) blurred by its own Gaussian (sigma: N pixels; 0 leaves it as it is),
    separably, with reflected borders, over 2 * radius + 1 taps each way."""
    n, c, h, w = x.shape
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (offsets / sigma.float().clamp(min=1e-3).view(n, 1)) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)  # N*C x taps: one per channel
    x = x.float().reshape(1, n * c, h, w)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kernel.view(n * c, 1, 1, -1), groups=n * c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), kernel.view(n * c, 1, -1, 1), groups=n * c)
    return x.reshape(n, c, h, w)


def stability_loss(moved_out: torch.Tensor, out: torch.Tensor, motion: Motion) -> torch.Tensor:
    """Mean squared difference of G(T(x) + n) and T(G(x)) over the pixels whose source lies inside the image."""
    inside = move(torch.ones_like(out[:, :1], dtype=torch.float32), motion.theta, padding="zeros") > 0.999
    diff = (moved_out.float() - motion.transform(out)) ** 2
    return (diff * inside).sum() / (inside.sum() * diff.shape[1]).clamp(min=1)


def describe(cfg: TrainConfig) -> dict[str, float]:
    """The settings a model file records (models/modelfile.py's STABILITY_KEY)."""
    return {
        "weight": cfg.stability_weight,
        "shift_px": cfg.stability_shift,
        "rotate_deg": cfg.stability_rotate,
        "zoom": cfg.stability_zoom,
        "noise": cfg.stability_noise,
        "every": cfg.stability_every,
        **({"blur_px": cfg.stability_blur} if cfg.stability_blur > 0 else {}),  # files written before it had none
    }


class MotionDraws:
    """The random motions of a run, one per training image, from a generator of their own; every
    `stability_every`-th step (the others draw nothing)."""

    def __init__(self, cfg: TrainConfig, seed: int) -> None:
        self.shift, self.zoom, self.noise = cfg.stability_shift, cfg.stability_zoom, cfg.stability_noise
        self.blur = cfg.stability_blur
        self.angle = math.radians(cfg.stability_rotate)
        self.every, self.steps = cfg.stability_every, 0
        self.rng = torch.Generator().manual_seed(seed)

    def due(self) -> bool:
        """Whether this step carries the regularizer; counts the step."""
        self.steps += 1
        return (self.steps - 1) % self.every == 0

    def _uniform(self, n: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=self.rng)

    def draw(self, x: torch.Tensor) -> Motion:
        """Motions and noise for a batch shaped like x (N x C x H x W), on the CPU."""
        n, _, h, w = x.shape
        tx, ty = self._uniform(n, -self.shift, self.shift), self._uniform(n, -self.shift, self.shift)
        rot, shear_x, shear_y = (self._uniform(n, -self.angle, self.angle) for _ in range(3))
        zoom = self._uniform(n, 1 - self.zoom, 1 + self.zoom)
        sigma = self._uniform(n, 0.2 * self.noise, self.noise) * 2  # the paper's 0.01-0.05, on [-1, 1] (x2)
        noise = torch.randn(x.shape, generator=self.rng) * sigma.view(n, 1, 1, 1)
        # In pixels about the centre: input = rotation(rot) @ shear / zoom @ output + shift
        cos, sin, one = torch.cos(rot), torch.sin(rot), torch.ones(n)
        rotation = torch.stack([cos, -sin, sin, cos], -1).view(n, 2, 2)
        shear = torch.stack([one, torch.tan(shear_x), torch.tan(shear_y), one], -1).view(n, 2, 2)
        linear = rotation @ shear / zoom.view(n, 1, 1)
        # to affine_grid's coordinates ([-1, 1] across each side): scale by the half-sizes
        half = torch.tensor([w / 2, h / 2])
        linear = linear / half.view(1, 2, 1) * half.view(1, 1, 2)
        shift = torch.stack([tx, ty], -1) / half
        theta = torch.cat([linear, shift.unsqueeze(-1)], -1)
        if self.blur == 0:
            return Motion(theta, noise)
        # drawn last, and only when on: runs without it draw exactly what they drew before it existed
        return Motion(theta, noise, self._uniform(n, 0.0, self.blur), blur_radius(self.blur))

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "steps": torch.tensor([self.steps])}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])
        self.steps = int(state["steps"][0])
