"""`translate` on image folders: real files (nested, mixed formats and sizes, broken ones), tiny real models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn
from typer.testing import CliRunner

from cyclegan_batch import runfolder
from cyclegan_batch.cli import app, main
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.images import load_rgb, load_rgb_alpha
from cyclegan_batch.metrics import cycle_metrics
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator, init_weights
from cyclegan_batch.translate.cycle_table import CycleTable
from cyclegan_batch.translate.verb import default_model

SPEC = GeneratorSpec(ngf=8, n_blocks=2)
G_COLOUR, F_COLOUR = (200, 100, 50), (30, 160, 220)  # what the constant generators paint, as uint8


def constant_generator(colour: tuple[int, int, int]) -> ResnetGenerator:
    """All weights zero and the last bias atanh(c): every output pixel is `colour`, whatever the input."""
    net = ResnetGenerator(SPEC)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        last = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1]
        last.bias.copy_(torch.atanh(torch.tensor(colour, dtype=torch.float64) / 127.5 - 1).float())
    return net


def random_generator(seed: int) -> ResnetGenerator:
    torch.manual_seed(seed)
    net = ResnetGenerator(SPEC)
    init_weights(net, gain=0.05)  # a little above the paper's 0.02 so outputs depend visibly on inputs
    return net


def write_model(path: Path, a_to_b: nn.Module, b_to_a: nn.Module) -> Path:
    save_generators(path, a_to_b, b_to_a, ModelInfo(SPEC, domains=("photo", "painting")))
    return path


@pytest.fixture(scope="module")
def constant_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "constant.safetensors"
    return write_model(path, constant_generator(G_COLOUR), constant_generator(F_COLOUR))


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "random.safetensors"
    return write_model(path, random_generator(1), random_generator(2))


def smooth(h: int, w: int, seed: int, channels: int = 3) -> np.ndarray:
    """Low-frequency colour blobs plus a little noise: image-like, so SSIM and tiling mean something."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, channels), dtype=np.uint8).squeeze()
    big = np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)).astype(np.int16)
    return np.clip(big + rng.integers(-12, 12, big.shape), 0, 255).astype(np.uint8)


# rel path -> (Pillow mode, width, height, save format)
TREE = {
    "a.png": ("RGB", 33, 17, "PNG"),
    "sub/b.jpg": ("RGB", 40, 24, "JPEG"),
    "sub/deeper/c.webp": ("RGB", 20, 31, "WEBP"),
    "sub/d.png": ("RGBA", 30, 30, "PNG"),
    "e.png": ("L", 16, 16, "PNG"),
    "sub/f.gif": ("P", 24, 24, "GIF"),
    "tiny.png": ("RGB", 3, 3, "PNG"),
    "one.png": ("RGB", 1, 1, "PNG"),
}


