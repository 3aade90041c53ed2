"""Video I/O through the ffmpeg binary that imageio-ffmpeg ships: probe, decode, encode, audio, split, join.

Every call is an argument list (never a shell string) and every file reaches ffmpeg as `file:<absolute
path>`, so a name with spaces, unicode or a leading dash is never read as an option or a protocol.

The rules (documented for users in the README):
- The video is the first real video stream (`0:V:0`: cover art is not a video). Rotation metadata is
  applied while decoding (ffmpeg's autorotate), so frames, width and height are as a player shows them.
- Frame rate: the stream's nominal rate as an exact fraction (30000/1001 stays 30000/1001). A stream whose
  timestamps stray more than half a frame from that grid is variable-frame-rate: every frame is kept once
  and re-timed to the constant average rate (frames / duration), so frame count and duration hold while
  single frames may move by up to the input's jitter. The sidecar says `"vfr": true`.
- Frames are decoded with `-fps_mode passthrough` (never duplicated or dropped) as RGB24.
- Odd widths or heights cannot be 4:2:0; those outputs are written as yuv444p (same size, no padding).
- The sample aspect ratio and the colour description the input declares are written again (media/picture.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from cyclegan_batch import runfolder
from cyclegan_batch.media.formats import CONTAINER_FORMATS, DEFAULT_CONTAINER, GIF, VIDEO_SUFFIXES, segment_suffix
from cyclegan_batch.media.picture import Picture, parse_showinfo
from cyclegan_batch.util.atomic import temp_path_for

log = logging.getLogger("cyclegan_batch")

# Audio that cannot be stream-copied into a container is re-encoded to this codec (and logged).
FALLBACK_AUDIO = {"mp4": "aac", "mov": "aac", "mkv": "aac", "webm": "libopus", "avi": "libmp3lame"}
DEFAULT_CRF = 18  # constant quality (x264, VP9): visually lossless for the translated frames
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"})
NO_PTS = -(2**63)  # AV_NOPTS_VALUE as framecrc prints it
VIDEO_STREAM = "0:V:0"  # capital V: video streams that are not attached pictures (cover art)


class VideoError(Exception):
    """This file cannot be translated as a video; the message is the one-line reason users see."""


def ffmpeg_exe() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def file_arg(path: Path) -> str:
    """A path as ffmpeg must see it: the file protocol and an absolute path, never an option or URL."""
    return "file:" + str(Path(path).absolute())


def is_video_path(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_video_file(path: Path) -> bool:
    """A file to translate as a video: a video suffix, or a GIF with more than one frame (else an image)."""
    path = Path(path)
    if path.suffix.lower() != f".{GIF}":
        return is_video_path(path)
    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) > 1
    except (OSError, ValueError):
        return False  # the image path reports why it cannot be read


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-nostdin", "-hide_banner", *args], capture_output=True, **kwargs)


def _last_error(stderr: str) -> str:
    """The most telling line of ffmpeg's stderr, without the `[demuxer @ 0x...]` prefix."""
    lines = [re.sub(r"^\[[^]]*@ 0x[0-9a-f]+\]\s*", "", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("Error opening input file", "Conversion failed"))]
    return lines[-1] if lines else "ffmpeg failed without a message"


@dataclass(frozen=True)
class VideoInfo:
    """What a player would show: display size (rotation applied), exact rate, frame count, audio codecs."""

    width: int
    height: int
    fps: Fraction
    frames: int
    duration_s: float
    codec: str
    audio: list[str] = field(default_factory=list)
    rotation: int = 0
    vfr: bool = False
    truncated: bool = False  # the container promises more than the video stream holds
    header_duration_s: float = 0.0  # what the container says (all streams), for the truncation message
    pts_s: list[float] = field(default_factory=list, repr=False)  # presentation times, sorted
    picture: Picture = field(default_factory=Picture)  # SAR and colour description

    def summary(self) -> dict:
        """The sidecar's description (docs/interfaces.md): fps as a fraction string, plus what we know."""
        return {
            "fps": f"{self.fps.numerator}/{self.fps.denominator}",
            "frames": self.frames,
            "width": self.width,
            "height": self.height,
            "duration_s": round(self.duration_s, 6),
            "audio": list(self.audio),
            "codec": self.codec,
            "rotation": self.rotation,
            "vfr": self.vfr,
            "truncated": self.truncated,
            **self.picture.summary(),
        }


