"""What a generator is, without torch: the spec a model file stores and a training config sets (models/nets.py
builds the networks from it). Torch-free, so the workflow's Snakefile validates a config in every snakemake
process (each cluster job's too) without importing torch (1.3 CPU s)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Literal, get_args

Upsample = Literal["transpose", "resize-conv"]
UPSAMPLE_MODES: tuple[Upsample, ...] = get_args(Upsample)
TRANSPOSE, RESIZE_CONV = UPSAMPLE_MODES  # the paper's strided transposed convs; nearest resize + conv (a departure)


# The departures and their paper values: a header names one only where it differs.
DEPARTURES = {"residual": False, "pointwise": False, "n_downsampling": 2, "colour_width": 0}
COLOUR_PATH_LAYERS = 2  # hidden 1x1 layers of the colour path, as the `grade` preset's pointwise generator
MAX_DOWNSAMPLING = 2  # the engine pads images to a multiple of 4 (models/engine.py)


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator; stored in every model file."""

    ngf: int = 64  # the paper's sizes: ngf 64, 9 residual blocks (11,378,179 parameters)
    n_blocks: int = 9
    upsample: Upsample = TRANSPOSE
    # A departure (the `grade` preset): output = clamp(input + last conv, -1, 1) instead of tanh(last conv),
    # with that conv initialised to zero, so an untrained generator returns its input exactly.
    residual: bool = False
    # A departure (the `grade` preset): 1x1 convolutions only (PointwiseGenerator), so each output pixel is a
    # function of its own input colour: what colour grades and tone curves are. Crops at any scale then teach
    # it the same function for any image size; there is no spatial pattern to get wrong at full resolution.
    pointwise: bool = False
    # A departure (the `quick` preset: 0) when not 2: stride-2 convs down (and as many up) around the residual
    # blocks. 0 keeps every layer at full resolution, where one-pixel detail (edges, outlines, strokes) is drawn.
    n_downsampling: int = 2
    # A departure (the `quick` preset) when not 0: a residual ResNet generator's output is clamp(x + model(x) +
    # colour(x)), colour a pointwise MLP of this width (3 -> w, 2 x w -> w, -> 3) whose last conv starts at zero.
    # The first instance norm removes each image's colour level from the convolutions' view, so on their own
    # they add detail but barely learn a grade; the colour path sees the absolute colour.
    colour_width: int = 0

    def to_dict(self) -> dict:
        """The header entry; the departures only when set, so the paper's generators keep the header they had.
        (`upsample` stays even for a pointwise generator, which has none, so the spec round-trips exactly.)"""
        return {k: v for k, v in asdict(self).items() if k not in DEPARTURES or v != DEPARTURES[k]}

    def problems(self) -> list[str]:
        """What is out of range or of the wrong type (empty when the spec builds a generator)."""
        problems = []
        if type(self.ngf) is not int or self.ngf < 1:
            problems.append(f"ngf >= 1 (an integer), not {self.ngf!r}")
        if type(self.n_blocks) is not int or self.n_blocks < 0:
            problems.append(f"n_blocks >= 0 (an integer), not {self.n_blocks!r}")
        if self.upsample not in UPSAMPLE_MODES:
            problems.append(f"upsample one of {', '.join(UPSAMPLE_MODES)}, not {self.upsample!r}")
        for key in ("residual", "pointwise"):
            if type(getattr(self, key)) is not bool:
                problems.append(f"{key} true or false, not {getattr(self, key)!r}")
        if type(self.n_downsampling) is not int or not 0 <= self.n_downsampling <= MAX_DOWNSAMPLING:
            problems.append(f"n_downsampling 0 to {MAX_DOWNSAMPLING} (an integer), not {self.n_downsampling!r}")
        if type(self.colour_width) is not int or self.colour_width < 0:
            problems.append(f"colour_width >= 0 (an integer), not {self.colour_width!r}")
        elif self.colour_width and (self.pointwise or not self.residual):
            problems.append("colour_width needs a residual, spatial generator (residual true, pointwise false)")
        return problems

    def receptive_radius(self) -> int:
        """How far (in pixels) an output pixel sees: tiles overlap by twice this."""
        if self.pointwise:
            return 0
        scale = 2**self.n_downsampling  # the blocks' stride in input pixels
        down, up = scale - 1, 2 * scale - 2  # 3x3 convs at strides 1, 2, ..., scale / 2 (and back up)
        return 3 + down + 2 * self.n_blocks * scale + up + 3  # conv7, the way down, 2 convs per block, up, conv7


# The spec's settings by name: what a model header's `generator` entry and a training config hold.
SPEC_KEYS = tuple(f.name for f in fields(GeneratorSpec))
