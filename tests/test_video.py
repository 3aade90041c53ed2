"""Video translation with the real bundled ffmpeg on clips the tests generate (lavfi testsrc + sine)."""

from __future__ import annotations

import csv
import json
import logging
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import run_cli
from PIL import Image, ImageSequence

from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.encode import EncodeSettings, FrameWriter
from cyclegan_batch.media.ffmpeg import VideoError, ffmpeg_exe
from cyclegan_batch.media.images import load_rgb
from cyclegan_batch.media.mux import split
from cyclegan_batch.media.picture import Picture
from cyclegan_batch.media.probe import probe
from cyclegan_batch.media.yuv import rgb_frames
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import Generators, ModelInfo, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator
from cyclegan_batch.runfolder import VIDEO_CYCLE_COLUMNS
from cyclegan_batch.translate.verb import TranslateOptions, translate_path
from cyclegan_batch.video.flow import FlowEstimator, errors_along
from cyclegan_batch.video.pipeline import VideoOptions, join_video, translate_video

SPEC = GeneratorSpec(ngf=8, n_blocks=2)


def ffmpeg(*args: str | Path) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *map(str, args)], check=True)


def make_video(
    path: Path,
    *,
    rate: str = "25",
    size: str = "64x48",
    frames: int = 12,
    audio: str | None = "aac",
    extra: tuple[str, ...] = (),
) -> Path:
    """A testsrc clip of exactly `frames` frames; with a sine track (codec `audio`) as long as the video."""
    args: list[str] = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100", "-c:a", audio, "-shortest"]
    path.parent.mkdir(parents=True, exist_ok=True)
    video_codec = ["-c:v", "gif"] if path.suffix == ".gif" else ["-c:v", "libx264", "-pix_fmt", "yuv444p"]
    ffmpeg(*args, "-frames:v", str(frames), *video_codec, *extra, path)
    return path


def decoded_frames(path: Path) -> int:
    """Frames ffmpeg decodes (independent of probe, which counts packets)."""
    out = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-i", f"file:{path}", "-map", "0:V:0", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if line and not line.startswith("#"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "generators.safetensors"
    save_generators(path, ResnetGenerator(SPEC), ResnetGenerator(SPEC), ModelInfo(SPEC, domains=("day", "night")))
    return path


@pytest.fixture(scope="module")
def translator() -> Translator:
    torch.manual_seed(0)
    model = Generators(ResnetGenerator(SPEC), ResnetGenerator(SPEC), ModelInfo(SPEC))
    return Translator(model, device="cpu", precision="fp32")


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    ("name", "rate", "size", "audio"),
    [
        ("clip.mp4", "24", "322x182", "aac"),
        ("clip.mkv", "25", "65x49", None),  # odd sides: kept without padding (yuv444p)
        ("clip.mov", "30000/1001", "64x48", "pcm_s16le"),
        ("clip.avi", "25", "64x48", "libmp3lame"),
    ],
)
def test_output_keeps_frames_rate_duration_size_and_audio(
    tmp_path: Path, translator: Translator, name: str, rate: str, size: str, audio: str | None
) -> None:
    src = make_video(tmp_path / name, rate=rate, size=size, frames=10, audio=audio)
    dst = tmp_path / "out" / "clip.mp4"
    result = translate_video(translator, src, dst)
    assert result.status == "ok" and result.frames == 10
    before, after = probe(src), probe(dst)
    assert decoded_frames(dst) == decoded_frames(src) == 10
    assert after.fps == before.fps == Fraction(rate)
    assert abs(after.duration_s - before.duration_s) < 1 / float(before.fps)
    assert (after.width, after.height) == (before.width, before.height) == tuple(map(int, size.split("x")))
    assert after.audio == before.audio  # stream-copied: the same codec, untouched
    sidecar = json.loads((tmp_path / "out" / "clip.mp4.json").read_text())
    assert sidecar["input"]["fps"] == sidecar["output"]["fps"] == f"{before.fps.numerator}/{before.fps.denominator}"
    assert sidecar["output"]["frames"] == sidecar["input"]["frames"] == 10
    rows = read_rows(tmp_path / "out" / "clip.mp4.cycle.csv")
    assert tuple(rows[0]) == VIDEO_CYCLE_COLUMNS
    assert [int(r["frame"]) for r in rows] == list(range(10))
    assert rows[0]["warp_in"] == rows[0]["warp_out"] == "" and rows[1]["warp_out"] != ""
    assert 0 <= float(rows[3]["l1"]) <= 1 and float(rows[3]["time_s"]) == pytest.approx(3 / float(before.fps))