def _input_section(stderr: str) -> str:
    return re.split(r"^(?:Stream mapping:|Output #)", stderr, maxsplit=1, flags=re.M)[0]


def _packet_times(framecrc: str) -> tuple[list[int], list[int], Fraction]:
    """Presentation timestamps and durations (in time-base ticks) from ffmpeg's framecrc listing."""
    tb = Fraction(1, 1)
    pts, durations = [], []
    for line in framecrc.splitlines():
        if line.startswith("#tb 0:"):
            tb = Fraction(line.split(":", 1)[1].strip())
        elif line and not line.startswith("#"):
            cols = [c.strip() for c in line.split(",")]
            dts, stamp = int(cols[1]), int(cols[2])
            pts.append(dts if stamp == NO_PTS else stamp)  # AVI stores decode times only
            durations.append(int(cols[3]))
    return pts, durations, tb


def _header_duration(header: str) -> float:
    found = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", header)
    return int(found.group(1)) * 3600 + int(found.group(2)) * 60 + float(found.group(3)) if found else 0.0


def _frame_rate(times: np.ndarray, candidates: list[Fraction]) -> tuple[Fraction, bool]:
    """The first candidate rate whose grid holds every frame within half a frame; else VFR at the average rate.

    `candidates` is the nominal rate (exact, e.g. 30000/1001) then the average (frames / duration).
    """
    if not candidates:
        raise VideoError("no frame rate: the stream has neither a nominal rate nor frame timestamps")
    steps = np.arange(len(times))
    for rate in candidates:
        if np.max(np.abs(times - steps / float(rate))) <= 0.5 / float(rate):
            return rate, False
    return candidates[-1].limit_denominator(100_000), True


