"""Whole-file jobs without re-encoding the picture: audio from the source, keyframe segments, and their join
(re-encoded only for segments encoded differently).

Audio is stream-copied; a container that refuses the codec gets it re-encoded (FALLBACK_AUDIO), and the log
says so. Segments hold picture only: `video join` takes the audio from the original.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

from cyclegan_batch import runfolder
from cyclegan_batch.media.encode import EncodeSettings
from cyclegan_batch.media.ffmpeg import VIDEO_STREAM, VideoError, file_arg, last_error, run
from cyclegan_batch.media.formats import CONTAINER_FORMATS, DEFAULT_CONTAINER, GIF, segment_suffix
from cyclegan_batch.media.probe import VideoInfo, probe
from cyclegan_batch.util.atomic import temp_path_for

log = logging.getLogger("cyclegan_batch")

# Audio that cannot be stream-copied into a container is re-encoded to this codec (and logged).
FALLBACK_AUDIO = {"mp4": "aac", "mov": "aac", "mkv": "aac", "webm": "libopus", "avi": "libmp3lame"}


def mux_audio(video: Path, source: Path, dst: Path, container: str) -> str:
    """Write `video`'s picture with `source`'s audio streams into `dst`; returns how the audio was carried.

    Audio is stream-copied; if the container refuses the codec it is re-encoded, and the log says so.
    """
    base = ["-v", "error", "-i", file_arg(video), "-i", file_arg(source), "-map", "0:v:0", "-map", "1:a?"]
    out = EncodeSettings(container=container).format_args() + ["-y", file_arg(dst)]
    copied = run([*base, "-c", "copy", *out], text=True, errors="replace")
    if copied.returncode == 0:
        return "copy"
    fallback = FALLBACK_AUDIO[container]
    log.warning(
        "%s: audio cannot be stream-copied into %s (%s); re-encoding it to %s",
        source.name,
        container,
        last_error(copied.stderr),
        fallback,
    )
    encoded = run([*base, "-c:v", "copy", "-c:a", fallback, *out], text=True, errors="replace")
    if encoded.returncode != 0:
        raise VideoError(f"muxing audio failed: {last_error(encoded.stderr)}")
    return f"re-encoded to {fallback}"


def finish_with_audio(video_only: Path, source: Path, source_info: VideoInfo, dst: Path, container: str) -> str:
    """Turn the encoded `video_only` file into `dst` (the temporary name), adding the source's audio
    (a GIF holds none: translate_video warns that it is left out)."""
    if not source_info.audio or container == GIF:
        os.replace(video_only, dst)
        return "none"
    try:
        return mux_audio(video_only, source, dst, container)
    finally:
        video_only.unlink(missing_ok=True)


def split(source: Path, out_dir: Path, seconds: float) -> list[Path]:
    """Cut the video stream of `source` into segments of about `seconds`, at keyframes, without re-encoding.

    The segments hold picture only (`video join` takes the audio from the original). `out_dir` appears
    complete or not at all: segments are written to a sibling temporary folder that is renamed.
    """
    probe(source)  # a clear one-line reason for a bad input before ffmpeg's own
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".part", dir=out_dir.parent))
    try:
        suffix = segment_suffix(source.suffix)
        pattern = work / f"{runfolder.SEGMENT_PREFIX}%05d{suffix}"
        args = ["-v", "error", "-i", file_arg(source), "-map", VIDEO_STREAM, "-c", "copy", "-f", "segment"]
        args += ["-segment_time", str(seconds), "-reset_timestamps", "1"]
        args += ["-segment_format", CONTAINER_FORMATS[suffix.lstrip(".")]]
        proc = run([*args, "-y", file_arg(pattern)], text=True, errors="replace")
        if proc.returncode != 0:
            raise VideoError(f"splitting failed: {last_error(proc.stderr)}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(out_dir.glob(f"{runfolder.SEGMENT_PREFIX}*{suffix}"))


def _concat_line(path: Path) -> str:
    quoted = str(path.absolute()).replace("'", "'\\''")
    return f"file '{quoted}'\n"


def encoding_of(path: Path) -> tuple[str, str, bool]:
    """What wrote a file's video stream, as far as joining them goes: codec, profile, and whether x264 did
    (its settings SEI is in the stream; NVENC and other encoders of the same codec write none)."""
    header = run(["-i", file_arg(path)], text=True, errors="replace").stderr
    found = re.search(r"Stream #0:\d+\S*: Video: (\w+)(?: \(([^)]*)\))?", header)
    with open(path, "rb") as f:
        x264 = b"x264 - core" in f.read(4 << 20)
    return (found.group(1), found.group(2) or "", x264) if found else ("", "", x264)


def join(
    segments: list[Path], original: Path, original_info: VideoInfo, dst: Path, container: str = DEFAULT_CONTAINER
) -> str:
    """Concatenate translated `segments` into `dst` without re-encoding, adding the audio of `original`.
    Returns how the audio was carried. The caller makes `dst` atomic.

    Segments encoded alike (one encoder, one profile: the translate jobs of one video on like machines) are
    stream-copied. A mixed set (say NVENC on most segments, libx264 where a card fell back) cannot be: it is
    re-encoded with libx264 at the default quality, and the log says so."""
    dst = Path(dst)
    listing = temp_path_for(dst).with_suffix(".ffconcat")
    video_only = temp_path_for(dst)
    encodings = {encoding_of(segment) for segment in segments}
    video = ["-c", "copy"]
    if len(encodings) > 1:
        log.warning(
            "%s: its segments were encoded differently (%s); re-encoding the joined video with libx264",
            original.name,
            "; ".join(sorted(f"{c} {p}{' by x264' if x else ''}" for c, p, x in encodings)),
        )
        settings = EncodeSettings(container=container, codec="libx264")
        video = settings.codec_args(original_info.width, original_info.height)
    try:
        listing.write_text("ffconcat version 1.0\n" + "".join(map(_concat_line, segments)), encoding="utf-8")
        args = ["-v", "error", "-f", "concat", "-safe", "0", "-i", file_arg(listing), "-map", "0:v:0"]
        args += [*video, *EncodeSettings(container=container).format_args(), "-y", file_arg(video_only)]
        proc = run(args, text=True, errors="replace")
        if proc.returncode != 0:
            raise VideoError(f"joining segments failed: {last_error(proc.stderr)}")
        return finish_with_audio(video_only, original, original_info, dst, container)
    finally:
        listing.unlink(missing_ok=True)
        video_only.unlink(missing_ok=True)
