"""The inference engine shared by image and video translation: uint8 frames in, uint8 frames out.

A `Translator` holds one direction of a model file (G, and F for the cycle back) on a device in a
precision, and turns a batch of same-size HxWx3 uint8 frames into translated frames and, when asked,
their reconstructions F(G(x)). Any size works: frames are reflect-padded to a multiple of 4 and the
result is cropped back.

Frames too large for device memory are translated in overlapping tiles (`tile="auto"` decides from an
estimate of the generator's peak memory). Tiles start on the stride-4 grid of the whole frame, and each
tile's weight ramps linearly to zero across the overlap, so neighbours blend without a visible seam.
Instance norm would see each tile's own statistics and shift each tile's colours differently, so the
tiles are normalized with statistics captured first from the whole frame: at full size when that pass
fits (then tiled and untiled differ only near tile borders), else from the largest downscaled view that does.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cyclegan_batch.device.precision import DTYPES, choose_precision, pick_device
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.models.modelfile import Generators, load_generators
from cyclegan_batch.models.narrow_conv import split_narrow_convs
from cyclegan_batch.models.pixels import to_model_input, to_model_range, to_uint8_image
from cyclegan_batch.util.threads import model_calls

log = logging.getLogger("cyclegan_batch")

MULTIPLE = 4  # two stride-2 downsamplings
MIN_NET_SIDE = 8  # the residual blocks reflect-pad by 1 at 1/4 scale, which needs 2 pixels there
# Peak memory of one generator pass in fp32, per pixel and ngf channel: a few full-resolution feature
# maps alive at once (measured: bench/RESULTS.md, appendix "Generator memory"); this constant leaves a
# margin. Plus the 3-channel float input, output, reconstruction and blend buffers.
BYTES_PER_PIXEL_PER_NGF = 16
IO_BYTES_PER_PIXEL = 64
MEMORY_FRACTION = 0.5  # of the free device memory (or free RAM on a CPU) one pass may use
MIN_TILE = 32

TileSide = int | Literal["auto"]  # tile side in pixels; 0 = never tile; "auto" = only when a frame would not fit
BatchSize = int | Literal["auto"]  # frames per model call; "auto" = `Translator.batch_size_for` decides

AUTO_MAX_BATCH = 8
# On a CPU the cores are already busy inside one frame, so batching pays only for small frames, and big
# batches fall out of cache: this pixel budget per call came close to the best batch at every size
# measured (bench/RESULTS.md, appendix "Session 2", `--batch-size auto`).
CPU_BATCH_PIXELS = 100_000


@dataclass
class TranslatedBatch:
    outputs: np.ndarray  # N x H x W x 3 uint8
    reconstructions: np.ndarray | None  # F(G(x)), same shape, when the cycle is computed


def resolve_direction(direction: str, domains: tuple[str, str]) -> bool:
    """True for A->B. Accepts AtoB/BtoA and the model's own domain names (`photo2painting`, `painting`...)."""

    def key_of(text: str) -> str:  # spelled loosely: case, "-", "_" and "->" do not matter
        return text.strip().lower().replace("-", "").replace("_", "").replace(">", "to")

    a, b = domains
    forward = {key_of(k) for k in ("atob", "a2b", f"{a}to{b}", f"{a}2{b}", b)}
    backward = {key_of(k) for k in ("btoa", "b2a", f"{b}to{a}", f"{b}2{a}", a)}
    key = key_of(direction)
    if key in forward and key not in backward:
        return True
    if key in backward and key not in forward:
        return False
    raise UserError(
        f"--direction {direction!r}: use AtoB or BtoA, or {a}2{b} / {b}2{a} (this model's domains)",
        ExitCode.USAGE,
    )