def build_tree(root: Path) -> Path:
    for i, (rel, (mode, w, h, fmt)) in enumerate(TREE.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if mode == "RGBA":
            pixels = np.dstack([smooth(h, w, i), np.tile(np.linspace(0, 255, w, dtype=np.uint8), (h, 1))])
            img = Image.fromarray(pixels, "RGBA")
        elif mode == "L":
            img = Image.fromarray(smooth(h, w, i, channels=1), "L")
        else:
            img = Image.fromarray(smooth(h, w, i)).convert(mode)
        img.save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return root


def cli(*args: str | Path) -> int:
    """`cyclegan-batch ARGS` in this process, through the console entry point (exit code, stderr as users see)."""
    argv = sys.argv
    sys.argv = ["cyclegan-batch", *map(str, args)]
    try:
        main()
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        sys.argv = argv
    return 0


def read_csv(out: Path) -> dict[str, dict[str, str]]:
    import csv

    with (out / "cycle.csv").open(newline="") as f:
        return {row["input"]: row for row in csv.DictReader(f)}


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ folders, formats, known outputs


def test_folder_tree_is_mirrored_one_to_one(tmp_path: Path, constant_model: Path) -> None:
    src = build_tree(tmp_path / "in")
    out = src / "translated"  # inside IN: must not be scanned on the rerun
    assert cli("translate", src, out, "--model", constant_model, "--precision", "fp32", "-q") == 0
    assert files_under(out) == {*TREE, "cycle.csv", "run.json"}
    assert json.loads((out / "run.json").read_text())["input"] == str(src.resolve())  # the report finds inputs by it
    rows = read_csv(out)
    assert set(rows) == set(TREE)
    for rel, (_, w, h, fmt) in TREE.items():
        with Image.open(out / rel) as img:
            assert (img.size, img.format) == ((w, h), fmt), rel
        assert (rows[rel]["status"], rows[rel]["output"], rows[rel]["width"], rows[rel]["height"]) == (
            "ok",
            rel,
            str(w),
            str(h),
        )
    for rel in ("a.png", "sub/d.png", "e.png", "tiny.png", "one.png"):  # lossless formats: exactly G's colour
        assert (load_rgb_alpha(out / rel)[0] == G_COLOUR).all(), rel
    assert cli("translate", src, out, "--model", constant_model, "-q") == 0  # rerun: OUT not taken as input
    assert files_under(out) == {*TREE, "cycle.csv", "run.json"}


def test_cycle_metrics_of_constant_generators_are_known(tmp_path: Path, constant_model: Path) -> None:
    src = build_tree(tmp_path / "in")
    out = tmp_path / "out"
    assert cli("translate", src, out, "--model", constant_model, "--precision", "fp32", "-q") == 0
    rows = read_csv(out)
    for rel in TREE:
        x = load_rgb_alpha(src / rel)[0]  # the colour: RGBA's own (not over white), grayscale and palette to RGB
        expected_l1 = np.abs(x.astype(float) - np.array(F_COLOUR)).mean() / 255
        assert float(rows[rel]["l1"]) == pytest.approx(expected_l1, rel=1e-5), rel


def test_direction_by_name_picks_the_other_generator(tmp_path: Path, constant_model: Path) -> None:
    src = tmp_path / "one.png"
    Image.fromarray(smooth(20, 28, 0)).save(src)
    for direction, colour in (("BtoA", F_COLOUR), ("photo", F_COLOUR), ("photo2painting", G_COLOUR)):
        out = tmp_path / direction
        assert cli("translate", src, out, "--model", constant_model, "--direction", direction, "-q") == 0
        assert (load_rgb(out / "one.png") == colour).all(), direction
    assert cli("translate", src, tmp_path / "x", "--model", constant_model, "--direction", "zebra") == 2


def test_format_max_side_no_cycle_and_name_collisions(tmp_path: Path, constant_model: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth(50, 100, 0)).save(src / "wide.png")
    Image.fromarray(smooth(30, 30, 1)).save(src / "same.png")
    Image.fromarray(smooth(30, 30, 2)).save(src / "same.jpg")
    out = tmp_path / "out"
    args = ("--model", constant_model, "--format", "webp", "--max-side", "40", "--no-cycle", "-q")
    assert cli("translate", src, out, *args) == 3
    rows = read_csv(out)
    with Image.open(out / "wide.webp") as img:
        assert (img.format, img.size) == ("WEBP", (40, 20))
    assert (rows["wide.png"]["status"], rows["wide.png"]["l1"], rows["wide.png"]["ssim"]) == ("ok", "", "")
    assert rows["same.jpg"]["status"] == "ok" and (out / "same.webp").is_file()
    assert rows["same.png"]["status"] == "failed" and "same.webp" in rows["same.png"]["reason"]


# ------------------------------------------------------------------ transparency


def transparent_inputs(root: Path) -> dict[str, np.ndarray]:
    """Images with transparency (RGBA and LA with alpha ramps, palettes with a see-through index); their alpha."""
    h, w = 18, 26
    ramp = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    palette = Image.fromarray(smooth(h, w, 2)).quantize(16)
    images = {
        "rgba.png": Image.fromarray(np.dstack([smooth(h, w, 0), ramp]), "RGBA"),
        "ramp.tif": Image.fromarray(np.dstack([smooth(h, w, 1), ramp[::-1]]), "RGBA"),
        "la.png": Image.fromarray(np.dstack([smooth(h, w, 3, channels=1), ramp[:, ::-1]]), "LA"),
        "pal.png": palette,
        "indexed.gif": palette,
    }
    root.mkdir(parents=True, exist_ok=True)
    alphas = {}
    for name, img in images.items():
        img.save(root / name, **({"transparency": 3} if img.mode == "P" else {}))
        with Image.open(root / name) as saved:
            alphas[name] = np.asarray(saved.convert("RGBA"))[..., 3]
        assert (alphas[name] == 0).any() and (alphas[name] == 255).any(), name
    return alphas


def test_alpha_is_carried_through_unchanged_and_metrics_are_on_the_colour(tmp_path: Path, constant_model: Path) -> None:
    alphas = transparent_inputs(tmp_path / "in")
    for args in ((), ("--format", "webp")):
        out = tmp_path / ("out" + "".join(args))
        assert (
            cli("translate", tmp_path / "in", out, "--model", constant_model, "--precision", "fp32", *args, "-q") == 0
        )
        rows = read_csv(out)
        for name, alpha in alphas.items():
            with Image.open(out / rows[name]["output"]) as img:
                rgba = np.asarray(img.convert("RGBA"))
            assert np.array_equal(rgba[..., 3], alpha), (name, args)
            error = np.abs(rgba[..., :3][alpha > 0].astype(int) - G_COLOUR).max()  # the colour is translated
            assert error <= (3 if args else 0), (name, args)  # WebP at quality 95 is lossy, its alpha lossless
            colour = np.asarray(Image.open(tmp_path / "in" / name).convert("RGBA"))[..., :3]  # not over white
            expected_l1 = np.abs(colour.astype(float) - np.array(F_COLOUR)).mean() / 255
            assert float(rows[name]["l1"]) == pytest.approx(expected_l1, rel=1e-5), (name, args)


def test_jpeg_output_composites_transparency_over_white(tmp_path: Path, constant_model: Path) -> None:
    transparent_inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert cli("translate", tmp_path / "in" / "rgba.png", out, "--model", constant_model, "--format", "jpg", "-q") == 0
    with Image.open(out / "rgba.jpg") as img:
        assert img.mode == "RGB"
    over_white = load_rgb(tmp_path / "in" / "rgba.png")  # what the model saw: a JPEG holds no alpha
    expected_l1 = np.abs(over_white.astype(float) - np.array(F_COLOUR)).mean() / 255
    assert float(read_csv(out)["rgba.png"]["l1"]) == pytest.approx(expected_l1, rel=1e-4)


# ------------------------------------------------------------------ metrics against references


def reference_metrics(x: np.ndarray, rec: np.ndarray) -> tuple[float, float, float]:
    win = min(7, *x.shape[:2])
    win -= 1 - win % 2
    return (
        float(np.mean(np.abs(x / 255.0 - rec / 255.0))),
        float(peak_signal_noise_ratio(x / 255.0, rec / 255.0, data_range=1)),
        float(structural_similarity(x / 255.0, rec / 255.0, channel_axis=2, data_range=1, win_size=win)),
    )


@pytest.mark.parametrize("shape", [(256, 256), (33, 17), (5, 6), (4, 9)])
def test_metrics_equal_scikit_image(shape: tuple[int, int]) -> None:
    x = smooth(*shape, seed=3)
    rec = np.clip(x.astype(np.int16) + np.random.default_rng(4).integers(-40, 40, x.shape), 0, 255).astype(np.uint8)
    got = cycle_metrics(x, rec)
    assert (got["l1"], got["psnr"], got["ssim"]) == pytest.approx(reference_metrics(x, rec), rel=1e-6)


def test_metrics_edge_cases() -> None:
    x = smooth(8, 8, 5)
    assert cycle_metrics(x, x) == {"l1": 0.0, "psnr": float("inf"), "ssim": pytest.approx(1.0)}
    assert cycle_metrics(x[:2], x[:2])["ssim"] is None  # no window fits a 2-pixel side


def test_csv_metrics_equal_a_reference_on_saved_reconstructions(tmp_path: Path, random_model: Path) -> None:
    src = build_tree(tmp_path / "in")
    out = tmp_path / "out"
    args = ("--model", random_model, "--save-reconstruction", "--format", "png", "--precision", "fp32", "-q")
    assert cli("translate", src, out, *args, "--batch-size", "3") == 0  # png: reconstructions saved losslessly
    rows = read_csv(out)
    checked = 0
    for rel in TREE:
        # the colour (RGBA's own, not over white); the reconstruction carries the input's alpha too
        x, rec = load_rgb_alpha(src / rel)[0], load_rgb_alpha(out / "reconstructed" / Path(rel).with_suffix(".png"))[0]
        if min(x.shape[:2]) < 3:  # no SSIM window fits
            continue
        l1, psnr, ssim = reference_metrics(x, rec)
        row = rows[rel]
        assert (float(row["l1"]), float(row["psnr"]), float(row["ssim"])) == pytest.approx((l1, psnr, ssim), rel=1e-4)
        checked += 1
    assert checked == 7
    assert load_rgb(out / "a.png").std() > 5  # a model whose output depends on its input, so the check means something


# ------------------------------------------------------------------ tiling


def test_tiled_result_is_close_to_untiled(random_model: Path) -> None:
    from cyclegan_batch.models.modelfile import load_generators

    model: Generators = load_generators(random_model)
    frames = np.stack([smooth(150, 190, 7), smooth(150, 190, 8)])
    whole = Translator(model, device="cpu", precision="fp32", tile=0).translate(frames)
    assert whole.outputs.std() > 10

    def mean_diff(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a.astype(int) - b.astype(int)).mean())

    # Tiles normalized by their own statistics would be off by ~20 levels on average here. With the
    # whole frame's statistics (it fits memory), only the tile borders differ, and the blend hides them.
    tiled = Translator(model, device="cpu", precision="fp32", tile=128)
    assert tiled.tile_side(150, 190) == 128
    result = tiled.translate(frames)
    assert mean_diff(result.outputs, whole.outputs) < 2 and mean_diff(result.reconstructions, whole.reconstructions) < 5
    diff = np.abs(result.outputs.astype(int) - whole.outputs.astype(int))
    assert np.percentile(diff, 99) < 16

    # A frame over the memory budget is tiled on its own, normalized by a downscaled view's statistics.
    auto = Translator(model, device="cpu", precision="fp32", memory_budget=tiled.pass_bytes(140 * 140))
    assert auto.tile_side(150, 190) > 0 and auto.tile_side(140, 140) == 0
    assert mean_diff(auto.translate(frames).outputs, whole.outputs) < 10


