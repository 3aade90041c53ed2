"""`export MODEL look.cube`: the LUT's layout and what it refuses (ffmpeg's lut3d against `translate` on the demo's
photos: tests/test_demo.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from conftest import run_cli

from cyclegan_batch.models.lut import fit_lattice, interpolate, lattice
from cyclegan_batch.models.nets import GeneratorSpec, PointwiseGenerator, init_weights

OLD_QUICK_MODEL = Path(__file__).parent / "data" / "quick_pointwise_54c773a.safetensors"


def test_lattice_runs_red_fastest_then_green_then_blue() -> None:
    points = lattice(3)
    assert points[:4].tolist() == [[0, 0, 0], [0.5, 0, 0], [1, 0, 0], [0, 0.5, 0]]
    assert points[9].tolist() == [0, 0, 0.5] and points[-1].tolist() == [1, 1, 1]


def colours(net: PointwiseGenerator, rgb: np.ndarray) -> np.ndarray:
    """The net's output colours for N x 3 colours, both in [0, 1]."""
    with torch.no_grad():
        y = net(torch.from_numpy(rgb.T.astype(np.float32) * 2 - 1).reshape(1, 3, -1, 1))
    return (y.reshape(3, -1).T.double().numpy() + 1) / 2


def test_fitted_lattice_is_exact_for_a_linear_grade_and_close_for_a_curved_one() -> None:
    """Tetrahedral interpolation is exact on affine functions: so must the fit be; on a random pointwise net
    (bent like a strong grade) it must be closer to the net than the net's values at the lattice points."""
    net = PointwiseGenerator(GeneratorSpec(ngf=16, n_blocks=2, residual=True, pointwise=True))
    init_weights(net)
    rgb = np.random.default_rng(1).random((20_000, 3))
    with torch.no_grad():
        net.output_conv.bias.copy_(torch.tensor([0.2, -0.1, 0.0]))  # a shift, before the clamp
        assert np.abs(interpolate(fit_lattice(net, 5), rgb) - (rgb + [0.1, -0.05, 0.0])).max() < 1e-6
        torch.nn.init.normal_(net.output_conv.weight, 0.0, 0.2)
    want = colours(net, rgb)
    fitted = np.abs(np.clip(interpolate(fit_lattice(net, 9), rgb), 0, 1) - want).mean()
    sampled = np.abs(interpolate(colours(net, lattice(9)), rgb) - want).mean()
    assert fitted < 0.8 * sampled


def test_old_quick_model_exports_both_directions_and_a_spatial_one_is_refused(tmp_path: Path) -> None:
    run_cli("export", OLD_QUICK_MODEL, tmp_path / "back.cube", "--direction", "negative2photo", "--lut-size", "5")
    lines = (tmp_path / "back.cube").read_text().splitlines()
    assert 'TITLE "negative2photo"' in lines and "LUT_3D_SIZE 5" in lines
    assert sum(1 for line in lines if line[:1].isdigit() or line[:1] == "-") == 5**3
    result = run_cli("export", "bundled", tmp_path / "look.cube", check=False)
    assert result.returncode == 2 and not (tmp_path / "look.cube").exists()
    assert result.stderr.count("\n") == 1 and "spatial" in result.stderr and "pointwise" in result.stderr
    too_big = run_cli("export", OLD_QUICK_MODEL, tmp_path / "big.cube", "--lut-size", "129", check=False)
    assert too_big.returncode == 2 and "--lut-size 129" in too_big.stderr