def free_memory(device: torch.device) -> int:
    """Bytes a pass may count on: free CUDA memory, or the RAM Linux reports available (8 GiB if unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return 8 << 30


def tile_starts(length: int, side: int, overlap: int) -> list[int]:
    """Tile origins along one axis: every `side - overlap` pixels, the last one flush with the end."""
    if length <= side:
        return [0]
    return [*range(0, length - side, side - overlap), length - side]


def blend_ramp(length: int, overlap: int, ramp_in: bool, ramp_out: bool) -> torch.Tensor:
    """1 inside, rising linearly across `overlap` pixels on each side that meets another tile."""
    weight = torch.ones(length)
    ramp = (torch.arange(overlap) + 0.5) / overlap
    if ramp_in and overlap:  # no overlap (a pointwise generator): tiles abut, weight 1
        weight[:overlap] = ramp
    if ramp_out and overlap:
        weight[-overlap:] = ramp.flip(0)
    return weight


def pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    """Pad bottom/right to a multiple of 4 (at least MIN_NET_SIDE): reflect, or replicate where reflect can't."""
    h, w = x.shape[-2:]
    ph = max(-h % MULTIPLE, MIN_NET_SIDE - h)
    pw = max(-w % MULTIPLE, MIN_NET_SIDE - w)
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"  # reflect needs the pad smaller than the side
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class FrameNormStats:
    """Instance-norm statistics captured from one view of a frame, then imposed on every tile of it."""

    def __init__(self, net: nn.Module) -> None:
        self.layers = [m for m in net.modules() if isinstance(m, nn.InstanceNorm2d)]
        self.stats: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def _capture(self, module: nn.Module, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        x = inputs[0].float()
        self.stats[module] = (x.mean((2, 3), keepdim=True), x.var((2, 3), unbiased=False, keepdim=True))

    def _impose(self, module: nn.InstanceNorm2d, inputs: tuple[torch.Tensor], output: torch.Tensor) -> torch.Tensor:
        mean, var = self.stats[module]
        return ((inputs[0].float() - mean) * torch.rsqrt(var + module.eps)).to(output.dtype)

    @contextlib.contextmanager
    def _hooked(self, hook) -> Iterator[None]:
        handles = [m.register_forward_hook(hook) for m in self.layers]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def capturing(self) -> contextlib.AbstractContextManager:
        return self._hooked(self._capture)

    def imposing(self) -> contextlib.AbstractContextManager:
        return self._hooked(self._impose)


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
        split_narrow: bool = True,
        tile: TileSide = "auto",
        memory_budget: int | None = None,
    ) -> None:
        self.device = pick_device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA device here; use --device auto or cpu", ExitCode.USAGE)
        try:
            self.precision, self.precision_reason = choose_precision(precision, self.device)  # type: ignore[arg-type]
        except ValueError as e:
            raise UserError(str(e), ExitCode.USAGE) from None
        if tile != "auto" and tile != 0 and tile < MIN_TILE:
            raise UserError(f"--tile {tile}: use auto, 0 (never) or a side of at least {MIN_TILE}", ExitCode.USAGE)
        self.info = model.info
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # The output layer in a form oneDNN runs faster (models/narrow_conv.py); CUDA keeps the plain layer.
        self.split_narrow = split_narrow and self.device.type == "cpu"
        # Inference keeps the weights themselves in the compute dtype: autocast would re-cast every weight on
        # every call (measured: bench/RESULTS.md, appendix "Session 1 quiet-machine figures").
        self.dtype = DTYPES[self.precision]
        forward, backward = (model.a_to_b, model.b_to_a) if a_to_b else (model.b_to_a, model.a_to_b)
        source, target = model.info.domains if a_to_b else model.info.domains[::-1]
        if forward is None:
            raise UserError(
                f"this model holds {target} -> {source} only (one generator); pass --direction {target}2{source}",
                ExitCode.USAGE,
            )
        # A one-direction model (an official latest_net_G.pth) has no F to cycle back with: translate anyway.
        self.cycle_unavailable = (
            f"cycle not computed: the model has no {target} -> {source} generator" if cycle and backward is None else ""
        )
        if self.cycle_unavailable:
            log.warning("%s (it holds one direction only); translating without cycle metrics", self.cycle_unavailable)
        self.forward = self._prepared(forward)
        # A colour function as it was trained (fp32): a video without the cycle is graded by ffmpeg with its
        # 3D LUT instead (video/graded.py)
        self.pointwise_net = forward if model.info.spec.pointwise else None
        self.backward = self._prepared(backward) if cycle and backward is not None else None
        self.tile = tile if tile == "auto" else tile - tile % MULTIPLE
        self.memory_budget = memory_budget or int(free_memory(self.device) * MEMORY_FRACTION)

    def _prepared(self, net: nn.Module) -> nn.Module:
        """`net` on the device in the compute dtype, in eval mode; a copy, so the caller's module is untouched."""
        net = copy.deepcopy(net).to(self.device, self.dtype, memory_format=self.memory_format).eval()
        return split_narrow_convs(net) if self.split_narrow else net

    @classmethod
    def from_file(cls, path: Path, *, direction: str = "AtoB", **kwargs) -> Translator:
        model = load_generators(path)
        return cls(model, a_to_b=resolve_direction(direction, model.info.domains), **kwargs)

    def to_device(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """N x H x W x 3 uint8 (an array, or a tensor on any device) -> N x 3 x H x W in [-1, 1] on the device:
        in the compute dtype from a table on a CPU, else float (pinned, async copy on CUDA)."""
        # on a CPU one table lookup gives the same bits (pixels.py); a tiled frame keeps float, which its
        # instance-norm statistics are taken from
        if isinstance(frames, np.ndarray) and self.device.type == "cpu" and not self.tile_side(*frames.shape[1:3]):
            return to_model_input(frames, self.dtype).contiguous(memory_format=self.memory_format)
        if isinstance(frames, torch.Tensor):
            t = frames
        else:
            frames = np.ascontiguousarray(frames)
            if not frames.flags.writeable:  # decoded images are read-only views; torch warns on wrapping those
                frames = frames.copy()
            t = torch.from_numpy(frames)
        if self.device.type == "cuda" and t.device.type == "cpu":
            t = t.pin_memory()
        t = to_model_range(t.to(self.device, non_blocking=True).permute(0, 3, 1, 2))
        return t.contiguous(memory_format=self.memory_format)

    def batch_size_for(self, height: int, width: int, requested: BatchSize = "auto") -> int:
        """Frames of this size per model call: `requested`, or for "auto" up to 8 on a GPU (as many as
        fit the memory budget) and ~CPU_BATCH_PIXELS worth on a CPU."""
        if isinstance(requested, int) and requested >= 1:
            return requested
        if requested != "auto":
            raise ValueError(f"batch size {requested!r}: use a positive integer or 'auto'")
        pixels = height * width
        if self.device.type == "cpu":
            fits = CPU_BATCH_PIXELS // pixels
        else:
            fits = self.memory_budget // self.pass_bytes(pixels)
        return max(1, min(AUTO_MAX_BATCH, fits))

    def concurrent_calls(self, height: int, width: int, batch_size: int) -> int:
        """How many model calls on batches of this size may run at once (util/threads.py's policy): two passes
        must fit the memory budget and need no tiling (tiling hooks the shared network). The network is
        shared: inference reads its weights only."""
        two_passes = 2 * self.pass_bytes(height * width * batch_size)
        return model_calls(self.device, two_passes <= self.memory_budget and self.tile_side(height, width) == 0)

    def pass_bytes(self, pixels: int) -> int:
        """Estimated peak device memory of one generator pass over `pixels` pixels."""
        return (BYTES_PER_PIXEL_PER_NGF * self.info.spec.ngf + IO_BYTES_PER_PIXEL) * pixels

    def tile_overlap(self, side: int) -> int:
        """Twice the generator's receptive radius (tile borders see reflection padding that far), <= side / 2."""
        overlap = min(2 * self.info.spec.receptive_radius(), side // 2)
        return overlap - overlap % MULTIPLE  # keeps every tile origin on the stride-4 grid

    def tile_side(self, height: int, width: int) -> int:
        """The tile side for a frame of this size; 0 when it is translated whole."""
        if self.tile != "auto":
            return self.tile if max(height, width) > self.tile else 0
        if self.pass_bytes(height * width) <= self.memory_budget:
            return 0
        fits = int((self.memory_budget / self.pass_bytes(1)) ** 0.5)
        return max(MIN_TILE, fits - fits % MULTIPLE)

    @torch.inference_mode()
    def run(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Apply `net` to any H x W: whole, in memory-sized groups of frames, or tiled. In [-1, 1]: in the
        compute dtype, float where tiles were blended."""
        h, w = x.shape[-2:]
        side = self.tile_side(h, w)
        if side:
            return torch.cat([self._run_tiled(net, frame, side) for frame in x.split(1)])
        per_pass = max(1, self.memory_budget // self.pass_bytes(h * w))
        if per_pass >= x.shape[0]:  # the usual case: no copy into a joined batch
            return self._run_whole(net, x)
        return torch.cat([self._run_whole(net, group) for group in x.split(per_pass)])

    def _run_whole(self, net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The net's output in its compute dtype: a cycle's F takes it as it is, and each conversion to float
        is a pass over the frames (bench/RESULTS.md, "The work around the model")."""
        h, w = x.shape[-2:]
        y = net(pad_to_multiple(x.to(self.dtype)))
        return y[..., :h, :w]

    def _run_tiled(self, net: torch.nn.Module, x: torch.Tensor, side: int) -> torch.Tensor:
        """Overlapping side x side tiles on the padded frame's stride-4 grid, blended by linear ramps."""
        h, w = x.shape[-2:]
        x = pad_to_multiple(x)
        height, width = x.shape[-2:]
        norm = FrameNormStats(net)
        if norm.layers:  # a pointwise generator has none: nothing to capture
            with norm.capturing():
                self._run_whole(net, self._stats_view(x))
        overlap = self.tile_overlap(side)
        out = torch.zeros(x.shape[0], 3, height, width, device=x.device)
        total = torch.zeros(height, width, device=x.device)
        ys, xs = tile_starts(height, side, overlap), tile_starts(width, side, overlap)
        for y0 in ys:
            th = min(side, height)
            wy = blend_ramp(th, overlap, y0 > 0, y0 + th < height)
            for x0 in xs:
                tw = min(side, width)
                wx = blend_ramp(tw, overlap, x0 > 0, x0 + tw < width)
                weight = (wy[:, None] * wx[None, :]).to(x.device)
                with norm.imposing():
                    tile = self._run_whole(net, x[..., y0 : y0 + th, x0 : x0 + tw])
                out[..., y0 : y0 + th, x0 : x0 + tw] += tile * weight
                total[y0 : y0 + th, x0 : x0 + tw] += weight
        return (out / total)[..., :h, :w]

    def _stats_view(self, x: torch.Tensor) -> torch.Tensor:
        """The frame itself if one pass over it fits in memory, else the largest area-downscaled copy that does."""
        h, w = x.shape[-2:]
        scale = (self.memory_budget / self.pass_bytes(h * w)) ** 0.5
        if scale >= 1:
            return x
        size = (max(MIN_NET_SIDE, int(h * scale)), max(MIN_NET_SIDE, int(w * scale)))
        return F.interpolate(x, size=size, mode="area")

    def translate(self, frames: np.ndarray | torch.Tensor) -> TranslatedBatch:
        """Translate a batch of same-size uint8 frames (N x H x W x 3, an array or a tensor on any device)."""
        y, rec = self.translate_tensor(self.to_device(frames))
        return TranslatedBatch(to_uint8_image(y), to_uint8_image(rec) if rec is not None else None)

    def translate_tensor(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """G(x) and, with the cycle, F(G(x)): N x 3 x H x W in [-1, 1] on the device, in and out (out in the
        compute dtype, or float where tiled: `to_pixels` takes either)."""
        y = self.run(self.forward, x)
        return y, self.run(self.backward, y) if self.backward is not None else None

    def from_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W RGB values 0..255 already on the device (video frames) -> the model's input."""
        return pixels.div(127.5).sub_(1.0).contiguous(memory_format=self.memory_format)  # to_model_range, a copy