def probe(path: Path) -> VideoInfo:
    """Describe the video at `path` by demuxing every packet and decoding the first frame, or raise VideoError."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise VideoError("empty file (0 bytes)")
    except OSError as e:
        raise VideoError(f"cannot read file: {e.strerror or e}") from None
    # One process, two outputs: the first decoded frame through showinfo (exact frame rate, display size
    # after rotation) and the packet list of the whole stream copied to framecrc (count, timestamps).
    args = ["-i", file_arg(path), "-map", VIDEO_STREAM, "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"]
    args += ["-map", VIDEO_STREAM, "-c", "copy", "-f", "framecrc", "pipe:1"]
    proc = _run(args, text=True, errors="replace")
    header = _input_section(proc.stderr)
    video = re.search(r"Stream #0:\d+\S*: Video: (\w+)", header)
    if video is None:
        if "Input #0" not in header and "End of file" in proc.stderr:
            raise VideoError("zero frames: the file ends before its first video frame")
        if "Input #0" not in header:
            raise VideoError(f"not a file ffmpeg can read ({_last_error(proc.stderr)})")
        raise VideoError("no video stream")
    if video.group(1) == "none" or "Decoder (codec none) not found" in proc.stderr:
        raise VideoError("unknown video codec: ffmpeg has no decoder for it")
    size = re.search(r"showinfo.* n:\s*0 .* s:(\d+)x(\d+) ", proc.stderr)
    pts, durations, tb = _packet_times(proc.stdout)
    if size is None or not pts:
        reason = "" if proc.returncode == 0 else f" ({_last_error(proc.stderr)})"
        raise VideoError(f"zero frames decoded{reason}")
    rate = re.search(r"showinfo.*config in time_base: \S+, frame_rate: (\d+)/(\d+)", proc.stderr)
    rotation = re.search(r"rotation of (-?[\d.]+) degrees", header, flags=re.I)
    nominal = Fraction(int(rate.group(1)), int(rate.group(2))) if rate and int(rate.group(1)) > 0 else None
    order = np.argsort(pts, kind="stable")
    ticks = np.asarray(pts, dtype=np.int64)[order]
    times = (ticks - ticks[0]) * float(tb)
    n = len(ticks)
    span_ticks = int(ticks[-1] - ticks[0]) + durations[order[-1]]
    if durations[order[-1]] <= 0 and n > 1:  # containers without packet durations: assume the mean step
        span_ticks = int(round((ticks[-1] - ticks[0]) * n / (n - 1)))
    average = Fraction(n) / (span_ticks * tb) if span_ticks > 0 else None
    header_s = _header_duration(header)
    # A file cut short (by more than 2 frames and any audio/video length mismatch) keeps its nominal rate:
    # B-frames lost at the cut leave timestamp gaps that would otherwise look like a variable rate.
    truncated = nominal is not None and header_s - float(span_ticks * tb) > max(0.5, 2 / float(nominal))
    if truncated:
        fps, vfr = nominal, False
    else:
        fps, vfr = _frame_rate(times, [rate for rate in (nominal, average) if rate is not None])
    return VideoInfo(
        width=int(size.group(1)),
        height=int(size.group(2)),
        fps=fps,
        frames=n,
        duration_s=n / float(fps),
        codec=video.group(1),
        audio=re.findall(r"Stream #0:\d+\S*: Audio: (\w+)", header),
        rotation=int(round(float(rotation.group(1)))) % 360 if rotation else 0,
        vfr=vfr,
        truncated=truncated,
        header_duration_s=header_s,
        pts_s=times.tolist(),
        picture=parse_showinfo(proc.stderr),
    )


# Chroma interpolated to every pixel when 4:2:0 becomes RGB, as video players do. swscale's default fast path
# repeats each chroma sample over its 2x2 block instead: that block pattern stays on the pixel grid while the
# picture moves, so it reads as flicker, both to the model (its input) and to any flicker measure of an output
# (bench/RESULTS.md, "Video stabilization (encoded output)"). About 7 ms more per 1280x720 frame.
RGB_FROM_YUV = ["-sws_flags", "bicubic+accurate_rnd+full_chroma_int"]


class FrameReader:
    """Decoded RGB24 frames of `path` as H x W x 3 uint8 arrays, streamed from an ffmpeg process."""

    def __init__(self, path: Path, info: VideoInfo, start_s: float = 0.0, max_frames: int | None = None) -> None:
        """`start_s`, `max_frames`: only the frames from that time on (an exact seek), at most that many."""
        if not info.picture.convertible():
            raise VideoError(f"colour matrix {info.picture.matrix}: ffmpeg cannot convert it to RGB for translating")
        self.shape = (info.height, info.width, 3)
        self.frames_read = 0
        # a file, not a pipe, so ffmpeg can never block on it; it lives as long as this reader
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        args = ["-v", "error", *(["-ss", f"{start_s:.6f}"] if start_s > 0 else []), "-i", file_arg(path)]
        args += ["-map", VIDEO_STREAM, "-fps_mode", "passthrough"]
        args += [] if max_frames is None else ["-frames:v", str(max_frames)]
        args += [*RGB_FROM_YUV, "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        self._proc = subprocess.Popen(
            [ffmpeg_exe(), "-nostdin", "-hide_banner", *args], stdout=subprocess.PIPE, stderr=self._stderr
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        nbytes = int(np.prod(self.shape))
        assert self._proc.stdout is not None
        while True:
            data = self._proc.stdout.read(nbytes)
            if len(data) < nbytes:  # end of stream (a partial frame means a truncated file)
                return
            self.frames_read += 1
            yield np.frombuffer(data, dtype=np.uint8).reshape(self.shape)

    def last_error(self) -> str:
        """ffmpeg's last decoding complaint so far (empty when the stream decoded cleanly)."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return _last_error(text) if text.strip() else ""

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()


def pix_fmt_for(width: int, height: int) -> str:
    """4:2:0 needs even sides; odd sizes keep every pixel as 4:4:4 instead of being padded or cropped."""
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


@dataclass(frozen=True)
class EncodeSettings:
    codec: str = "libx264"
    crf: int = DEFAULT_CRF
    container: str = DEFAULT_CONTAINER
    preset: str = "medium"
    tune: str | None = None  # x264/x265 --tune, e.g. "grain" for segments that are joined later

    @classmethod
    def for_container(
        cls, container: str, codec: str | None = None, crf: int = DEFAULT_CRF, tune: str | None = None
    ) -> EncodeSettings:
        """H.264 everywhere except WebM, which only holds VP8/VP9/AV1."""
        codec = codec or ("libvpx-vp9" if container == "webm" else "libx264")
        return cls(codec=codec, crf=crf, container=container, tune=tune)

    def codec_args(self, width: int, height: int) -> list[str]:
        args = ["-c:v", self.codec, "-pix_fmt", pix_fmt_for(width, height)]
        if self.codec in CRF_CODECS:
            args += ["-crf", str(self.crf)]
        if self.codec in ("libx264", "libx265"):
            args += ["-preset", self.preset, *(["-tune", self.tune] if self.tune else [])]
        if self.codec == "libvpx-vp9":
            args += ["-b:v", "0"]  # constant quality: CRF alone is capped by the default bitrate
        return args

    def format_args(self) -> list[str]:
        args = ["-f", CONTAINER_FORMATS[self.container]]
        return args + (["-movflags", "+faststart"] if self.container in ("mp4", "mov") else [])


