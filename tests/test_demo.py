"""The embedded demo: deterministic domains and videos, the bundled model, its score and fine-tuning from it,
and the demo learnt from scratch by the grade preset."""

from __future__ import annotations

import hashlib
import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from cyclegan_batch.demo import VIDEOS, golden_hour, realism_scores
from cyclegan_batch.media import ffmpeg
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.media.probe import probe
from cyclegan_batch.models.modelfile import read_info
from cyclegan_batch.realism import weights
from cyclegan_batch.runfolder import MODEL_FILE, bundled_model
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.png"))
    }


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    run_cli("demo", out, "--quiet")  # the default demo: its held-out crops are the ones docs/demo.md scores
    return out


def test_demo_domains_are_unpaired_and_deterministic(demo_dir: Path, tmp_path: Path) -> None:
    counts = {d: len(list((demo_dir / d).glob("*.png"))) for d in ("A", "B", "heldout/A", "heldout/B_true")}
    assert counts == {"A": 240, "B": 240, "heldout/A": 48, "heldout/B_true": 48}
    # determinism at a small size (the same code path): a seed gives the same files, another seed others
    small = ("--count", "12", "--heldout", "4", "--no-videos", "--quiet")
    run_cli("demo", tmp_path / "one", *small)
    run_cli("demo", tmp_path / "again", *small)
    run_cli("demo", tmp_path / "other", *small, "--seed", "1")
    assert len(digest(tmp_path / "one")) == 2 * 12 + 2 * 4
    assert digest(tmp_path / "again") == digest(tmp_path / "one") != digest(tmp_path / "other")
    # B is the style applied to *other* crops: no B image is the style of an A image.
    styled_a = {golden_hour(load_rgb(p)).tobytes() for p in (demo_dir / "A").glob("*.png")}
    assert not styled_a & {load_rgb(p).tobytes() for p in (demo_dir / "B").glob("*.png")}
    # held-out pairs are exact: B_true = style(A)
    pair = sorted((demo_dir / "heldout/A").glob("*.png"))[0]
    assert np.array_equal(golden_hour(load_rgb(pair)), load_rgb(demo_dir / "heldout/B_true" / pair.name))


def test_demo_videos_have_their_rates_sizes_and_audio(demo_dir: Path) -> None:
    for video in VIDEOS:
        info = probe(demo_dir / "videos" / f"{video.name}.mp4")
        assert (info.width, info.height, info.fps) == (video.width, video.height, Fraction(video.fps))
        assert abs(info.duration_s - video.seconds) < 1.5 / float(info.fps)
        assert bool(info.audio) == video.audio


def test_bundled_model_is_the_demo_preset_and_beats_doing_nothing(demo_dir: Path) -> None:
    model = bundled_model()
    assert model is not None and model.stat().st_size < 10_000_000
    info = read_info(model)
    demo = build_config("demo")
    assert info.spec == demo.generator
    scores = json.loads(run_cli("demo-score", demo_dir / "heldout", "--json", "--no-kid", "--quiet").stdout)
    assert scores["images"] == 48
    assert scores["gain_db"] >= 5.6, scores  # the shipped model's recorded gains (+5.92 dB here) are in docs/demo.md


def test_demo_score_against_another_model_gives_the_crop_by_crop_difference(demo_dir: Path, grade_model: Path) -> None:
    def score(*args: object) -> dict:
        return json.loads(run_cli("demo-score", demo_dir / "heldout", "--json", "--no-kid", "--quiet", *args).stdout)

    paired, grade = score("--against", grade_model), score("--model", grade_model)
    assert paired["against"] == str(grade_model)
    # the mean of the crops' differences is the difference of the means (each rounded to 1e-3 dB)
    assert paired["paired_diff_db"] == pytest.approx(paired["psnr_model"] - grade["psnr_model"], abs=2e-3)
    assert 0 < paired["paired_diff_stderr_db"] < 1  # 0.36 dB here: the crops share their difficulty
    assert 0 < paired["paired_worse_share"] < 1, paired  # neither model wins every crop