def test_cli_tile_option(tmp_path: Path, random_model: Path) -> None:
    src = tmp_path / "big.png"
    Image.fromarray(smooth(150, 190, 9)).save(src)
    base = ("--model", random_model, "--precision", "fp32", "--no-cycle", "-q")
    assert cli("translate", src, tmp_path / "whole", *base, "--tile", "off") == 0
    assert cli("translate", src, tmp_path / "tiled", *base, "--tile", "128") == 0
    whole, tiled = load_rgb(tmp_path / "whole/big.png"), load_rgb(tmp_path / "tiled/big.png")
    assert tiled.shape == whole.shape and np.abs(tiled.astype(int) - whole.astype(int)).mean() < 2
    assert cli("translate", src, tmp_path / "bad", *base, "--tile", "huge") == 2


def test_auto_batch_size_follows_a_pixel_budget_on_cpu(tmp_path: Path, random_model: Path) -> None:
    translator = Translator.from_file(random_model, device="cpu", cycle=False)
    assert translator.batch_size_for(180, 320) == 1  # big frames: one per call stays in cache
    assert translator.batch_size_for(128, 128) == 6
    assert translator.batch_size_for(16, 16) == 8  # capped
    assert translator.batch_size_for(180, 320, 3) == 3  # a number given is kept
    with pytest.raises(ValueError):
        translator.batch_size_for(180, 320, 0)
    # On a GPU, auto sends 8 unless fewer fit the memory budget.
    budget = translator.pass_bytes(4 * 320 * 180)
    gpu = Translator.from_file(random_model, device="cpu", cycle=False, memory_budget=budget)
    gpu.device = torch.device("cuda")
    assert gpu.batch_size_for(180, 320) == 4 and gpu.batch_size_for(32, 32) == 8
    src = tmp_path / "one.png"
    Image.fromarray(smooth(40, 40, 3)).save(src)
    for bad in ("0", "many"):
        assert cli("translate", src, tmp_path / "out", "--model", random_model, "--batch-size", bad, "-q") == 2


