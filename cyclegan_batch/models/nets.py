"""CycleGAN networks as in Zhu et al. 2017 (and the authors' reference code).

ResNet generator: c7s1-ngf, d2ngf, d4ngf, n_blocks x R4ngf, u2ngf, ungf, c7s1-3 + tanh.
Pointwise generator (a departure, the `grade` preset): 1x1 convolutions only, a colour function per pixel.
Fewer downsamplings (a departure: the `quick` preset has none, `--set n_downsampling=0|1`): the residual blocks
at full or half resolution.
A colour path (a departure, the `quick` preset: `colour_width`): a residual ResNet generator adds a pointwise MLP's
output of the input to its own, so it can learn a tone curve, which its instance norms hide from the convolutions.
PatchGAN discriminator: C64-C128-C256-C512 with a 70x70 receptive field, one logit per patch.
Instance norm has no affine parameters and no running statistics; weights start at N(0, 0.02).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cyclegan_batch.models.spec import (
    COLOUR_PATH_LAYERS,
    RESIZE_CONV,
    TRANSPOSE,
    UPSAMPLE_MODES,
    GeneratorSpec,
    Upsample,
)


class InstanceNorm2d(nn.InstanceNorm2d):
    """Instance norm without affine parameters or running statistics, fast on channels-last CPU tensors.

    On a CPU, stock instance norm reshapes to one batch-norm over N*C channels, which copies a
    channels-last tensor to NCHW and back (most of the bf16 generator's time went there: bench/RESULTS.md,
    appendix "Session 2"). Group
    norm with one group per channel computes the same statistics with native channels-last kernels (the
    inference engine runs channels-last). NCHW tensors (CPU training) keep the stock op: its per-channel
    sums do not depend on the batch size, which DDP's equivalence relies on (2 ranks x batch b = 1 process
    x 2b). CUDA keeps the stock op until measured. A subclass, so hooks and isinstance checks see an
    ordinary InstanceNorm2d.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=False, track_running_stats=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu"
            and x.dim() == 4
            and x.shape[1] == self.num_features
            and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous()  # both hold for 1x1 maps: nothing to gain there
        ):
            return channels_last_instance_norm(x, self.eps)
        return super().forward(x)


# Group norm's CPU kernel takes the variance in one pass, E[x^2] - E[x]^2, which cancels when a channel's
# mean is large against its spread (flat skies, fades, titles): its error grows with (mean/std)^2. Below
# this ratio of mean^2 to variance the one-pass result stays within 2e-4 of a float64 reference.
_ONE_PASS_MAX_MEAN_SQ_OVER_VAR = 25.0
_SHIFT_STRIDE = 4  # the shift is the mean of every 4th row and column: 1/16 of the pixels is plenty


def channels_last_instance_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """Per-channel instance norm of an N x C x H x W tensor through group norm, exact where the data is flat.

    The fast one-pass statistics are checked on their own output: where some channel's mean is large
    against its spread, the tensor is normalized again around a cheap estimate of each channel's mean,
    which removes the cancellation (normalization ignores a per-channel shift). Ordinary activations
    never pay for the second pass.
    """
    n, c, h, w = x.shape
    out, mean, rstd = torch.native_group_norm(x, None, None, n, c, h * w, c, eps)
    if float((mean * rstd).detach().square().max()) <= _ONE_PASS_MAX_MEAN_SQ_OVER_VAR:
        return out
    shift = x[:, :, ::_SHIFT_STRIDE, ::_SHIFT_STRIDE].mean((2, 3), keepdim=True)
    return F.group_norm(x - shift, c, eps=eps)


def _norm(channels: int) -> InstanceNorm2d:
    return InstanceNorm2d(channels)


class ResnetBlock(nn.Module):
    """Two reflect-padded 3x3 convs with instance norm and a skip connection."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _up(in_ch: int, out_ch: int, mode: Upsample) -> list[nn.Module]:
    if mode == TRANSPOSE:
        conv: list[nn.Module] = [nn.ConvTranspose2d(in_ch, out_ch, 3, stride=2, padding=1, output_padding=1)]
    elif mode == RESIZE_CONV:
        # Odena et al. 2016: nearest resize then conv avoids the checkerboard of strided transposed convs.
        conv = [
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_ch, out_ch, 3),
        ]
    else:
        raise ValueError(f"unknown upsample mode {mode!r}; use one of {', '.join(UPSAMPLE_MODES)}")
    return [*conv, _norm(out_ch), nn.ReLU(inplace=True)]


def _pointwise_layers(width: int, hidden: int) -> list[nn.Module]:
    """1x1 convs with ReLUs, 3 -> width, hidden x width -> width, -> 3: one function of each pixel's colour."""
    layers: list[nn.Module] = [nn.Conv2d(3, width, 1), nn.ReLU(inplace=True)]
    for _ in range(hidden):
        layers += [nn.Conv2d(width, width, 1), nn.ReLU(inplace=True)]
    return [*layers, nn.Conv2d(width, 3, 1)]