def test_rotation_metadata_is_applied(tmp_path: Path, translator: Translator) -> None:
    plain = make_video(tmp_path / "plain.mp4", size="64x48", frames=4, audio=None)
    rotated = tmp_path / "phone.mp4"
    ffmpeg("-display_rotation", "90", "-i", plain, "-c", "copy", rotated)
    translate_video(translator, rotated, tmp_path / "out.mp4")
    out = probe(tmp_path / "out.mp4")
    assert (out.width, out.height, out.rotation) == (48, 64, 0)  # upright pixels, nothing left to rotate


def test_animated_gif_and_one_frame_video(tmp_path: Path, translator: Translator) -> None:
    gif = make_video(tmp_path / "anim.gif", rate="10", frames=7, audio=None)
    single = make_video(tmp_path / "single.mp4", frames=1, audio=None)
    for src in (gif, single):
        dst = tmp_path / "out" / f"{src.stem}.mp4"
        translate_video(translator, src, dst)
        assert decoded_frames(dst) == decoded_frames(src)
        assert probe(dst).fps == probe(src).fps


GIF_DURATIONS_MS = (40, 120, 70, 200, 30, 500)


def make_gif(path: Path, loop: int | None = 2) -> Path:
    """A Pillow GIF: smooth, distinct frames (Pillow merges equal neighbours), durations that vary, a loop count."""
    rng = np.random.default_rng(0)
    frames = [cv2.resize(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8), (40, 30)) for _ in GIF_DURATIONS_MS]
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(f) for f in frames]
    loop_arg = {} if loop is None else {"loop": loop}
    images[0].save(path, save_all=True, append_images=images[1:], duration=list(GIF_DURATIONS_MS), **loop_arg)
    return path


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int], int | None]:
    """Frames (RGB), per-frame durations (ms) and loop count of a GIF, as Pillow (and browsers) read them."""
    with Image.open(path) as img:
        assert img.format == "GIF"
        frames, durations = [], []
        for frame in ImageSequence.Iterator(img):
            frames.append(np.asarray(frame.convert("RGB")))
            durations.append(frame.info["duration"])
        return frames, durations, img.info.get("loop")


def test_animated_gif_stays_a_gif_with_its_durations_and_loop(tmp_path: Path, model_file: Path) -> None:
    make_gif(tmp_path / "in" / "wave.gif")
    run_cli("translate", tmp_path / "in", tmp_path / "out", "--model", model_file, "--frames-dir", tmp_path / "frames")
    frames, durations, loop = gif_frames(tmp_path / "out" / "wave.gif")
    assert (len(frames), durations, loop) == (6, list(GIF_DURATIONS_MS), 2)
    translated = [load_rgb(tmp_path / "frames" / "wave" / f"{i:06d}.png").astype(int) for i in range(6)]
    for i, frame in enumerate(frames):  # each translated frame, in order, within the 256-colour palette's error
        distances = [np.abs(frame - t).mean() for t in translated]
        assert int(np.argmin(distances)) == i and distances[i] < 10, (i, distances)
    assert len(read_rows(tmp_path / "out" / "wave.gif.cycle.csv")) == 6
    assert read_rows(tmp_path / "out" / "cycle.csv")[0]["output"] == "wave.gif"
    options = TranslateOptions(model=model_file, precision="fp32", video=VideoOptions(container="mp4"))
    translate_path(tmp_path / "in", tmp_path / "as mp4", options)  # --container still chooses
    assert decoded_frames(tmp_path / "as mp4" / "wave.mp4") == 6


def test_gif_keeps_equal_neighbour_frames_and_no_loop(tmp_path: Path, translator: Translator) -> None:
    held = tmp_path / "held.gif"  # five equal frames: their translations are equal too, and must stay five
    ffmpeg("-f", "lavfi", "-i", "color=c=teal:size=32x24:rate=5", "-frames:v", "5", "-c:v", "gif", "-loop", "-1", held)
    assert gif_frames(held)[1:] == ([200] * 5, None)
    translate_video(translator, held, tmp_path / "out.gif")
    assert gif_frames(tmp_path / "out.gif")[1:] == ([200] * 5, None)
    plain = make_gif(tmp_path / "once.gif", loop=None)
    translate_video(translator, plain, tmp_path / "once_out.gif")
    assert gif_frames(tmp_path / "once_out.gif")[1:] == (list(GIF_DURATIONS_MS), None)


