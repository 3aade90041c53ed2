"""A pointwise generator as a 3D LUT in the .cube format (Adobe's, read by Resolve, Premiere, OBS, ffmpeg `lut3d`).

A pointwise generator maps each pixel's colour by one function (models/nets.py's PointwiseGenerator), so a 3D
LUT can hold it: size^3 lattice values that the reader interpolates between, tetrahedrally (ffmpeg's default,
Resolve's best). Coordinates and values are the model's own RGB divided by 255: full-range, sRGB-encoded, as
its training images held them (not linear light, not video's limited range).

The lattice values are not the function's values at the lattice points but the values whose interpolation
comes closest to it, in the least-squares sense, over points spread evenly through every cell of the colour
cube; and they are fitted to the generator's output before its final clamp to [0, 1], so a value may lie
outside [0, 1] and the reader's clip makes the clamp's corner exactly where the model has it. A grade bends
sharply where it saturates: sampled at 33^3 points, the demo's golden hour comes out of ffmpeg's lut3d up to
4 grey levels (99.9th percentile) from `translate`, fitted so, 2 (bench/RESULTS.md, "grade preset as a LUT").
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from cyclegan_batch import __version__
from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.models.modelfile import Generators, direction_name
from cyclegan_batch.models.nets import Generator
from cyclegan_batch.util.atomic import atomic_write_text

DEFAULT_SIZE = 33  # the common size of grading LUTs
MIN_SIZE, MAX_SIZE = 2, 65  # 65: the largest that Resolve, Premiere and OBS all read
POINTS_PER_CELL = 8  # fitting points per lattice cell, besides the lattice points themselves
SOLVER_ITERATIONS = 300  # LSQR converges to well below a grey level in far fewer (the system is well posed)
ENCODING = (
    "Input and output: full-range RGB, 0.0-1.0, in the model's own encoding (sRGB-encoded values as in its\n"
    "training images, value/255): not linear light and not video (limited) range; apply it where the\n"
    "pictures are sRGB-encoded full-range RGB. Values outside 0.0-1.0 are meant to be clipped to it."
)


def lattice(size: int) -> np.ndarray:
    """The size^3 lattice points as an N x 3 RGB array in [0, 1], red changing fastest, then green, then blue."""
    axis = np.linspace(0.0, 1.0, size)
    b, g, r = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([r, g, b], axis=-1).reshape(-1, 3)


def tetrahedral_weights(size: int, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where tetrahedral interpolation of a size^3 lattice reads each colour (N x 3, [0, 1]): N x 4 lattice
    indices (red fastest) and their N x 4 weights."""
    scaled = rgb * (size - 1)
    base = np.clip(np.floor(scaled).astype(int), 0, size - 2)
    frac = scaled - base
    order = np.argsort(-frac, axis=1, kind="stable")  # the channels by decreasing fraction: the tetrahedron
    steps = np.zeros((len(rgb), 4, 3), dtype=int)  # from the cell's base corner, one channel's step at a time
    rows = np.arange(len(rgb))
    for k in range(1, 4):
        steps[:, k] = steps[:, k - 1]
        steps[rows, k, order[:, k - 1]] = 1
    corners = base[:, None, :] + steps
    index = corners[..., 0] + size * corners[..., 1] + size * size * corners[..., 2]
    f0, f1, f2 = np.take_along_axis(frac, order, axis=1).T
    return index, np.stack([1 - f0, f0 - f1, f1 - f2, f2], axis=1)


