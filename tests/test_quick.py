"""The `grade` preset (pointwise, named `quick` before issue 31), the spatial `quick` preset, and `--minutes`: a
generator that starts as the identity, a budget that ends cleanly."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, smooth_images, write_images
from PIL import Image
from safetensors import safe_open

from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import load_generators, read_info
from cyclegan_batch.models.nets import GeneratorSpec, PointwiseGenerator, ResnetGenerator, init_weights
from cyclegan_batch.runfolder import MODEL_FILE, RUN_JSON
from cyclegan_batch.train.budget import TimeBudget
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.step import build_networks

# The grade preset's departures at test sizes: tiny networks, 32-pixel crops.
TINY_GRADE = ["--set", "ngf=8", "--set", "ndf=8", "--set", "n_blocks=2", "--load-size", "36", "--crop-size", "32"]


@pytest.mark.parametrize(
    "pointwise,colour_width", [(True, 0), (False, 0), (False, 8)], ids=["pointwise", "resnet", "colour"]
)
def test_residual_generator_starts_as_the_identity_exactly(pointwise: bool, colour_width: int) -> None:
    cfg = build_config("grade", dict(ngf=8, ndf=8, n_blocks=2, pointwise=pointwise, colour_width=colour_width))
    nets = build_networks(cfg, seed=0)
    x = torch.rand(2, 3, 36, 44, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x[0, :, :4, :4] = torch.tensor([-1.0, 1.0, 0.0])[:, None, None]  # the ends of the range too
    with torch.no_grad():
        for net in (nets.a_to_b, nets.b_to_a):
            assert torch.equal(net(x), x)


def test_residual_flag_leaves_the_paper_generator_alone() -> None:
    """Same parameter names and the same random init stream: only the last conv (zeroed) and the output differ."""
    nets = []
    for residual in (False, True):
        torch.manual_seed(0)
        net = ResnetGenerator(GeneratorSpec(ngf=8, n_blocks=2, residual=residual))
        init_weights(net)
        nets.append(net.state_dict())
    paper, residual = nets
    assert list(paper) == list(residual)
    last = [k for k in paper if k.endswith(".weight")][-1]
    assert all(torch.equal(paper[k], residual[k]) for k in paper if k != last)
    assert not residual[last].any()
    assert GeneratorSpec().to_dict() == {"ngf": 64, "n_blocks": 9, "upsample": "transpose"}  # the paper's header


def test_pointwise_generator_maps_each_pixel_by_its_own_colour() -> None:
    """Moving pixels around moves the output with them: no pattern, no dependence on the image's size."""
    torch.manual_seed(0)
    net = PointwiseGenerator(GeneratorSpec(ngf=16, n_blocks=2, residual=True, pointwise=True))
    init_weights(net)  # He init for its 1x1 layers, the last one at zero
    torch.nn.init.normal_(net.output_conv.weight, 0.0, 0.5)  # past the zero start
    x = torch.rand(1, 3, 12, 20) * 2 - 1
    order = torch.randperm(12 * 20)
    shuffled = x.flatten(2)[..., order].reshape(1, 3, 20, 12)  # other positions, another shape
    with torch.no_grad():
        y, y_shuffled = net(x), net(shuffled)
    assert not torch.allclose(y, x, atol=1e-3)
    torch.testing.assert_close(y.flatten(2)[..., order], y_shuffled.flatten(2))


