"""What a video file holds, as a player shows it: one ffmpeg pass over every packet and the first frame.

- The video is the first real video stream (`0:V:0`: cover art is not a video). Rotation metadata is
  applied (ffmpeg's autorotate), so width and height are as a player shows them.
- Frame rate: the stream's nominal rate as an exact fraction (30000/1001 stays 30000/1001). A stream whose
  timestamps stray more than half a frame from that grid is variable-frame-rate: every frame is kept once
  and re-timed to the constant average rate (frames / duration), so frame count and duration hold while
  single frames may move by up to the input's jitter. The sidecar says `"vfr": true`.
- The sample aspect ratio and the colour description come from the first frame (media/picture.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from cyclegan_batch.media.ffmpeg import VIDEO_STREAM, VideoError, file_arg, last_error, run
from cyclegan_batch.media.formats import unreadable
from cyclegan_batch.media.picture import Picture, parse_showinfo

NO_PTS = -(2**63)  # AV_NOPTS_VALUE as framecrc prints it


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
    pix_fmt: str | None = None  # of the decoded frames (ffmpeg's name: yuv420p, yuv420p10le, rgb24, ...)

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
    if problem := unreadable(path):
        raise VideoError(problem)
    # One process, two outputs: the first decoded frame through showinfo (exact frame rate, display size
    # after rotation) and the packet list of the whole stream copied to framecrc (count, timestamps).
    args = ["-i", file_arg(path), "-map", VIDEO_STREAM, "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"]
    args += ["-map", VIDEO_STREAM, "-c", "copy", "-f", "framecrc", "pipe:1"]
    proc = run(args, text=True, errors="replace")
    header = _input_section(proc.stderr)
    video = re.search(r"Stream #0:\d+\S*: Video: (\w+)", header)
    if video is None:
        if "Input #0" not in header and "End of file" in proc.stderr:
            raise VideoError("zero frames: the file ends before its first video frame")
        if "Input #0" not in header:
            raise VideoError(f"not a file ffmpeg can read ({last_error(proc.stderr)})")
        raise VideoError("no video stream")
    if video.group(1) == "none" or "Decoder (codec none) not found" in proc.stderr:
        raise VideoError("unknown video codec: ffmpeg has no decoder for it")
    size = re.search(r"showinfo.* n:\s*0 .* s:(\d+)x(\d+) ", proc.stderr)
    pix_fmt = re.search(r"showinfo.* n:\s*0 .* fmt:(\S+) ", proc.stderr)
    pts, durations, tb = _packet_times(proc.stdout)
    if size is None or not pts:
        reason = "" if proc.returncode == 0 else f" ({last_error(proc.stderr)})"
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
        pix_fmt=pix_fmt.group(1) if pix_fmt else None,
    )