def interpolate(table: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """A size^3 x 3 lattice (red fastest) read at N x 3 colours in [0, 1], tetrahedrally."""
    index, weights = tetrahedral_weights(round(len(table) ** (1 / 3)), rgb)
    return (table[index] * weights[..., None]).sum(axis=1)


@torch.inference_mode()
def _unclamped(net: Generator, rgb: np.ndarray) -> np.ndarray:
    """The pointwise generator's colours (N x 3, [0, 1] in and out) before its final clamp."""
    x = torch.from_numpy(rgb.T.astype(np.float32) * 2 - 1).reshape(1, 3, -1, 1)  # a column of pixels
    return (net.unclamped(x).reshape(3, -1).T.double().numpy() + 1) / 2


def fit_lattice(net: Generator, size: int = DEFAULT_SIZE, seed: int = 0) -> np.ndarray:
    """The size^3 x 3 lattice (red fastest) whose tetrahedral interpolation is closest to `net` (fp32,
    pointwise) over the colour cube: least squares over POINTS_PER_CELL random points in every cell."""
    # scipy here, not at the top: video/pipeline.py imports this module, and scipy.sparse's import costs every
    # translate process ~0.17 s of start-up (bench/RESULTS.md, "The work around the model")
    import scipy.sparse as sp
    import scipy.sparse.linalg as sla

    rng = np.random.default_rng(seed)
    cells = lattice(size - 1)[None] * (size - 2) / (size - 1)  # every cell's lowest corner
    points = (cells + rng.random((POINTS_PER_CELL, *cells.shape[1:])) / (size - 1)).reshape(-1, 3)
    points = np.concatenate([points, lattice(size)])
    target = _unclamped(net, points)
    index, weights = tetrahedral_weights(size, points)
    rows = np.repeat(np.arange(len(points)), 4)
    system = sp.csr_matrix((weights.ravel(), (rows, index.ravel())), shape=(len(points), size**3))
    start = _unclamped(net, lattice(size))  # the sampled values: the fit corrects them
    correction = [
        sla.lsqr(system, target[:, c] - system @ start[:, c], atol=1e-9, btol=1e-9, iter_lim=SOLVER_ITERATIONS)[0]
        for c in range(3)
    ]
    return start + np.stack(correction, axis=1)


def check_exportable(model: Generators, size: int) -> None:
    """A UserError in one line where `model` cannot be a LUT: a spatial generator, or a size out of range."""
    if not model.info.spec.pointwise:
        raise UserError(
            "a .cube LUT holds a colour function per pixel, and this model's generator is spatial (each output "
            "pixel depends on its neighbours): only pointwise models (the `grade` preset) export as LUTs",
            ExitCode.USAGE,
        )
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"--lut-size {size}: use {MIN_SIZE} to {MAX_SIZE} (33 is usual)", ExitCode.USAGE)


def cube_text(table: np.ndarray, size: int, title: str, comments: list[str]) -> str:
    """The .cube file: comment lines, TITLE, LUT_3D_SIZE, the domain, then one `r g b` row per lattice point."""
    head = [f"# {line}" for line in comments]
    head += [f'TITLE "{title}"', f"LUT_3D_SIZE {size}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    rows = "\n".join(f"{r:.6f} {g:.6f} {b:.6f}" for r, g, b in table)
    return "\n".join(head) + "\n" + rows + "\n"


def grade_cube(net: Generator, title: str, comments: list[str], size: int = DEFAULT_SIZE) -> str:
    """The .cube text of the pointwise `net`, fitted in fp32 on the CPU (the caller's module is left as it is)."""
    net = copy.deepcopy(net).to("cpu", torch.float32)
    return cube_text(fit_lattice(net, size), size, title, comments)


def export_cube(model: Generators, out: Path, a_to_b: bool = True, size: int = DEFAULT_SIZE) -> None:
    """Write one direction of a pointwise model as `out` (.cube), atomically."""
    check_exportable(model, size)
    prefix = "a_to_b" if a_to_b else "b_to_a"
    net = model.a_to_b if a_to_b else model.b_to_a
    direction = direction_name(prefix, model.info.domains)
    if net is None:
        raise UserError(f"this model holds no {direction} generator", ExitCode.USAGE)
    comments = [
        f"{direction}: a CycleGAN pointwise generator (step {model.info.step}) as a {size}^3 LUT,",
        f"written by cyclegan-batch {__version__}.",
        *ENCODING.splitlines(),
    ]
    source, target = model.info.domains if a_to_b else model.info.domains[::-1]
    title = f"{source}2{target}".replace('"', "'")  # a TITLE is one quoted string
    atomic_write_text(out, grade_cube(net, title, comments, size))