class FrameWriter:
    """Encode H x W x 3 uint8 frames at a constant rate into `path` (video only), SAR and colours per `picture`."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        settings: EncodeSettings,
        picture: Picture | None = None,
    ) -> None:
        self.path = Path(path)
        self.frames_written = 0
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()/abort()
        args = ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}"]
        args += ["-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0", "-map", "0:v"]
        if filters := (picture or Picture()).filters():
            args += ["-vf", ",".join(filters)]
        args += settings.codec_args(width, height) + settings.format_args() + ["-y", file_arg(path)]
        self._proc = subprocess.Popen(
            [ffmpeg_exe(), "-nostdin", "-hide_banner", *args], stdin=subprocess.PIPE, stderr=self._stderr
        )

    def write(self, frame: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError:
            raise VideoError(f"the encoder stopped: {self._error()}") from None
        self.frames_written += 1

    def _error(self) -> str:
        self._proc.wait()
        self._stderr.seek(0)
        return _last_error(self._stderr.read().decode("utf-8", "replace"))

    def close(self) -> None:
        """Finish the file; raise VideoError if the encoder failed."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        if self._proc.wait() != 0:
            raise VideoError(f"encoding failed: {self._error()}")
        self._stderr.close()

    def abort(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._stderr.close()


def mux_audio(video: Path, source: Path, dst: Path, container: str) -> str:
    """Write `video`'s picture with `source`'s audio streams into `dst`; returns how the audio was carried.

    Audio is stream-copied; if the container refuses the codec it is re-encoded, and the log says so.
    """
    base = ["-v", "error", "-i", file_arg(video), "-i", file_arg(source), "-map", "0:v:0", "-map", "1:a?"]
    out = EncodeSettings(container=container).format_args() + ["-y", file_arg(dst)]
    copied = _run([*base, "-c", "copy", *out], text=True, errors="replace")
    if copied.returncode == 0:
        return "copy"
    fallback = FALLBACK_AUDIO[container]
    log.warning(
        "%s: audio cannot be stream-copied into %s (%s); re-encoding it to %s",
        source.name,
        container,
        _last_error(copied.stderr),
        fallback,
    )
    encoded = _run([*base, "-c:v", "copy", "-c:a", fallback, *out], text=True, errors="replace")
    if encoded.returncode != 0:
        raise VideoError(f"muxing audio failed: {_last_error(encoded.stderr)}")
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
        proc = _run([*args, "-y", file_arg(pattern)], text=True, errors="replace")
        if proc.returncode != 0:
            raise VideoError(f"splitting failed: {_last_error(proc.stderr)}")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(work, out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(out_dir.glob(f"{runfolder.SEGMENT_PREFIX}*{suffix}"))


def _concat_line(path: Path) -> str:
    quoted = str(path.absolute()).replace("'", "'\\''")
    return f"file '{quoted}'\n"


def join(
    segments: list[Path], original: Path, original_info: VideoInfo, dst: Path, container: str = DEFAULT_CONTAINER
) -> str:
    """Concatenate translated `segments` (same codec and size) into `dst` without re-encoding, adding the
    audio of `original`. Returns how the audio was carried. The caller makes `dst` atomic."""
    dst = Path(dst)
    listing = temp_path_for(dst).with_suffix(".ffconcat")
    video_only = temp_path_for(dst)
    try:
        listing.write_text("ffconcat version 1.0\n" + "".join(map(_concat_line, segments)), encoding="utf-8")
        args = ["-v", "error", "-f", "concat", "-safe", "0", "-i", file_arg(listing), "-map", "0:v:0"]
        args += ["-c", "copy", *EncodeSettings(container=container).format_args(), "-y", file_arg(video_only)]
        proc = _run(args, text=True, errors="replace")
        if proc.returncode != 0:
            raise VideoError(f"joining segments failed: {_last_error(proc.stderr)}")
        return finish_with_audio(video_only, original, original_info, dst, container)
    finally:
        listing.unlink(missing_ok=True)
        video_only.unlink(missing_ok=True)