def test_any_video_becomes_a_gif_on_time(tmp_path: Path, translator: Translator) -> None:
    src = make_video(tmp_path / "ntsc.mp4", rate="30000/1001", frames=10, audio="aac")
    result = translate_video(translator, src, tmp_path / "ntsc.gif")
    frames, durations, loop = gif_frames(tmp_path / "ntsc.gif")
    assert len(frames) == 10 and set(durations) == {30, 40} and loop == 0  # 1/100 s steps, looping forever
    assert (
        sum(durations) == 10 * round(100 * 10 / (30000 / 1001))
        and "a GIF holds no audio: aac left out" in result.warnings
    )


def test_an_output_that_cannot_be_opened_stops_the_decoder_too(
    tmp_path: Path, translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=4, audio=None)
    readers: list[FrameReader] = []
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    monkeypatch.setattr("cyclegan_batch.video.pipeline.temp_path_for", lambda dst: blocked)  # a folder: no GIF there
    original_init = FrameReader.__init__

    def remember(self: FrameReader, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        readers.append(self)

    monkeypatch.setattr(FrameReader, "__init__", remember)
    with pytest.raises(VideoError, match="cannot write blocked"):
        translate_video(translator, src, tmp_path / "out.gif")
    assert len(readers) == 1 and readers[0]._proc.poll() is not None  # its ffmpeg killed, not left to the GC


def test_audio_the_container_refuses_is_reencoded_and_logged(
    tmp_path: Path, translator: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    src = make_video(tmp_path / "talk.mp4", frames=6, audio="aac")
    dst = tmp_path / "talk.webm"  # WebM takes Opus/Vorbis only
    with caplog.at_level(logging.WARNING, logger="cyclegan_batch"):
        translate_video(translator, src, dst, settings=EncodeSettings.for_container("webm"))
    assert probe(dst).audio == ["opus"] and probe(dst).codec == "vp9"
    assert "re-encoding it to libopus" in caplog.text
    assert json.loads((tmp_path / "talk.webm.json").read_text())["output"]["audio_carried"] == "re-encoded to libopus"


def test_variable_frame_rate_keeps_every_frame_and_the_duration(tmp_path: Path, translator: Translator) -> None:
    src = tmp_path / "vfr.mp4"  # 10 frames at 10 fps, then 20 frames at 30 fps
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc=size=64x48:rate=30", "-frames:v", "30", "-fps_mode", "passthrough"),
        *("-vf", "setpts='if(lt(N,10),N*3,N+20)/30/TB'", "-c:v", "libx264", src),
    )
    result = translate_video(translator, src, tmp_path / "out.mp4")
    before, after = probe(src), probe(tmp_path / "out.mp4")
    assert before.vfr and not after.vfr
    assert decoded_frames(tmp_path / "out.mp4") == 30
    assert abs(after.duration_s - 10 * 0.1 - 20 / 30) < 1 / float(after.fps)
    assert any("variable frame rate" in w for w in result.warnings)


def test_split_translate_join_equals_single_pass(tmp_path: Path, model_file: Path) -> None:
    src = make_video(tmp_path / "long clip.mp4", rate="30000/1001", frames=45, audio="aac", extra=("-g", "8"))
    run_cli("video", "split", src, tmp_path / "segments", "--seconds", "0.5")
    segments = sorted((tmp_path / "segments").glob("segment_*.mp4"))
    assert len(segments) >= 3
    assert all(probe(s).audio == [] for s in segments)  # picture only; join takes the original's audio
    translator = Translator.from_file(model_file, device="cpu", precision="fp32")
    for segment in segments:
        translate_video(translator, segment, tmp_path / "translated" / segment.name)
    translate_video(translator, src, tmp_path / "single.mp4")
    run_cli("video", "join", tmp_path / "translated", src, tmp_path / "joined.mp4")
    single, joined = probe(tmp_path / "single.mp4"), probe(tmp_path / "joined.mp4")
    assert joined.frames == single.frames == decoded_frames(tmp_path / "joined.mp4") == 45
    assert joined.fps == single.fps == Fraction(30000, 1001)
    assert joined.pts_s == pytest.approx(single.pts_s, abs=1e-6)
    assert joined.audio == ["aac"]
    rows = read_rows(tmp_path / "joined.mp4.cycle.csv")
    assert [int(r["frame"]) for r in rows] == list(range(45))


ANAMORPHIC_TAGS = {"color_primaries": "bt709", "color_transfer": "bt709", "color_matrix": "bt709", "color_range": "tv"}


def make_anamorphic(path: Path, frames: int = 6, extra: tuple[str, ...] = ()) -> Path:
    """176x144 with 128:117 pixels (PAL 4:3 CIF) and a declared BT.709 colour description.

    setparams, not -color_primaries/-color_trc: this ffmpeg takes primaries and transfer from the frames."""
    tags = "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
    return make_video(
        path, size="176x144", frames=frames, audio="aac", extra=("-vf", f"setsar=128/117:max=1000,{tags}", *extra)
    )


def stream_line(path: Path) -> str:
    """ffmpeg's own description of the video stream, e.g. `yuv420p(tv, bt709, progressive), 176x144 [SAR 128:117 ...`"""
    stderr = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", f"file:{path}"], capture_output=True, text=True).stderr
    return next(line for line in stderr.splitlines() if "Video:" in line)


def assert_shown_as_anamorphic_bt709(path: Path) -> None:
    line = stream_line(path)
    assert "[SAR 128:117 DAR 1408:1053]" in line and "(tv, bt709, progressive)" in line, line
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["output"]["sar"] == sidecar["input"]["sar"] == "128:117"
    assert {key: sidecar["output"][key] for key in ANAMORPHIC_TAGS} == ANAMORPHIC_TAGS


def test_anamorphic_pixels_and_colour_description_are_kept(tmp_path: Path, model_file: Path) -> None:
    src = make_anamorphic(tmp_path / "pal cif.mp4")
    assert "[SAR 128:117" in stream_line(src) and "(tv, bt709, progressive)" in stream_line(src)
    run_cli("translate", src, tmp_path / "out", "--model", model_file)
    assert_shown_as_anamorphic_bt709(tmp_path / "out" / "pal cif.mp4")


def test_anamorphic_video_through_split_translate_join(tmp_path: Path, translator: Translator) -> None:
    src = make_anamorphic(tmp_path / "pal.mkv", frames=12, extra=("-g", "4"))
    segments = split(src, tmp_path / "segments", 0.2)
    assert len(segments) >= 2 and all(probe(s).picture == probe(src).picture for s in segments)
    for segment in segments:
        translate_video(translator, segment, tmp_path / "translated" / segment.name)
    join_video(tmp_path / "translated", src, tmp_path / "joined.mkv")
    assert_shown_as_anamorphic_bt709(tmp_path / "joined.mkv")
    assert decoded_frames(tmp_path / "joined.mkv") == 12


def test_a_colour_matrix_ffmpeg_cannot_convert_is_a_clear_reason(tmp_path: Path, translator: Translator) -> None:
    src = make_video(
        tmp_path / "ycgco.mkv", frames=3, audio=None, extra=("-vf", "format=yuv444p,setparams=colorspace=ycgco")
    )
    assert "ycgco" in stream_line(src)  # tagged after conversion, so the file itself is fine
    with pytest.raises(VideoError, match="colour matrix ycgco: ffmpeg cannot convert it to RGB"):
        translate_video(translator, src, tmp_path / "out.mkv")
    assert not (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize(
    ("picture", "expected_yuv"),
    [  # limited-range Y'CbCr of RGB (200, 100, 50) by each matrix's coefficients (full range: 0-255)
        (Picture(matrix="bt709", range="tv"), (117, 96, 174)),
        (Picture(matrix="smpte170m", range="tv"), (123, 91, 175)),
        (Picture(matrix="smpte170m", range="pc"), (124, 86, 182)),
    ],
)
def test_encoder_converts_with_the_declared_matrix_and_range(tmp_path: Path, picture: Picture, expected_yuv) -> None:
    dst = tmp_path / "flat.mkv"
    writer = FrameWriter(dst, 32, 32, Fraction(25), EncodeSettings(codec="libx264", crf=0, container="mkv"), picture)
    for _ in range(2):
        writer.write(np.full((32, 32, 3), (200, 100, 50), np.uint8))
    writer.close()
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            f"file:{dst}",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv444p",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert np.abs(np.frombuffer(raw, np.uint8)[:: 32 * 32].astype(int) - expected_yuv).max() <= 1
    info = probe(dst)
    assert (info.picture.matrix, info.picture.range) == (picture.matrix, picture.range)
    frame = next(rgb_frames(reader := FrameReader(dst, info)))
    reader.close()
    assert np.abs(frame.astype(int) - (200, 100, 50)).max() <= 2  # decoded back with the same matrix and range


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: ffmpeg("-f", "lavfi", "-i", "sine", "-t", "0.3", p), "no video stream"),
        (lambda p: p.write_bytes(b""), "empty file"),
        # seeded: an unlucky os.urandom draw once probed as an audio format ("no video stream")
        (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "not a file ffmpeg can read"),
        (lambda p: ffmpeg("-f", "lavfi", "-i", "testsrc", "-frames:v", "0", "-c:v", "libx264", p), "zero frames"),
    ],
    ids=["audio-only", "empty", "garbage", "zero-frames"],
)
def test_bad_input_is_one_clear_reason(tmp_path: Path, translator: Translator, make, reason: str) -> None:
    src = tmp_path / "bad.mkv"
    make(src)
    with pytest.raises(VideoError, match=reason):
        translate_video(translator, src, tmp_path / "out" / "bad.mp4")
    assert not (tmp_path / "out" / "bad.mp4").exists()


