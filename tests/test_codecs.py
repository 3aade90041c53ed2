"""Decoder and encoder choice (media/codecs.py): NVDEC/NVENC where the machine has them, the CPU's codecs with
one log line why elsewhere; and a join of segments encoded differently (media/mux.py)."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import pytest

from cyclegan_batch.media.codecs import AUTO, NVDEC, SOFTWARE, choose_decoder, choose_encoder
from cyclegan_batch.media.encode import EncodeSettings
from cyclegan_batch.media.mux import encoding_of, join
from cyclegan_batch.media.probe import probe
from tests.test_video import decoded_frames, ffmpeg, make_video


def test_the_cpu_path_names_libx264_and_why() -> None:
    choice = choose_encoder(AUTO, "yuv420p", 64, 48, gpu=False)
    assert choice.name == "libx264" and "CPU" in choice.reason
    assert choose_encoder("libx265", "yuv420p", 64, 48, gpu=False).name == "libx265"  # as asked


def test_nvenc_or_a_fallback_that_says_why() -> None:
    """With the model on a GPU: NVENC if the trial encode works here, else libx264 naming the encoder and
    ffmpeg's first complaint (no driver on a CPU machine: `Cannot load libcuda.so.1`); never an error."""
    choice = choose_encoder(AUTO, "yuv420p", 64, 48, gpu=True)
    assert choice.name == "h264_nvenc" or ("h264_nvenc" in choice.reason and choice.name == "libx264")
    odd = choose_encoder(AUTO, "yuv444p", 33, 17, gpu=True)
    assert odd.name == "libx264" and "yuv444p" in odd.reason


def test_nvdec_or_the_cpu_decoder(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "clip.mp4", frames=2, audio=None)
    assert choose_decoder(clip, gpu=False).name == SOFTWARE
    choice = choose_decoder(clip, gpu=True)
    assert choice.name == NVDEC or (choice.name == SOFTWARE and choice.reason.startswith("NVDEC cannot"))


def test_nvenc_gets_constant_quality() -> None:
    args = EncodeSettings(codec="h264_nvenc", crf=20).codec_args(64, 48)
    assert args[args.index("-rc") + 1] == "vbr" and args[args.index("-b:v") + 1] == "0"
    assert args[args.index("-cq") + 1] == "20"  # the measured mapping replaces this (media/codecs.py)
    with pytest.raises(ValueError, match="auto"):
        EncodeSettings(codec=AUTO).codec_args(64, 48)


def test_segments_encoded_differently_are_reencoded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """NVENC on one segment and libx264 on another (a card fell back): the join re-encodes, with a log line;
    segments encoded alike are stream-copied. libopenh264 stands in for NVENC: H.264 without x264's SEI."""
    src = make_video(tmp_path / "clip.mp4", frames=12, audio="aac")
    segments = tmp_path / "segments"
    segments.mkdir()
    for i, codec in enumerate(("libx264", "libopenh264")):
        trim = ("-vf", f"trim=start_frame={6 * i}:end_frame={6 * i + 6},setpts=PTS-STARTPTS")
        ffmpeg("-i", src, "-an", *trim, "-c:v", codec, "-pix_fmt", "yuv420p", segments / f"segment_{i:05d}.mp4")
    parts = sorted(segments.iterdir())
    assert encoding_of(parts[0])[2] and not encoding_of(parts[1])[2]
    info = probe(src)
    with caplog.at_level(logging.WARNING, logger="cyclegan_batch"):
        join(parts, src, info, tmp_path / "joined.mp4", "mp4")
    assert "encoded differently" in caplog.text and "re-encoding" in caplog.text
    joined = probe(tmp_path / "joined.mp4")
    assert decoded_frames(tmp_path / "joined.mp4") == 12 and joined.fps == Fraction(25)
    assert encoding_of(tmp_path / "joined.mp4")[2]  # x264 wrote it
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="cyclegan_batch"):
        join([parts[0], parts[0]], src, info, tmp_path / "alike.mp4", "mp4")
    assert "encoded differently" not in caplog.text