class ColourPath(nn.Sequential):
    """`_pointwise_layers` run as matrix products over each pixel's channels (the 1x1 convs' own weights, so the
    state dict is a conv stack's): 35 % less time than conv2d for a width-32 path in bf16 on a CPU, forward and
    backward (batches of 8 crops of 32 px, one thread)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.permute(0, 2, 3, 1)
        for layer in self:
            h = F.linear(h, layer.weight.flatten(1), layer.bias) if isinstance(layer, nn.Conv2d) else layer(h)
        return h.permute(0, 3, 1, 2)


class _Generator(nn.Module):
    """A generator's output: self.model(x) (ending in tanh), or with `spec.residual` clamp(x + self.model(x), -1, 1)
    (plus self.colour(x) where the spec has a colour path)."""

    spec: GeneratorSpec
    model: nn.Sequential
    # Set in __init__, never as a class attribute: nn.Module keeps submodules in _modules, which a class
    # attribute of the same name would shadow (the colour path's first trial ran without it, unseen).
    colour: ColourPath | None

    @property
    def colour_function(self) -> nn.Sequential | None:
        """The 1x1 layers that map each pixel's colour: a pointwise generator's own, or a ResNet's colour path."""
        return self.model if self.spec.pointwise else self.colour

    @property
    def output_conv(self) -> nn.Conv2d:
        """The last convolution (a property, not a second registration: the state dict names stay the paper's)."""
        return self.model[-1] if self.spec.residual else self.model[-2]  # type: ignore[return-value]

    def unclamped(self, x: torch.Tensor) -> torch.Tensor:
        """The output before the residual generator's clamp (what a 3D LUT is fitted to: models/lut.py)."""
        if not self.spec.residual:
            return self.model(x)
        y = x + self.model(x)
        return y if self.colour is None else y + self.colour(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.unclamped(x)
        return y.clamp(-1.0, 1.0) if self.spec.residual else y


class ResnetGenerator(_Generator):
    """Maps a [-1, 1] RGB image to a [-1, 1] RGB image of the same size (size divisible by 4)."""

    def __init__(self, spec: GeneratorSpec = GeneratorSpec()) -> None:
        super().__init__()
        self.spec = spec
        ngf = spec.ngf
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(3, ngf, 7),
            _norm(ngf),
            nn.ReLU(inplace=True),
        ]
        mults = [2**i for i in range(spec.n_downsampling)]  # the paper's: 1, 2
        for mult in mults:
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                _norm(ngf * mult * 2),
                nn.ReLU(inplace=True),
            ]
        layers += [ResnetBlock(ngf * 2**spec.n_downsampling) for _ in range(spec.n_blocks)]
        for mult in reversed(mults):
            layers += _up(ngf * mult * 2, ngf * mult, spec.upsample)
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7)]
        if not spec.residual:
            layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)
        self.colour = (
            ColourPath(*_pointwise_layers(spec.colour_width, COLOUR_PATH_LAYERS)) if spec.colour_width else None
        )


class PointwiseGenerator(_Generator):
    """Each pixel's colour through the same small MLP (1x1 convs: 3 -> ngf, n_blocks x ngf -> ngf, -> 3, ReLUs).

    No normalisation, so the function does not depend on the rest of the image: a video's frames get one grade."""

    def __init__(self, spec: GeneratorSpec) -> None:
        super().__init__()
        self.spec, self.colour = spec, None
        layers = _pointwise_layers(spec.ngf, spec.n_blocks)
        if not spec.residual:
            layers.append(nn.Tanh())
        self.model = nn.Sequential(*layers)


Generator = ResnetGenerator | PointwiseGenerator


def build_generator(spec: GeneratorSpec) -> Generator:
    return PointwiseGenerator(spec) if spec.pointwise else ResnetGenerator(spec)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (n_layers=3): one real/fake logit per overlapping 70x70 patch."""

    def __init__(self, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                _norm(ndf * mult),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The paper's init: conv weights N(0, gain), biases 0 (instance norm has no weights)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    for m in module.modules():  # after the draws above, so the random stream is the paper's either way
        if not isinstance(m, _Generator):
            continue
        # 1x1 convs have a fan-in of 3 or ngf, not the 3x3 and 7x7 convs' hundreds: N(0, 0.02) would shrink
        # the signal ~6x per layer, and the generator barely learn. He init keeps it.
        if (mlp := m.colour_function) is not None:
            for conv in mlp:
                if isinstance(conv, nn.Conv2d):
                    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            if m.spec.residual:
                nn.init.zeros_(mlp[-1].weight)  # a colour path starts at zero too, like the output conv below
        if m.spec.residual:
            nn.init.zeros_(m.output_conv.weight)  # step 0 returns the input: the do-nothing baseline