def test_unknown_codec_is_named(tmp_path: Path, translator: Translator) -> None:
    src = make_video(tmp_path / "clip.mkv", frames=3, audio=None)
    src.write_bytes(src.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))  # a codec id nobody decodes
    with pytest.raises(VideoError, match="unknown video codec"):
        translate_video(translator, src, tmp_path / "out.mp4")


def test_truncated_file_translates_what_decodes_with_a_warning(tmp_path: Path, translator: Translator) -> None:
    full = make_video(tmp_path / "full.mkv", frames=60, audio=None, extra=("-g", "5"))
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    result = translate_video(translator, cut, tmp_path / "out.mp4")
    assert 0 < result.frames < 60 and decoded_frames(tmp_path / "out.mp4") == result.frames
    assert any(w.startswith("truncated file") for w in result.warnings)


def test_encoder_failure_stops_the_pipeline_and_leaves_nothing(tmp_path: Path, translator: Translator) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=20, audio=None)
    bad = EncodeSettings(codec="libx264", container="webm")  # the WebM muxer refuses H.264 at its header
    with pytest.raises(VideoError, match="encod"):
        translate_video(translator, src, tmp_path / "out" / "clip.webm", settings=bad, batch_size=2)
    assert list((tmp_path / "out").iterdir()) == []