@pytest.fixture(scope="module")
def grade_model(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo learnt by the `grade` preset (the demo workflow's, config/demo.yaml), its 300 steps. One torch
    thread: beside the other pytest worker's jobs, two threads on two cores wait on each other (OpenMP's spin
    barriers) and took 6 minutes instead of one."""
    model_dir = tmp_path_factory.mktemp("grade")
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_cli(
        "train",
        demo_dir,
        model_dir,
        "--preset",
        "grade",
        "--load-size",
        "36",  # as config/demo.yaml sets it for its 300 steps
        "--max-steps",
        "300",
        "--minutes",
        "0",
        "--quiet",
        env=one_thread,
    )
    return model_dir / MODEL_FILE


@pytest.mark.skipif(not weights.available(), reason="needs the [metrics] extra")
def test_grade_model_of_the_demo_looks_more_like_golden_hour_than_the_photos(demo_dir: Path, grade_model: Path) -> None:
    """The demo's claim (issue 32): KID x100 of G(held-out photos) against the 240 real golden-hour images of B
    below that of the photos themselves by at least 2 std of their difference (both on the same KID subsets),
    for the demo learnt by the `grade` preset. docs/demo.md has the workflow's figures, and the bundled ResNet
    model's (its soft texture costs more realism than its grade gains)."""
    one_thread = {**os.environ, "OMP_NUM_THREADS": "1"}  # as the grade_model fixture's training, for the same reason
    scores = run_cli("demo-score", demo_dir / "heldout", "--model", grade_model, "--json", "--quiet", env=one_thread)
    scores = json.loads(scores.stdout)
    assert scores["kid_reference_images"] == 240
    assert scores["kid_x100_identity"] == pytest.approx(0.864, abs=0.01)  # docs/demo.md: 48 crops, doing nothing 0.86
    assert scores["gain_db"] >= 3.0, scores
    assert scores["kid_x100_diff"] == pytest.approx(scores["kid_x100_model"] - scores["kid_x100_identity"], abs=2e-4)
    assert scores["kid_claim_holds"] and -scores["kid_x100_diff"] >= 2 * scores["kid_x100_diff_std"], scores


def test_ffmpeg_lut3d_with_the_exported_cube_gives_what_translate_gives(
    demo_dir: Path, grade_model: Path, tmp_path: Path
) -> None:
    """`export MODEL look.cube`, then `ffmpeg -i in.png -vf lut3d=look.cube out.png` as a user runs it: within
    2 grey levels of `translate` at the 99.9th percentile, on the demo's held-out photos (issue 31)."""
    cube = tmp_path / "look.cube"
    run_cli("export", grade_model, cube)
    text = cube.read_text()
    assert "LUT_3D_SIZE 33\n" in text and "full-range RGB" in text and "sRGB-encoded" in text
    photos = demo_dir / "heldout" / "A"
    run_cli("translate", photos, tmp_path / "translated", "--model", grade_model, "--no-cycle", "--quiet")
    differences, changes = [], []
    for path in sorted(photos.glob("*.png")):
        out = tmp_path / "lut3d" / path.name
        out.parent.mkdir(exist_ok=True)
        result = ffmpeg.run(["-i", ffmpeg.file_arg(path), "-vf", f"lut3d=file={cube}", ffmpeg.file_arg(out)], text=True)
        assert result.returncode == 0, result.stderr
        translated = load_rgb(tmp_path / "translated" / path.name).astype(int)
        differences.append(np.abs(load_rgb(out).astype(int) - translated).ravel())
        changes.append(np.abs(translated - load_rgb(path)).mean())
    assert len(changes) == 48 and np.mean(changes) > 10  # the grade moved the colours: something to reproduce
    assert np.percentile(np.concatenate(differences), 99.9) <= 2


def test_fine_tuning_starts_from_the_bundled_weights(demo_dir: Path, tmp_path: Path) -> None:
    def first_cycle_loss(init_from: Path | None, model_dir: Path) -> float:
        trainer = Trainer(
            demo_dir,
            model_dir,
            build_config("demo"),
            device="cpu",
            precision="fp32",
            workers=0,
            progress=False,
            init_from=init_from,
        )
        a, b = trainer.fixed_samples
        terms = trainer.step.train_step(a.cpu(), b.cpu())
        return float(terms["cycle_A"] + terms["cycle_B"])

    warm = first_cycle_loss(bundled_model(), tmp_path / "warm")
    fresh = first_cycle_loss(None, tmp_path / "fresh")
    assert warm < 0.5 * fresh, (warm, fresh)


def test_translate_without_model_uses_the_bundled_one_and_says_so(demo_dir: Path, tmp_path: Path) -> None:
    result = run_cli("translate", demo_dir / "heldout" / "A" / "0000.png", tmp_path / "out", "--no-cycle", cwd=tmp_path)
    assert "demo.safetensors" in result.stderr
    assert load_rgb(tmp_path / "out" / "0000.png").shape == load_rgb(demo_dir / "heldout" / "A" / "0000.png").shape


def test_too_few_heldout_crops_for_kid_get_a_note_not_an_error(tmp_path: Path) -> None:
    """`demo OUT --heldout 2`, then `demo-score`: KID needs 2 images a side and FID 3 (it raised a TypeError)."""
    crops = [np.zeros((8, 8, 3), np.uint8)] * 2
    scores = realism_scores(crops, [tmp_path / "a.png"] * 2, tmp_path, device="cpu")
    assert scores == {"kid_note": "no KID or FID: 2 held-out crops; they need at least 3"}