def test_model_calls_share_the_threads_and_a_big_image_runs_alone(tmp_path: Path, random_model: Path) -> None:
    """Two calls at once on a CPU, each with half the threads; an image whose two passes would not fit the
    memory budget runs alone with all of them; the outputs are those of one call at a time."""
    from cyclegan_batch.translate.image_pipeline import ImageJob, PipelineSettings, PipelineStats, translate_images

    translator = Translator.from_file(random_model, device="cpu", precision="fp32", cycle=False)
    translator.memory_budget = translator.pass_bytes(150 * 190) * 3 // 2  # one big pass fits, two do not
    sizes = [(40, 48)] * 5 + [(150, 190)] + [(40, 48)] * 2
    jobs = []
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(smooth(h, w, i)).save(tmp_path / f"{i}.png")
        jobs.append(ImageJob(tmp_path / f"{i}.png", tmp_path / "out" / f"{i}.png"))
    original, seen = translator.translate, []

    def spy(frames: np.ndarray):
        seen.append((frames.shape[1:3], torch.get_num_threads()))
        return original(frames)

    translator.translate = spy  # type: ignore[method-assign]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        stats = PipelineStats()
        results = list(translate_images(translator, jobs, PipelineSettings(batch_size=1), stats))
        assert torch.get_num_threads() == 2  # given back
    finally:
        torch.set_num_threads(before)
    assert all(r.error is None for r in results) and stats.images == len(sizes) and stats.model_s > 0
    assert sorted(seen) == sorted([((40, 48), 1)] * 7 + [((150, 190), 2)])
    for i, (h, w) in enumerate(sizes):
        alone = original(smooth(h, w, i)[None]).outputs[0].astype(int)
        assert np.abs(load_rgb(tmp_path / "out" / f"{i}.png").astype(int) - alone).max() <= 1


