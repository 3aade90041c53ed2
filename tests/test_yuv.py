"""Frames as YUV planes, converted in torch (media/yuv.py), against ffmpeg's own conversions (the CPU path):
clips encoded here with the bundled ffmpeg, and the shared real clips where they are present."""

from __future__ import annotations

import csv
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cyclegan_batch.demo import skimage_photo
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.ffmpeg import ffmpeg_exe
from cyclegan_batch.media.picture import Layout
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import from_rgb, to_rgb
from cyclegan_batch.metrics import psnr
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.runfolder import video_cycle_csv
from cyclegan_batch.video.pipeline import translate_video
from tests.test_video import ffmpeg

# ../shared/data beside the checkout (or beside the folder of worktrees that holds it)
ROOT = Path(__file__).resolve().parents[1]
DATA = next((d for d in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if d.is_dir()), None)
SHARED = ["bigbuckbunny_720p_5s.mp4", "carphone_qcif_4s.mp4"]


def within_tolerance(ours: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """(99.9th percentile, mean) of the absolute difference in grey levels."""
    diff = (ours.float() - reference.float()).abs().flatten()
    return float(torch.quantile(diff[:: max(1, len(diff) // 1_000_000)], 0.999)), float(diff.mean())


def decode_both(path: Path, frames: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """The first frames through the YUV planes and media/yuv.py, and through ffmpeg's RGB24 (N x 3 x H x W)."""
    info = probe(path)
    results = []
    for planes in (True, False):
        reader = FrameReader(path, info, max_frames=frames, planes=planes)
        raw = torch.from_numpy(np.stack(list(reader)))
        reader.close()
        assert reader.layout.planar == planes
        results.append(to_rgb(raw, reader.layout, info.picture.matrix, info.picture.range))
    return results[0], results[1]


@pytest.fixture(scope="module")
def photo_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo panning, as lossless RGB frames: the source of the clips below."""
    photo = skimage_photo("astronaut.png")
    folder = tmp_path_factory.mktemp("photo")
    for i in range(3):
        Image.fromarray(photo[100 : 100 + 96, 40 + 4 * i : 40 + 4 * i + 160]).save(folder / f"{i}.png")
    return folder / "%d.png"


@pytest.mark.parametrize(
    ("pix_fmt", "extra"),
    [
        ("yuv420p", ()),
        ("yuv422p", ()),
        ("yuv444p", ()),
        ("yuv420p10le", ()),
        ("yuv420p", ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709")),
        ("yuvj420p", ()),  # full range
    ],
)
def test_planes_to_rgb_match_ffmpegs_conversion(tmp_path: Path, photo_clip: Path, pix_fmt: str, extra: tuple) -> None:
    """Against the decoder's old RGB24 path (bicubic, accurate rounding, chroma at every pixel): at most 1 grey
    level at the 99.9th percentile, a mean difference under 0.2, for every layout, matrix and range."""
    codec = ["-c:v", "ffv1"] if "10" in pix_fmt else ["-c:v", "libx264", "-crf", "10"]
    clip = tmp_path / f"clip_{pix_fmt}.mkv"
    ffmpeg("-framerate", "25", "-i", photo_clip, *codec, "-pix_fmt", pix_fmt, *extra, clip)
    assert probe(clip).pix_fmt == pix_fmt
    ours, reference = decode_both(clip)
    p999, mean = within_tolerance(ours, reference)
    assert p999 <= 1 and mean <= 0.2, (p999, mean)


def test_saturated_edges_stay_within_a_grey_level(tmp_path: Path) -> None:
    """testsrc2's pure colour bars: the hardest case for chroma interpolation (limited range, 4:2:0)."""
    clip = tmp_path / "bars.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "2", "-pix_fmt", "yuv420p", clip)
    p999, mean = within_tolerance(*decode_both(clip))
    assert p999 <= 1 and mean <= 0.2, (p999, mean)


@pytest.mark.parametrize("name", SHARED)
def test_real_clips(name: str) -> None:
    if DATA is None or not (DATA / name).is_file():
        pytest.skip(f"{name} is absent: the shared clips of ../shared/data are not in every checkout")
    p999, mean = within_tolerance(*decode_both(DATA / name, frames=2))
    assert p999 <= 1 and mean <= 0.2, (p999, mean)


@pytest.mark.parametrize(("pix_fmt", "size"), [("yuv420p", (64, 96)), ("yuv444p", (33, 17))])
@pytest.mark.parametrize(("matrix", "range_tag"), [(None, None), ("bt709", "tv"), ("smpte170m", "pc")])
def test_rgb_to_planes_match_ffmpegs_conversion(pix_fmt: str, size: tuple, matrix: str | None, range_tag) -> None:
    """The encoder's planes made in torch against the ones ffmpeg makes from the same RGB24 frame."""
    h, w = size
    photo = np.ascontiguousarray(skimage_photo("astronaut.png")[50 : 50 + h, 80 : 80 + w])
    params = ":".join(f"{k}={v}" for k, v in (("colorspace", matrix), ("range", range_tag)) if v)
    command = [ffmpeg_exe(), "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-i", "-"]
    command += ["-vf", f"setparams={params}"] if params else []
    command += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    reference = subprocess.run(command, input=photo.tobytes(), capture_output=True, check=True).stdout
    layout = Layout(pix_fmt, w, h)
    ours = from_rgb(torch.from_numpy(photo).permute(2, 0, 1)[None], layout, matrix, range_tag)
    assert ours.shape == (1, layout.frame_bytes)
    p999, mean = within_tolerance(ours[0], torch.frombuffer(bytearray(reference), dtype=torch.uint8))
    assert p999 <= 1 and mean <= 0.2, (p999, mean)


def test_the_device_path_writes_what_the_cpu_path_writes(tmp_path: Path, photo_clip: Path) -> None:
    """translate_video with the frames on the model's device (YUV pipes, torch metrics and stabilizer: the GPU
    path, here on the CPU device) against the CPU path (RGB24 pipes, OpenCV): colour tags, frame count and
    cycle.csv agree (SSIM within 1e-3, PSNR within 0.05 dB), and each file holds its frames as faithfully."""
    src = tmp_path / "tagged.mp4"
    tags = ("-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv")
    ffmpeg("-framerate", "25", "-i", photo_clip, "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", *tags, src)
    torch.manual_seed(0)
    spec = GeneratorSpec(ngf=8, n_blocks=1)
    translator = Translator(Generators(ResnetGenerator(spec), ResnetGenerator(spec), ModelInfo(spec)), device="cpu")
    fidelity = {}
    rows = {}
    for on_device in (False, True):
        dst, frames = tmp_path / f"on_device_{on_device}.mp4", tmp_path / f"frames_{on_device}"
        translate_video(translator, src, dst, temporal=0.8, on_device=on_device, frames_dir=frames)
        info = probe(dst)
        assert info.picture == probe(src).picture and info.frames == 3
        rows[on_device] = list(csv.DictReader(video_cycle_csv(dst).open()))
        written = np.stack([np.asarray(Image.open(frames / f"{i:06d}.png")) for i in range(3)])
        encoded = decode_both(dst)[1].permute(0, 2, 3, 1).numpy()  # as a player shows it
        fidelity[on_device] = psnr(encoded.astype(np.uint8), written)
    assert fidelity[True] > fidelity[False] - 0.5  # the planes made in torch encode as well as ffmpeg's
    for ours, theirs in zip(rows[True], rows[False], strict=True):
        assert float(ours["ssim"]) == pytest.approx(float(theirs["ssim"]), abs=1e-3)
        assert float(ours["psnr"]) == pytest.approx(float(theirs["psnr"]), abs=0.05)
        assert float(ours["l1"]) == pytest.approx(float(theirs["l1"]), abs=1e-3)
        for column in ("warp_in", "warp_out"):
            assert (ours[column] == "") == (theirs[column] == "")
            if ours[column]:
                assert float(ours[column]) == pytest.approx(float(theirs[column]), rel=0.05, abs=5e-4)
        stabilized = float(ours["fidelity_psnr"]), float(theirs["fidelity_psnr"])
        assert math.isinf(stabilized[0]) == math.isinf(stabilized[1])
