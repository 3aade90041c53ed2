"""Temporal stabilization of translated videos: real ffmpeg, clips made here, the bundled and a tiny model."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from bench.temporal import farneback_errors
from cyclegan_batch.demo import skimage_photo
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.encode import EncodeSettings, FrameWriter
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import rgb_frames
from cyclegan_batch.metrics import psnr
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import ModelInfo, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.translate.verb import default_model
from cyclegan_batch.video.flow import FlowEstimator
from cyclegan_batch.video.frames import CpuFrames, TorchFrames
from cyclegan_batch.video.pipeline import translate_video
from tests.conftest import run_cli
from tests.test_video import ffmpeg

SIZE = (128, 72)


def view(photo: np.ndarray, x0: float, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A window of the photo's left 60 % at horizontal offset `x0` pixels, scaled to `size`."""
    h = photo.shape[0]
    box = (x0, 0.2 * h, x0 + 0.6 * h * size[0] / size[1], 0.8 * h)
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC, box=box))


def write(frames: list[np.ndarray], path: Path, gop: int | None = None) -> Path:
    """H.264 with the real ffmpeg; `gop`: a keyframe exactly every `gop` frames (where `video split` cuts)."""
    raw = path.with_name("raw_" + path.name) if gop else path
    writer = FrameWriter(raw, frames[0].shape[1], frames[0].shape[0], Fraction(25), EncodeSettings())
    for frame in frames:
        writer.write(frame)
    writer.close()
    if gop:
        ffmpeg("-i", raw, "-c:v", "libx264", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", path)
    return path


def decode(path: Path) -> np.ndarray:
    reader = FrameReader(path, probe(path), planes=False)
    try:
        return np.stack(list(rgb_frames(reader)))
    finally:
        reader.close()


def rows(path: Path) -> list[dict[str, str]]:
    with Path(str(path) + ".cycle.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def pngs(folder: Path) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))])


@pytest.fixture(scope="module")
def demo_model() -> Translator:
    return Translator.from_file(default_model(), device="cpu", precision="fp32", cycle=False)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return skimage_photo("chelsea.png")


def test_pan_flicker_is_reduced_by_an_independent_flow(tmp_path: Path, demo_model: Translator, photo) -> None:
    src = write([view(photo, 40 + 3 * i) for i in range(16)], tmp_path / "pan.mp4")
    translate_video(demo_model, src, tmp_path / "plain" / "pan.mp4", frames_dir=tmp_path / "f0")
    translate_video(demo_model, src, tmp_path / "stab" / "pan.mp4", frames_dir=tmp_path / "f1", temporal=0.8)
    inputs, plain, stab = decode(src), pngs(tmp_path / "f0"), pngs(tmp_path / "f1")
    w_in, w_plain = farneback_errors(inputs, plain)
    _, w_stab = farneback_errors(inputs, stab)
    added_plain, added_stab = np.mean(w_plain) - np.mean(w_in), np.mean(w_stab) - np.mean(w_in)
    assert added_plain > 0.001  # the per-frame translation flickers
    assert added_stab < 0.4 * added_plain
    table = rows(tmp_path / "stab" / "pan.mp4")
    fidelity = [float(r["fidelity_psnr"]) for r in table]
    assert math.isinf(fidelity[0]) and 30 < np.mean(fidelity[1:]) < math.inf
    assert all(r["warp_out"] for r in table[1:])


def test_static_scene_stays_as_still_as_its_input(tmp_path: Path, demo_model: Translator, photo) -> None:
    rng = np.random.default_rng(0)
    still = view(photo, 60).astype(np.float32)
    frames = [np.clip(still + rng.normal(0, 3, still.shape) + 0.5, 0, 255).astype(np.uint8) for _ in range(10)]
    src = write(frames, tmp_path / "still.mp4")
    translate_video(demo_model, src, tmp_path / "out.mp4", frames_dir=tmp_path / "f", temporal=0.8)
    w_in, w_out = farneback_errors(decode(src), pngs(tmp_path / "f"))
    assert np.mean(w_out) <= 1.1 * np.mean(w_in)


def test_hard_cut_starts_again_with_no_ghost(tmp_path: Path, demo_model: Translator, photo) -> None:
    other = skimage_photo("rocket.jpg")
    frames = [view(photo, 40 + 3 * i) for i in range(6)] + [view(other, 60 + 3 * i) for i in range(6)]
    src = write(frames, tmp_path / "cut.mp4")
    translate_video(demo_model, src, tmp_path / "plain.mp4", frames_dir=tmp_path / "f0")
    translate_video(demo_model, src, tmp_path / "stab.mp4", frames_dir=tmp_path / "f1", temporal=0.8)
    plain, stab = pngs(tmp_path / "f0"), pngs(tmp_path / "f1")
    assert np.array_equal(stab[6], plain[6])  # the first frame after the cut is the per-frame translation
    # the next frame is stabilized from the new shot only: a ghost of the old shot would bring it near the
    # PSNR between the two shots
    assert psnr(stab[7], plain[7]) > 30 > psnr(plain[5], plain[7]) + 10
    assert math.isinf(float(rows(tmp_path / "stab.mp4")[6]["fidelity_psnr"]))
    assert not np.array_equal(stab[5], plain[5])  # before the cut it was stabilizing


def test_one_frame_video(tmp_path: Path, demo_model: Translator, photo) -> None:
    src = write([view(photo, 50)], tmp_path / "one.mp4")
    result = translate_video(demo_model, src, tmp_path / "out.mp4", temporal=0.8)
    assert result.frames == 1 == probe(tmp_path / "out.mp4").frames
    (row,) = rows(tmp_path / "out.mp4")
    assert row["warp_in"] == "" and math.isinf(float(row["fidelity_psnr"]))


def test_no_temporal_is_the_per_frame_translation_exactly(tmp_path: Path, photo) -> None:
    src = write([view(photo, 40 + 3 * i) for i in range(5)], tmp_path / "pan.mp4")
    for flag in ("--no-temporal", "--temporal"):
        out = tmp_path / flag / "pan.mp4"
        run_cli("translate", src, out, "--frames-dir", tmp_path / f"frames{flag}", "--batch-size", "1", flag, "--quiet")
    translator = Translator.from_file(default_model(), cycle=False)  # the CLI's defaults, one frame per call
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the CLI's process (OMP_NUM_THREADS=1): the same sums in the same order
    try:
        expected = np.concatenate([translator.translate(frame[None]).outputs for frame in decode(src)])
    finally:
        torch.set_num_threads(threads)
    plain = pngs(tmp_path / "frames--no-temporal" / "pan")
    assert np.array_equal(plain, expected)
    assert not np.array_equal(pngs(tmp_path / "frames--temporal" / "pan"), expected)
    assert all(r["fidelity_psnr"] == "" for r in rows(tmp_path / "--no-temporal" / "pan.mp4"))


def test_segments_warm_up_on_context_and_join_without_a_seam(tmp_path: Path, photo) -> None:
    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=2)
    model = tmp_path / "g.safetensors"
    save_generators(model, ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec))
    src = write([view(photo, 20 + 4 * i, (64, 48)) for i in range(36)], tmp_path / "clip.mp4", gop=12)
    run_cli("video", "split", src, tmp_path / "seg", "--seconds", "0.4")
    segments = sorted((tmp_path / "seg").glob("segment_*.mp4"))
    assert len(segments) == 3 and (tmp_path / "seg" / "segments.csv").is_file()
    common = ("--model", model, "--quiet")
    run_cli("translate", src, tmp_path / "single.mp4", "--frames-dir", tmp_path / "fs", *common)
    for warm, folder in ((True, "warm"), (False, "cold")):
        for seg in segments:
            out = tmp_path / folder / seg.name
            context = ("--context-from", src) if warm else ()
            run_cli("translate", seg, out, "--frames-dir", tmp_path / f"f{folder}", *context, *common)
        run_cli("video", "join", tmp_path / folder, src, tmp_path / f"{folder}.mp4", "--quiet")
    single = pngs(tmp_path / "fs" / "single")
    warm = np.concatenate([pngs(tmp_path / "fwarm" / s.stem) for s in segments])
    cold = np.concatenate([pngs(tmp_path / "fcold" / s.stem) for s in segments])
    joins = [12, 24]
    assert min(psnr(warm[j], single[j]) for j in joins) > 45  # warmed up: as if never cut
    assert max(psnr(cold[j], single[j]) for j in joins) < min(psnr(warm[j], single[j]) for j in joins)
    joined = probe(tmp_path / "warm.mp4")
    assert joined.frames == 36 and joined.pts_s == pytest.approx(probe(src).pts_s, abs=1e-6)
    table = rows(tmp_path / "warm.mp4")
    assert [int(r["frame"]) for r in table] == list(range(36))
    assert all(table[j]["warp_in"] and table[j]["warp_out"] for j in joins)  # measured across the joins
    assert rows(tmp_path / "cold.mp4")[12]["warp_in"] == ""
    # segment jobs encode with x264's grain tuning (its deblock -2:-2 is in the stream's settings SEI), so a
    # segment's opening keyframe looks like the P-frames before it; a single pass keeps the default
    assert b"deblock=1:-2:-2" in (tmp_path / "warm" / segments[1].name).read_bytes()
    assert b"deblock=1:0:0" in (tmp_path / "single.mp4").read_bytes()