# ------------------------------------------------------------------ reruns, kills


def mtimes(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}


def test_rerun_skips_up_to_date_outputs_and_redoes_stale_ones(tmp_path: Path, random_model: Path) -> None:
    src = build_tree(tmp_path / "in")
    model = Path(tmp_path / "model.safetensors")
    model.write_bytes(random_model.read_bytes())
    out = tmp_path / "out"
    args = ("--model", model, "--precision", "fp32", "-q")
    assert cli("translate", src, out, *args) == 0
    first, rows = mtimes(out), read_csv(out)
    assert cli("translate", src, out, *args) == 0
    second = mtimes(out)
    assert {k: v for k, v in second.items() if k != "cycle.csv"} == {k: v for k, v in first.items() if k != "cycle.csv"}
    assert read_csv(out) == rows

    future = time.time() + 5
    os.utime(src / "a.png", (future, future))  # an edited input is redone, nothing else
    assert cli("translate", src, out, *args) == 0
    redone = {k for k, v in mtimes(out).items() if v != second[k]}
    assert redone == {"a.png", "cycle.csv"}

    os.utime(model, (future + 5, future + 5))  # a retrained model redoes everything
    assert cli("translate", src, out, *args) == 0
    third = mtimes(out)
    assert cli("translate", src, out, *args, "--overwrite") == 0
    assert all(v != third[k] for k, v in mtimes(out).items() if k != "run.json")  # run.json: same settings
    assert read_csv(out) == rows  # same model weights: same numbers