def test_concurrent_model_calls_keep_frame_order(
    tmp_path: Path, translator: Translator, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=9, audio=None)  # testsrc: every frame differs
    monkeypatch.setattr(translator, "concurrent_calls", lambda *size: 2)
    translate_video(translator, src, tmp_path / "out.mp4", batch_size=2, frames_dir=tmp_path / "frames")
    reader = FrameReader(src, probe(src), planes=False)
    expected = [translator.translate(frame[None]).outputs[0].astype(int) for frame in rgb_frames(reader)]
    reader.close()
    written = [load_rgb(tmp_path / "frames" / f"{i:06d}.png").astype(int) for i in range(9)]
    for i, frame in enumerate(written):
        distances = [np.abs(frame - e).mean() for e in expected]
        assert int(np.argmin(distances)) == i and distances[i] < 0.5


def test_frames_dir_holds_every_translated_frame(tmp_path: Path, translator: Translator) -> None:
    src = make_video(tmp_path / "clip.mp4", frames=5, audio=None)
    translate_video(translator, src, tmp_path / "clip_out.mp4", frames_dir=tmp_path / "frames")
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"{i:06d}.png" for i in range(5)]


def test_warping_errors_need_the_cycle_or_the_stabilizer(
    tmp_path: Path, model_file: Path, translator: Translator
) -> None:
    """--no-cycle --no-temporal computes no flow: warp_in/warp_out stay empty; the stabilizer's flow fills them."""
    src = make_video(tmp_path / "in" / "clip.mp4", frames=4, audio=None)
    run_cli("translate", src, tmp_path / "plain", "--model", model_file, "--no-cycle", "--no-temporal", "-q")
    rows = read_rows(tmp_path / "plain" / "clip.mp4.cycle.csv")
    assert len(rows) == 4 and {r[c] for r in rows for c in ("l1", "warp_in", "warp_out")} == {""}
    translate_video(translator, src, tmp_path / "stable.mp4", temporal=0.8, flicker=False)
    rows = read_rows(tmp_path / "stable.mp4.cycle.csv")
    assert all(r["warp_in"] != "" and r["warp_out"] != "" for r in rows[1:])


