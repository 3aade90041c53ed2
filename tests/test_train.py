"""The trainer: the paper's schedule and pool, exact resume, crash safety, learning, and clear errors."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, smooth_images, write_images
from PIL import Image
from safetensors.torch import load_file

from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import load_generators, read_info
from cyclegan_batch.runfolder import BEST_MODEL_FILE, CHECKPOINT_FILE, MODEL_FILE
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer
from cyclegan_batch.train.outputs import LOSS_COLUMNS
from cyclegan_batch.train.step import ImagePool
from cyclegan_batch.util.atomic import temp_path_for


def tiny_trainer(data: Path, model_dir: Path, **overrides) -> Trainer:
    cfg = build_config("tiny", overrides)
    return Trainer(data, model_dir, cfg, device="cpu", precision="fp32", workers=0, progress=False)


def test_lr_schedule_is_constant_then_linear_to_zero() -> None:
    cfg = build_config("paper")
    factors = [cfg.lr_factor(e) for e in range(cfg.total_epochs())]
    assert factors[: cfg.epochs] == [1.0] * cfg.epochs
    decay = np.array(factors[cfg.epochs :])
    assert np.allclose(np.diff(decay), -1 / (cfg.decay_epochs + 1))
    assert 0 < decay[-1] < 0.011


def test_image_pool_fills_then_returns_history_half_the_time() -> None:
    pool = ImagePool(size=4, seed=0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: fakes pass through
    sent = torch.arange(100.0, 500.0).view(400, 1, 1, 1)
    returned = torch.cat([pool.query(x[None]) for x in sent])
    from_history = (returned != sent).float().mean().item()
    assert 0.4 < from_history < 0.6


def test_paper_defaults() -> None:
    cfg = build_config("paper")
    assert (cfg.lr, cfg.beta1, cfg.beta2, cfg.lambda_cycle, cfg.lambda_identity, cfg.pool_size) == (
        2e-4,
        0.5,
        0.999,
        10.0,
        0.5,
        50,
    )
    assert (cfg.generator.ngf, cfg.ndf, cfg.generator.n_blocks, cfg.load_size, cfg.crop_size, cfg.batch_size) == (
        64,
        64,
        9,
        286,
        256,
        1,
    )
    assert (cfg.epochs, cfg.decay_epochs, cfg.init_gain) == (100, 100, 0.02)


def test_outputs_and_model_file_rebuild_the_generators(tiny_domains: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    trainer = tiny_trainer(tiny_domains, model_dir, epochs=2, sample_every=6, log_every=3)
    trainer.fit()
    rows = list(csv.DictReader((model_dir / "losses.csv").open()))
    assert tuple(rows[0]) == LOSS_COLUMNS
    assert [int(r["step"]) for r in rows] == [3, 6, 9, 12]
    assert all(math.isfinite(float(r[k])) for r in rows for k in LOSS_COLUMNS)
    assert sorted(p.name for p in (model_dir / "samples").glob("*.png"))[:2] == ["step_0000006.png", "step_0000012.png"]
    grid = Image.open(model_dir / "samples" / "step_0000012.png")
    assert grid.size == (3 * 32, 2 * 3 * 32)  # real | fake | rec, three samples per domain
    info = read_info(model_dir / MODEL_FILE)
    assert (info.spec.ngf, info.spec.n_blocks, info.crop_size, info.step, info.epoch) == (8, 2, 32, 12, 2)
    umask = os.umask(0)
    os.umask(umask)
    assert (model_dir / MODEL_FILE).stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any output
    loaded = load_generators(model_dir / MODEL_FILE)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    trainer.step.nets.a_to_b.eval()
    assert torch.allclose(loaded.a_to_b(x), trainer.step.nets.a_to_b(x), atol=1e-6)
    # eval_every asked (the preset's 1000) but no val split to score: best.safetensors is the last step, saying why
    best = read_info(model_dir / BEST_MODEL_FILE)
    assert best.step == 12 and best.extra["best_step"] == "12" and "kid_x100_mean" not in best.extra
    assert best.extra["best_basis"].startswith("the last step: no val split in ")
    assert torch.equal(load_generators(model_dir / BEST_MODEL_FILE).a_to_b(x), loaded.a_to_b(x))
    # the same command again: nothing left to train, and the stand-in is still there for `translate --model best`
    tiny_trainer(tiny_domains, model_dir, epochs=2, sample_every=6, log_every=3).fit()
    assert read_info(model_dir / BEST_MODEL_FILE).extra["best_step"] == "12"


def test_resume_is_bit_identical(tiny_domains: Path, tmp_path: Path) -> None:
    straight = tmp_path / "straight"
    tiny_trainer(tiny_domains, straight, epochs=2).fit()
    split = tmp_path / "split"
    tiny_trainer(tiny_domains, split, epochs=1).fit()  # stops after epoch 1, checkpointed
    resumed = tiny_trainer(tiny_domains, split, epochs=2)
    assert (resumed.epoch, resumed.global_step) == (1, 6)
    resumed.fit()
    a, b = load_file(straight / MODEL_FILE), load_file(split / MODEL_FILE)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_mid_epoch_after_sigkill(tiny_domains: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    args = [
        "train",
        tiny_domains,
        model_dir,
        "--preset",
        "tiny",
        "--epochs",
        "20",
        "--precision",
        "fp32",
        "--workers",
        "0",
        "--set",
        "checkpoint_every=7",
        "--set",
        "log_every=3",
        "--quiet",
    ]
    proc = subprocess.Popen([sys.executable, "-m", "cyclegan_batch", *map(str, args)])
    checkpoint, model = model_dir / CHECKPOINT_FILE, model_dir / MODEL_FILE
    deadline = time.monotonic() + 120
    # the checkpoint is written first, then the model file: wait for both
    while time.monotonic() < deadline and not (checkpoint.exists() and model.exists() and read_info(model).step >= 14):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # the kill can land between the checkpoint's write and the model's: the resume follows the checkpoint
    killed_at = torch.load(checkpoint, weights_only=True)["global_step"]
    assert killed_at >= 14 and (killed_at % 7 == 0 or killed_at % 6 == 0) and killed_at < 120  # checkpoints

    temp_path_for(model_dir / CHECKPOINT_FILE).write_bytes(b"half a checkpoint")  # as a kill mid-save leaves
    result = run_cli(*args[:-1])
    assert f"resuming at epoch {killed_at // 6 + 1}, step {killed_at}" in result.stderr
    assert read_info(model_dir / MODEL_FILE).step == 120
    assert not list(model_dir.rglob(".*.part*"))  # no half-written files left behind
    logged = [int(row["step"]) for row in csv.DictReader((model_dir / "losses.csv").open())]
    assert logged == sorted(set(logged))  # steps logged before the kill but after its checkpoint: not twice


def test_it_learns_a_colour_mapping(tmp_path: Path) -> None:
    """Unpaired smooth images and a known colour transform T: G(a) must get >= 3 dB closer to T(a) than a."""

    def transform(img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float32) / 255
        mixed = x @ np.array([[0.3, 0.6, 0.1], [0.2, 0.3, 0.5], [0.7, 0.1, 0.2]], dtype=np.float32).T
        return (np.clip(mixed**0.8 * 1.1, 0, 1) * 255).round().astype(np.uint8)

    data = tmp_path / "data"
    write_images(data / "A", smooth_images(64, 40, seed=3))
    write_images(data / "B", [transform(i) for i in smooth_images(64, 40, seed=4)])
    held_out = smooth_images(16, 40, seed=5)
    model_dir = tmp_path / "model"
    run_cli(
        "train",
        data,
        model_dir,
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--decay-epochs",
        "1",
        "--workers",
        "0",
        "--quiet",
    )

    translator = Translator.from_file(model_dir / MODEL_FILE, precision="fp32", cycle=False)
    fake = translator.translate(np.stack(held_out)).outputs
    truth = np.stack([transform(i) for i in held_out])

    def psnr(x: np.ndarray, y: np.ndarray) -> float:
        return 10 * math.log10(255**2 / np.mean((x.astype(float) - y) ** 2))

    gain = psnr(fake, truth) - psnr(np.stack(held_out), truth)
    assert gain >= 3.0, f"PSNR gain over doing nothing: {gain:.2f} dB"


def test_non_finite_loss_stops_and_keeps_the_checkpoint(tiny_domains: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    tiny_trainer(tiny_domains, model_dir, epochs=1).fit()
    before = (model_dir / CHECKPOINT_FILE).read_bytes()
    result = run_cli(
        "train",
        tiny_domains,
        model_dir,
        "--preset",
        "tiny",
        "--epochs",
        "2",
        "--set",
        "lambda_cycle=nan",
        "--quiet",
        check=False,
    )
    assert result.returncode == 1
    assert "non-finite loss at step 7" in result.stderr and "Traceback" not in result.stderr
    assert (model_dir / CHECKPOINT_FILE).read_bytes() == before


def test_init_from_starts_with_the_given_generators(tiny_domains: Path, tmp_path: Path) -> None:
    source = tmp_path / "source"
    tiny_trainer(tiny_domains, source, epochs=1).fit()
    fresh = tiny_trainer(tiny_domains, tmp_path / "fresh")
    warm = Trainer(
        tiny_domains,
        tmp_path / "warm",
        build_config("tiny"),
        device="cpu",
        precision="fp32",
        workers=0,
        progress=False,
        init_from=source / MODEL_FILE,
    )
    expected = load_generators(source / MODEL_FILE)
    for name in ("a_to_b", "b_to_a"):
        want = getattr(expected, name).state_dict()
        got = getattr(warm.step.nets, name).state_dict()
        assert all(torch.equal(want[k], got[k]) for k in want)
        assert not torch.equal(getattr(fresh.step.nets, name).state_dict()[k := next(iter(want))], want[k])


@pytest.mark.parametrize(
    ("setup", "expected_code", "message"),
    [
        ("empty", 1, "has no image files"),
        ("unreadable", 1, "none readable"),
        ("no_layout", 1, "holds no training folders"),
        ("model_is_file", 1, "is a file"),
        ("crop_too_big", 2, "larger than load_size"),
        ("negative_steps", 2, "decay_epochs=-1 is out of range; max_steps=-1 is out of range"),
    ],
)
def test_bad_input_gets_one_line(tmp_path: Path, setup: str, expected_code: int, message: str) -> None:
    data, model_dir = tmp_path / "data", tmp_path / "model"
    write_images(data / "B", smooth_images(2, 40, seed=0))
    (data / "A").mkdir()
    extra: list[str] = []
    if setup == "unreadable":
        (data / "A" / "fake.png").write_text("not a png")
    elif setup == "no_layout":
        data = tmp_path
    elif setup == "model_is_file":
        write_images(data / "A", smooth_images(2, 40, seed=0))
        model_dir.write_text("")
    elif setup == "crop_too_big":
        extra = ["--crop-size", "64"]
    elif setup == "negative_steps":  # -1 steps once "finished" at once with an untrained model; -1 decay divided by 0
        extra = ["--max-steps", "-1", "--set", "decay_epochs=-1"]
    result = run_cli("train", data, model_dir, "--preset", "tiny", *extra, check=False)
    assert result.returncode == expected_code
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unreadable_files_among_good_ones_are_skipped_with_a_warning(tiny_domains: Path, tmp_path: Path) -> None:
    (tiny_domains / "A" / "truncated.png").write_bytes((tiny_domains / "A" / "000.png").read_bytes()[:60])
    result = run_cli("train", tiny_domains, tmp_path / "model", "--preset", "tiny", "--max-steps", "2")
    assert "skipping" in result.stderr and "truncated.png" in result.stderr
    assert read_info(tmp_path / "model" / MODEL_FILE).step == 2


def test_a_layout_without_val_gets_one_carved_from_train_by_content_hash(tmp_path: Path, caplog) -> None:
    """trainA/testA (the CycleGAN datasets') and an older `prepare`'s A/train + A/test: the share of the training
    images that `prepare` puts in val, by the same content hash, is kept out of training; plain A/B has no val."""
    import hashlib
    import logging

    from cyclegan_batch.runfolder import VAL_FRACTION, split_of
    from cyclegan_batch.train.data import find_splits

    def is_val(path: Path) -> bool:
        return split_of(hashlib.sha256(path.read_bytes()).hexdigest(), 0, 0.0, VAL_FRACTION) == "val"

    for layout, (train, test) in {"official": ("trainA", "testA"), "older": ("A/train", "A/test")}.items():
        data = tmp_path / layout
        for side, seed in (("A", 1), ("B", 2)):
            write_images(data / train.replace("A", side), smooth_images(40, 8, seed))
            write_images(data / test.replace("A", side), smooth_images(2, 8, seed + 10))
        with caplog.at_level(logging.INFO, logger="cyclegan_batch"):
            splits = find_splits(data, carve=True)
        for index, side in enumerate("AB"):
            folder = data / train.replace("A", side)
            expected = [p for p in sorted(folder.glob("*.png")) if is_val(p)]
            assert splits.val[index] == expected and expected, layout
            assert set(splits.train[index]) == set(folder.glob("*.png")) - set(expected)
        assert "carved from the training images" in caplog.text
        assert find_splits(data, carve=False).val == ([], [])  # a run that does not evaluate trains on all
    plain = tmp_path / "plain"
    write_images(plain / "A", smooth_images(4, 8, 1))
    write_images(plain / "B", smooth_images(4, 8, 2))
    assert find_splits(plain, carve=True).val == ([], []) and "no val split" in find_splits(plain, carve=True).origin