def test_sigkill_mid_run_then_rerun_gives_the_complete_set(tmp_path: Path, random_model: Path) -> None:
    src = tmp_path / "in"
    for i in range(24):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(smooth(96, 96, i)).save(src / f"d{i % 3}" / f"{i:02d}.png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cyclegan_batch", "translate", str(src), str(out), "--model", str(random_model)]
    cmd += ["--batch-size", "1", "--workers", "1", "--precision", "fp32", "-q"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / ".cycle.journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if journal.is_file() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "cycle.csv").exists(), "the run finished before it could be killed"
    done_before = len(journal.read_text().splitlines())
    assert 3 <= done_before < 24

    rerun = subprocess.run(cmd[:-1], env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipping {done_before} images" in rerun.stderr or f"skipping {done_before - 1} images" in rerun.stderr
    expected = {f"d{i % 3}/{i:02d}.png" for i in range(24)}
    assert files_under(out) == expected | {"cycle.csv", "run.json"}  # no temporaries, no journal
    rows = read_csv(out)
    assert set(rows) == expected and all(r["status"] == "ok" and r["l1"] for r in rows.values())
    for rel in expected:
        assert load_rgb(out / rel).shape == (96, 96, 3)


# ------------------------------------------------------------------ broken inputs, broken models


def test_broken_inputs_are_recorded_and_the_batch_goes_on(tmp_path: Path, random_model: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth(20, 20, 0)).save(src / "good.png")
    Image.fromarray(smooth(64, 64, 1)).save(src / "big.png")
    (src / "empty.png").write_bytes(b"")
    (src / "text.jpg").write_text("not a picture")
    good = (src / "good.png").read_bytes()
    Image.fromarray(smooth(40, 40, 2)).save(src / "truncated.png")
    (src / "truncated.png").write_bytes((src / "truncated.png").read_bytes()[:200])
    (src / "clip.mp4").write_bytes(b"\x00" * 64)
    out = tmp_path / "out"
    assert cli("translate", src, out, "--model", random_model, "--max-pixels", "2000", "-q") == 3
    rows = read_csv(out)
    assert rows["good.png"]["status"] == "ok" and (out / "good.png").is_file()
    reasons = {rel: row["reason"] for rel, row in rows.items() if row["status"] == "failed"}
    assert set(reasons) == {"big.png", "empty.png", "text.jpg", "truncated.png", "clip.mp4"}
    assert "over the limit" in reasons["big.png"] and "empty" in reasons["empty.png"]
    assert "not an image" in reasons["text.jpg"] and "truncated" in reasons["truncated.png"]
    assert reasons["clip.mp4"].startswith("not a file ffmpeg can read")  # 64 zero bytes: video.py says why
    assert files_under(out) == {"good.png", "cycle.csv", "run.json"}
    assert (src / "good.png").read_bytes() == good

    capsys.readouterr()
    assert cli("translate", src, tmp_path / "strict", "--model", random_model, "--strict", "-q") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cyclegan-batch: error: ") and "--strict" in err[-1]


def broken_models(tmp_path: Path, good: Path) -> dict[str, Path]:
    from safetensors.torch import load_file

    cases = {"missing": tmp_path / "nope.safetensors"}
    cases["not safetensors"] = tmp_path / "text.safetensors"
    cases["not safetensors"].write_text("hello, I am a text file\n" * 10)
    data = good.read_bytes()
    cases["truncated"] = tmp_path / "truncated.safetensors"
    cases["truncated"].write_bytes(data[: len(data) // 2])
    tensors = load_file(good)
    cases["wrong architecture"] = tmp_path / "wrong.safetensors"
    info = ModelInfo(GeneratorSpec(ngf=16, n_blocks=2), domains=("photo", "painting"))
    save_file(tensors, cases["wrong architecture"], metadata=info.to_metadata(torch.float32))  # header says ngf=16
    cases["foreign safetensors"] = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(3)}, cases["foreign safetensors"])
    cases["pickle"] = tmp_path / "model.pt"
    torch.save({"a": torch.zeros(2)}, cases["pickle"])
    return cases


def test_broken_model_files_give_one_line_errors(tmp_path: Path, random_model: Path, capsys) -> None:
    src = tmp_path / "one.png"
    Image.fromarray(smooth(16, 16, 0)).save(src)
    for case, model in broken_models(tmp_path, random_model).items():
        capsys.readouterr()
        assert cli("translate", src, tmp_path / "out", "--model", model, "-q") == 1, case
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("cyclegan-batch: error: "), (case, err)
        assert str(model) in err and "Traceback" not in err, (case, err)
    assert not (tmp_path / "out" / "one.png").exists()


def test_user_mistakes_are_one_line_errors(tmp_path: Path, random_model: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth(16, 16, 0)).save(src / "a.png")
    cases = {
        ("translate", tmp_path / "nowhere", tmp_path / "out"): (1, "does not exist"),
        ("translate", src, src): (2, "OUT is IN"),
        ("translate", tmp_path / "empty", tmp_path / "out"): (1, "no images or videos"),
    }
    if not torch.cuda.is_available():
        cases[("translate", src, tmp_path / "out", "--precision", "fp16")] = (2, "fp16 needs a CUDA device")
        cases[("translate", src, tmp_path / "out", "--device", "cuda")] = (2, "no CUDA device")
    (tmp_path / "empty").mkdir()
    for args, (code, message) in cases.items():
        capsys.readouterr()
        assert cli(*args, "--model", random_model) == code, args
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, (args, err)


def test_default_model_is_the_experiment_then_the_bundled_demo(tmp_path: Path, random_model: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    bundled = runfolder.bundled_model()
    if bundled is not None:
        assert default_model() == bundled
    else:
        with pytest.raises(UserError, match="--model"):
            default_model()
    experiment = tmp_path / runfolder.EXPERIMENT_MODEL
    experiment.parent.mkdir(parents=True)
    experiment.write_bytes(random_model.read_bytes())
    assert default_model() == runfolder.EXPERIMENT_MODEL
    src = tmp_path / "x.png"
    Image.fromarray(smooth(16, 16, 0)).save(src)
    assert cli("translate", src, "out", "-q") == 0 and (tmp_path / "out/x.png").is_file()


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["translate", "--help"])
    assert result.exit_code == 0 and "Example: cyclegan-batch translate" in result.output


def test_journal_lines_are_json_rows(tmp_path: Path) -> None:
    table = CycleTable(tmp_path)
    table.record({"input": "a.png", "status": "ok"})
    with table.journal.path.open("a") as f:
        f.write('{"input": "b.png", "sta')  # what a kill mid-write leaves
    assert set(CycleTable(tmp_path).previous) == {"a.png"}
    assert json.loads(table.journal.path.read_text().splitlines()[0])["input"] == "a.png"