def test_torch_stabilizer_on_the_cpu_device_matches_the_cpu_path(photo) -> None:
    """The CUDA path's code (trust, warp and blend in torch along the shared DIS flow) run on the CPU device:
    the frames the NumPy/OpenCV path writes, a pan's added flicker taken out, and a cut starting it again."""
    other = skimage_photo("rocket.jpg")
    size = (96, 64)
    frames = [view(photo, 40 + 2 * i, size) for i in range(6)] + [view(other, 60, size)]
    flicker = [np.clip(f.astype(np.int16) + 6 * (-1) ** i, 0, 255).astype(np.uint8) for i, f in enumerate(frames)]
    flow = FlowEstimator()
    greys = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    flows = [flow.flows(greys[t - 1], grey) if t else None for t, grey in enumerate(greys)]
    runs = {}
    for name, ops in (("torch", TorchFrames(torch.device("cpu"))), ("numpy", CpuFrames())):
        stabilizer = ops.stabilizer(0.8)
        ins, outs = (ops.frames(torch.from_numpy(np.stack(x)).permute(0, 3, 1, 2)) for x in (frames, flicker))
        runs[name] = []
        for t in range(len(frames)):
            warp = ops.warp(flows[t]) if t else None
            step = stabilizer.step(warp, ins[t - 1] if t else None, ins[t], outs[t])
            runs[name].append(replace(step, frame=ops.image(step.frame)))
    steps = runs["torch"]
    assert [s.reset for s in steps] == [s.reset for s in runs["numpy"]] == [True] + [False] * 5 + [True]
    for ours, cpu in zip(steps, runs["numpy"], strict=True):  # fixed-point remap vs float grid_sample: rounding
        assert np.abs(ours.frame.astype(int) - cpu.frame.astype(int)).max() <= 2
    assert np.array_equal(steps[6].frame, flicker[6])  # nothing of the first shot after the cut
    pan = slice(0, 6)
    w_in, w_out = farneback_errors(np.stack(frames[pan]), np.stack(flicker[pan]))
    _, w_stab = farneback_errors(np.stack(frames[pan]), np.stack([s.frame for s in steps[pan]]))
    added_out, added_stab = np.mean(w_out) - np.mean(w_in), np.mean(w_stab) - np.mean(w_in)
    assert added_stab < 0.5 * added_out


def test_decoded_chroma_is_interpolated_not_repeated_in_blocks(tmp_path: Path) -> None:
    """4:2:0 video becomes RGB with chroma at every pixel, as players show it: a colour ramp has no 2x2 steps
    (they stay on the pixel grid while the picture moves, and read as flicker to the model and the measure)."""
    ramp = np.zeros((32, 64, 3), np.uint8)
    ramp[..., 0] = np.linspace(0, 255, 64, dtype=np.float32).astype(np.uint8)[None]
    ramp[..., 2] = 255 - ramp[..., 0]
    writer = FrameWriter(tmp_path / "ramp.mp4", 64, 32, Fraction(25), EncodeSettings(crf=0))
    writer.write(ramp)
    writer.close()
    red = decode(tmp_path / "ramp.mp4")[0, 16, 8:56, 0].astype(int)
    assert (red[1::2] != red[::2]).mean() > 0.9  # neighbours within a chroma block differ too