def test_colour_path_adds_a_function_of_each_pixels_colour() -> None:
    """`colour_width` (the `quick` preset): the convolutions' output plus a pointwise MLP of the input, which sees
    the absolute colour the instance norms remove. With the convolutions' last layer at zero only the path acts."""
    torch.manual_seed(0)
    net = ResnetGenerator(GeneratorSpec(ngf=4, n_blocks=1, n_downsampling=0, residual=True, colour_width=8))
    init_weights(net)
    assert net.colour is not None and any(k.startswith("colour.") for k in net.state_dict())
    torch.nn.init.normal_(net.colour[-1].weight, 0.0, 0.5)  # past the zero start; the convolutions stay at zero
    x = torch.rand(1, 3, 12, 20) * 2 - 1
    order = torch.randperm(12 * 20)
    shuffled = x.flatten(2)[..., order].reshape(1, 3, 20, 12)
    with torch.no_grad():
        y, y_shuffled = net(x), net(shuffled)
    assert not torch.allclose(y, x, atol=1e-3)  # the path is in the forward pass, not only in the state dict
    torch.testing.assert_close(y.flatten(2)[..., order], y_shuffled.flatten(2))
    assert net.spec.to_dict()["colour_width"] == 8 and "colour_width" not in GeneratorSpec().to_dict()
    assert GeneratorSpec(colour_width=8).problems() == [
        "colour_width needs a residual, spatial generator (residual true, pointwise false)"
    ]


def test_grade_model_works_with_translate_info_and_export(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_images(data / "A", smooth_images(8, 40, seed=1))
    write_images(data / "B", [255 - img for img in smooth_images(8, 40, seed=2)])
    model_dir = tmp_path / "model"
    run_cli("train", data, model_dir, "--preset", "grade", "--max-steps", "4", "--minutes", "0", *TINY_GRADE)
    model = model_dir / MODEL_FILE
    with safe_open(str(model), framework="pt") as f:
        header = json.loads(f.metadata()["generator"])
    assert header == {"ngf": 8, "n_blocks": 2, "upsample": "transpose", "residual": True, "pointwise": True}
    loaded = load_generators(model)
    assert loaded.info.spec.pointwise and loaded.info.spec.residual and loaded.info.step == 4
    assert isinstance(loaded.a_to_b, PointwiseGenerator)
    tiled = Translator(loaded, device="cpu", precision="fp32", tile=64, cycle=False)
    assert tiled.tile_overlap(64) == 0  # tiles need no margin, and abut exactly
    frames = np.random.default_rng(0).integers(0, 256, (1, 100, 150, 3), dtype=np.uint8)
    whole = Translator(loaded, device="cpu", precision="fp32", cycle=False).translate(frames).outputs
    assert np.abs(tiled.translate(frames).outputs.astype(int) - whole).max() <= 1
    run = json.loads((model_dir / RUN_JSON).read_text())
    assert run["steps"] == 4 and run["config"]["residual"] is True and run["config"]["pointwise"] is True

    info = run_cli("info", model).stdout
    assert "residual" in info and "pointwise" in info
    out = tmp_path / "out"
    run_cli("translate", data / "A", out, "--model", model)
    assert len(list(out.glob("*.png"))) == 8
    onnx = pytest.importorskip("onnxruntime")
    run_cli("export", model, tmp_path / "g.onnx")
    x = torch.rand(1, 3, 44, 52, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        want = loaded.a_to_b(x).numpy()
    session = onnx.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, {"image": x.numpy()})[0] - want).max() <= 1e-3


# Written by the pointwise preset when it was still named `quick` (commit 54c773a: `train --preset quick --max-steps 60
# --minutes 0 --epochs 30 --decay-epochs 30 --set ngf=8 --set ndf=8 --set n_blocks=2 --set lr=0.01 --set eval_every=0
# --load-size 36 --crop-size 32 --names photo,negative`, on smooth images and their negatives). The preset's name is
# in no file: the header's spec rebuilds the generator.
OLD_QUICK_MODEL = Path(__file__).parent / "data" / "quick_pointwise_54c773a.safetensors"


def test_model_written_by_the_old_quick_preset_still_loads_and_translates(tmp_path: Path) -> None:
    loaded = load_generators(OLD_QUICK_MODEL)
    assert loaded.info.spec == GeneratorSpec(ngf=8, n_blocks=2, residual=True, pointwise=True)
    assert loaded.info.domains == ("photo", "negative") and loaded.info.step == 60
    assert isinstance(loaded.a_to_b, PointwiseGenerator) and isinstance(loaded.b_to_a, PointwiseGenerator)
    images = write_images(tmp_path / "in", smooth_images(2, 40, seed=5))
    run_cli("translate", tmp_path / "in", tmp_path / "out", "--model", OLD_QUICK_MODEL, "--no-cycle")
    for path in images:
        x = np.asarray(Image.open(path).convert("RGB"))
        y = np.asarray(Image.open(tmp_path / "out" / path.name).convert("RGB"))
        with torch.no_grad():
            want = loaded.a_to_b(torch.from_numpy(x).permute(2, 0, 1)[None].float() / 127.5 - 1)
        want_u8 = ((want[0].permute(1, 2, 0) + 1) * 127.5).round().numpy()
        assert np.abs(y.astype(int) - x).max() > 2  # its 60 steps moved it away from the identity it started as
        assert np.abs(y - want_u8).max() <= 1


