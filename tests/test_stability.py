"""The single-frame regularizer (train/stability.py): its transform, its loss, and how a run carries it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from conftest import run_cli
from safetensors.torch import load_file

from cyclegan_batch.models.modelfile import STABILITY_KEY, read_info
from cyclegan_batch.report.read import read_model
from cyclegan_batch.runfolder import MODEL_FILE
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.loop import Trainer
from cyclegan_batch.train.stability import MotionDraws, move, stability_loss
from cyclegan_batch.train.step import CycleGANStep

STILL = ["stability_weight=1", "stability_rotate=0", "stability_zoom=0", "stability_noise=0"]


def tiny_trainer(data: Path, model_dir: Path, settings: list[str], **overrides) -> Trainer:
    cfg = build_config("tiny", overrides, settings)
    return Trainer(data, model_dir, cfg, device="cpu", precision="fp32", workers=0, progress=False)


def test_a_whole_pixel_shift_moves_the_image_and_costs_an_identity_nothing() -> None:
    x = torch.rand(1, 3, 16, 20) * 2 - 1
    theta = torch.tensor([[[1.0, 0.0, 2 * 1 / 20], [0.0, 1.0, 2 * 2 / 16]]])  # input = output + (1, 2) px
    assert torch.allclose(move(x, theta)[..., :-2, :-1], x[..., 2:, 1:], atol=1e-5)
    motion = MotionDraws(build_config("tiny", settings=STILL), seed=0).draw(x)
    assert not torch.allclose(motion.apply(x), x, atol=1e-3)  # it did move
    assert stability_loss(motion.apply(x), x, motion) == 0  # G = identity commutes with any motion


def test_the_blur_softens_both_sides_alike_and_leaves_the_papers_draws_as_they_were() -> None:
    x = torch.rand(4, 3, 24, 24) * 2 - 1
    plain = MotionDraws(build_config("tiny", settings=STILL), seed=0).draw(x)
    blurred = MotionDraws(build_config("tiny", settings=[*STILL, "stability_blur=1.5"]), seed=0).draw(x)
    assert torch.equal(plain.theta, blurred.theta) and torch.equal(plain.noise, blurred.noise)  # drawn after them
    assert plain.blur is None and blurred.blur is not None and 0 <= blurred.blur.min() <= blurred.blur.max() <= 1.5
    assert stability_loss(blurred.apply(x), x, blurred) == 0  # the identity commutes with T's blur too
    soft = blurred.transform(x)
    assert soft.std() < plain.transform(x).std()  # a blur lowers the noise's variance
    assert torch.allclose(soft.mean((1, 2, 3)), plain.transform(x).mean((1, 2, 3)), atol=0.02)  # and keeps its mean
    flat = torch.full_like(x, 0.3)
    assert torch.allclose(blurred.transform(flat), flat, atol=1e-5)  # the kernels sum to one, the border reflected


def test_the_draws_stay_in_their_ranges() -> None:
    x = torch.zeros(64, 3, 32, 32)
    motion = MotionDraws(build_config("tiny", settings=["stability_weight=1"]), seed=1).draw(x)
    shift_px = motion.theta[:, :, 2] * 16
    assert shift_px.abs().max() <= 2.0 and shift_px.abs().max() > 1.5
    scale = motion.theta[:, :, :2].det().sqrt()  # 1 / zoom, up to the shear's cos
    assert (scale > 1 / 1.031).all() and (scale < 1 / 0.969).all()
    std = motion.noise.std(dim=(1, 2, 3)) / 2  # on the [0, 1] scale
    assert std.min() > 0.009 and std.max() < 0.052


def test_the_papers_random_stream_is_untouched(tiny_domains: Path, tmp_path: Path) -> None:
    off = tiny_trainer(tiny_domains, tmp_path / "off", [])
    on = tiny_trainer(tiny_domains, tmp_path / "on", ["stability_weight=1"])
    assert off.step.motions is None
    a, b = off.fixed_samples
    for trainer in (off, on):
        state = torch.random.get_rng_state()
        terms = trainer.step.train_step(a, b)
        assert torch.equal(torch.random.get_rng_state(), state)  # the motions come from their own generator
        assert ("stab_A" in terms) == (trainer is on)


def test_a_regularized_run_logs_records_and_resumes_exactly(tiny_domains: Path, tmp_path: Path) -> None:
    settings = ["stability_weight=2", "stability_shift=1.5", "stability_every=4"]  # on steps 1, 5, 9
    tiny_trainer(tiny_domains, tmp_path / "straight", settings, epochs=2, log_every=3).fit()
    tiny_trainer(tiny_domains, tmp_path / "split", settings, epochs=1, log_every=3).fit()
    tiny_trainer(tiny_domains, tmp_path / "split", settings, epochs=2, log_every=3).fit()
    a, b = load_file(tmp_path / "straight" / MODEL_FILE), load_file(tmp_path / "split" / MODEL_FILE)
    assert all(torch.equal(a[k], b[k]) for k in a)  # the motion draws and their step count resume where they stopped

    rows = list(csv.DictReader((tmp_path / "straight" / "losses.csv").open()))
    stab = [(float(r["stab_A"]), float(r["stab_B"])) for r in rows]  # rows for steps 1-3, 4-6, 7-9, 10-12
    assert all(a > 0 and b > 0 for a, b in stab[:3]) and stab[3] == (0, 0)  # the mean over the steps that had it
    recorded = json.loads(read_info(tmp_path / "straight" / MODEL_FILE).extra[STABILITY_KEY])
    assert recorded == {"weight": 2.0, "shift_px": 1.5, "rotate_deg": 1.0, "zoom": 0.03, "noise": 0.05, "every": 4}
    assert read_model(tmp_path, tmp_path / "straight" / MODEL_FILE).info["stability"] == recorded
    assert '"weight": 2.0' in run_cli("info", tmp_path / "straight" / MODEL_FILE).stdout

    tiny_trainer(tiny_domains, tmp_path / "plain", []).fit()
    assert STABILITY_KEY not in read_info(tmp_path / "plain" / MODEL_FILE).extra
    assert read_model(tmp_path, tmp_path / "plain" / MODEL_FILE).info["stability"] == "off"


def test_the_regularizer_makes_the_generator_commute_with_motion(tiny_domains: Path, tmp_path: Path) -> None:
    """Same steps, same images: with the regularizer G(T(a)) ends closer to T(G(a)) than without it."""

    def sensitivity(weight: float) -> float:
        cfg = build_config("tiny", {"lr": 1e-3}, [f"stability_weight={weight}"])
        step = CycleGANStep(cfg, torch.device("cpu"), "fp32", torch.contiguous_format)
        a = torch.rand(4, 3, 32, 32) * 2 - 1
        b = torch.rand(4, 3, 32, 32) * 2 - 1
        for _ in range(40):
            step.train_step(a[:1], b[:1])
        motion = MotionDraws(build_config("tiny", settings=STILL), seed=5).draw(a)
        g = step.nets.a_to_b.eval()
        with torch.no_grad():
            return float(stability_loss(g(motion.apply(a)), g(a), motion))

    assert sensitivity(100.0) < 0.5 * sensitivity(0.0)


BAD_SETTINGS = ["stability_weight=-1", "stability_zoom=1", "stability_blur=-1", "stability_blur=6"]  # 6: tiny's 32 px


@pytest.mark.parametrize("setting", BAD_SETTINGS)
def test_bad_settings_name_the_key(setting: str) -> None:
    with pytest.raises(Exception, match=setting.split("=")[0]):
        build_config("tiny", settings=[setting])