def test_warping_error_sees_added_flicker() -> None:
    rng = np.random.default_rng(0)
    noise = (rng.random((15, 20, 3)) * 255).astype(np.uint8)
    texture = cv2.resize(noise, (160, 120), interpolation=cv2.INTER_CUBIC)  # smooth, trackable
    frames = [np.ascontiguousarray(texture[10:90, 10 + 2 * t : 130 + 2 * t]) for t in range(4)]  # pans 2 px
    flicker = [np.clip(f.astype(int) + (40 if t % 2 else -40), 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    pairs = list(zip(frames, flicker, strict=True))
    flow = FlowEstimator()
    for previous, current in zip(pairs, pairs[1:], strict=False):
        warp = flow.warp(previous[0], current[0])
        assert warp is not None
        warp_in, warp_out = errors_along(warp, previous, current)
        assert warp_in < 0.02 and warp_out > 0.2  # the +-40 flicker is 0.31 on the [0, 1] scale
    warp = flow.warp(frames[0], frames[1])
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames[:2]]  # single-channel frames measure too
    assert warp is not None and warp.error(*grey) < 0.02


def test_killed_run_leaves_no_output_and_a_rerun_completes(tmp_path: Path, model_file: Path) -> None:
    src = make_video(tmp_path / "ünï code.mp4", size="96x64", frames=90, audio="aac")
    out = tmp_path / "out"
    dst = out / "ünï code.mp4"
    args = [sys.executable, "-m", "cyclegan_batch", "translate", src, out, "--model", model_file, "--batch-size", "1"]
    proc = subprocess.Popen(list(map(str, args)), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob(".*.part.mp4")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not dst.exists()  # killed mid-video: nothing under the final name
    run_cli(*args[3:])
    assert decoded_frames(dst) == 90 and probe(dst).audio == ["aac"]
    assert list(out.glob(".*.part*")) == []  # the killed run's temporary files are gone
    mtime = dst.stat().st_mtime_ns
    rerun = run_cli(*args[3:])
    assert dst.stat().st_mtime_ns == mtime and "skipped 1" in rerun.stderr
    run_cli(*args[3:], "--overwrite", "--no-cycle", "--no-temporal")  # the cheapest full rewrite
    assert dst.stat().st_mtime_ns > mtime


def test_translate_folder_of_videos_images_and_bad_files(tmp_path: Path, model_file: Path) -> None:
    src = tmp_path / "in"
    make_video(src / "-lead dash.mp4", frames=5)
    make_video(src / "sub" / "anim.gif", rate="10", frames=4, audio=None)
    cv2.imwrite(str(src / "still.png"), np.zeros((20, 24, 3), np.uint8))  # images and videos side by side
    (src / "broken.mkv").write_bytes(np.random.default_rng(1).bytes(3000))  # seeded: see the test above
    ffmpeg("-f", "lavfi", "-i", "sine", "-t", "0.3", src / "voice.mp4")
    result = run_cli(
        "translate", src, tmp_path / "out", "--model", model_file, "--frames-dir", tmp_path / "frames", check=False
    )
    assert result.returncode == 3, result.stderr
    rows = {r["input"]: r for r in read_rows(tmp_path / "out" / "cycle.csv")}
    assert rows["-lead dash.mp4"]["status"] == rows["sub/anim.gif"]["status"] == rows["still.png"]["status"] == "ok"
    assert (
        rows["sub/anim.gif"]["output"] == "sub/anim.gif" and decoded_frames(tmp_path / "out" / "sub" / "anim.gif") == 4
    )
    assert rows["voice.mp4"]["reason"] == "no video stream"
    assert rows["broken.mkv"]["reason"].startswith("not a file ffmpeg can read")
    assert "broken.mkv: not a file ffmpeg can read" in result.stderr and "Traceback" not in result.stderr
    assert len(list((tmp_path / "frames" / "-lead dash").glob("*.png"))) == 5


def test_translate_one_video_to_a_named_file(tmp_path: Path, model_file: Path) -> None:
    src = make_video(tmp_path / "segment_00003.mp4", frames=4, audio=None)
    run_cli("translate", src, tmp_path / "translated" / "segment_00003.mkv", "--model", model_file, "--crf", "30")
    out = tmp_path / "translated" / "segment_00003.mkv"
    assert decoded_frames(out) == 4 and (tmp_path / "translated" / "segment_00003.mkv.cycle.csv").is_file()
    assert not (tmp_path / "translated" / "cycle.csv").exists()


def test_join_needs_segments(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="no video segments"):
        join_video(tmp_path / "empty", tmp_path / "x.mp4", tmp_path / "y.mp4")