def test_quick_preset_trains_a_full_resolution_residual_generator(tiny_domains: Path, tmp_path: Path) -> None:
    """`quick` (issue 31): a spatial generator that never downsamples, so any image size goes through it."""
    cfg = build_config("quick")
    assert (cfg.generator.n_downsampling, cfg.generator.residual, cfg.generator.pointwise) == (0, True, False)
    assert not cfg.flip and cfg.lambda_identity == 0 and cfg.minutes == 9
    model_dir = tmp_path / "model"
    run_cli("train", tiny_domains, model_dir, "--preset", "quick", "--max-steps", "3", "--minutes", "0",
            "--load-size", "36", "--batch-size", "2", "--workers", "0")  # fmt: skip
    loaded = load_generators(model_dir / MODEL_FILE)
    assert loaded.info.spec == GeneratorSpec(ngf=16, n_blocks=2, n_downsampling=0, residual=True, colour_width=32)
    assert isinstance(loaded.a_to_b, ResnetGenerator) and loaded.info.step == 3
    x = torch.rand(1, 3, 37, 53) * 2 - 1  # odd sizes: nothing to pad or crop without downsampling
    with torch.no_grad():
        assert loaded.a_to_b(x).shape == x.shape
        x = x[..., :36, :52]  # the ONNX graph pads to a multiple of 4, which moves a spatial model's border
        want = loaded.a_to_b(x).numpy()
    onnx = pytest.importorskip("onnxruntime")
    run_cli("export", model_dir / MODEL_FILE, tmp_path / "g.onnx")  # the colour path's matrix products export too
    session = onnx.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, {"image": x.numpy()})[0] - want).max() <= 1e-3


def test_minutes_ends_with_a_model_and_the_lr_decayed(tiny_domains: Path, tmp_path: Path) -> None:
    """A 6-second budget for a schedule of 12,000 steps: a finished model, and lr near 0 at its last step."""
    model_dir = tmp_path / "model"
    run_cli("train", tiny_domains, model_dir, "--preset", "tiny", "--epochs", "1000", "--decay-epochs", "1000",
            "--minutes", "0.1", "--workers", "0", "--set", "log_every=1")  # fmt: skip
    rows = list(csv.DictReader((model_dir / "losses.csv").open()))
    lrs = [float(r["lr"]) for r in rows]
    steps = len(rows)
    assert 4 <= steps < 12_000 and read_info(model_dir / MODEL_FILE).step == steps
    assert lrs[0] == pytest.approx(2e-4)
    assert lrs[-1] <= 0.25 * 2e-4  # the decay was fitted into the budget
    assert json.loads((model_dir / RUN_JSON).read_text())["steps"] == steps


def test_budget_fits_the_decay_to_the_measured_rate() -> None:
    budget = TimeBudget(minutes=1.0, constant_fraction=0.5, step_cap=10**6, started=time.perf_counter() - 10)
    budget.rate_start = (10, time.perf_counter() - 10)  # 10 steps/s after warm-up, 50 s left of 60
    budget.first_step = 0
    total = budget.update(110)
    assert 500 < total < 610  # 110 done + ~48 s x 10 steps/s (2 s are kept for the final writes)
    assert budget.lr_factor(0) == 1.0 and budget.lr_factor(total // 2 - 1) == 1.0
    assert budget.lr_factor(total - 1) == pytest.approx(1 / (total / 2))
    assert TimeBudget(0.5, 0.5, step_cap=7).update(1) == 7  # never past the schedule's own end
