"""Animated GIF output that plays like its input: the same frames, per-frame durations and loop count.

The timing is read with Pillow, from the file itself: ffmpeg's GIF demuxer raises delays under 2/100 s
to 1/10 s (the browsers' convention), so its timestamps are not the file's. Frames are written one by one
as they come, each whole with its own 256-colour palette (median cut, Floyd-Steinberg dither), through
Pillow's frame-level GIF encoder: Pillow's animated writer would hold every frame in memory and merge
identical consecutive frames, which changes the frame count.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import GifImagePlugin, Image, ImageSequence

from cyclegan_batch.media.ffmpeg import VideoError
from cyclegan_batch.media.formats import GIF, is_video_name
from cyclegan_batch.media.picture import RGB24, Layout


def is_video_file(path: Path) -> bool:
    """A file to translate as a video: a video suffix, or a GIF with more than one frame (else an image)."""
    path = Path(path)
    if path.suffix.lower() != f".{GIF}":
        return is_video_name(path)
    try:
        with Image.open(path) as img:
            return getattr(img, "n_frames", 1) > 1
    except (OSError, ValueError):
        return False  # the image path reports why it cannot be read


@dataclass(frozen=True)
class GifTiming:
    durations_ms: tuple[int, ...]  # per frame; GIF stores hundredths of a second
    loop: int | None = 0  # the stored loop count (0: forever); None: no loop extension, plays once

    @classmethod
    def of_rate(cls, fps: Fraction, frames: int, loop: int | None = 0) -> GifTiming:
        """Durations for a constant rate, rounded to 1/100 s so that the running total stays on time."""
        ends = [round(Fraction(100 * (i + 1)) / fps) for i in range(frames)]
        return cls(tuple(10 * (end - start) for start, end in zip([0, *ends], ends, strict=False)), loop)


def read_timing(path: Path) -> GifTiming | None:
    """The frame durations and loop count stored in the GIF at `path`; None if Pillow cannot read it."""
    try:
        with Image.open(path) as img:
            loop = img.info.get("loop")  # the NETSCAPE block comes before the first frame
            return GifTiming(tuple(int(frame.info.get("duration", 0)) for frame in ImageSequence.Iterator(img)), loop)
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError):
        return None  # the caller times the frames by the rate ffmpeg found


class GifWriter:
    """Write RGB24 frames (H x W x 3 uint8, in any shape) into the GIF `path` with `timing`; the FrameWriter
    interface."""

    def __init__(self, path: Path, timing: GifTiming, width: int, height: int) -> None:
        self.path, self.timing = Path(path), timing
        self.layout = Layout(RGB24, width, height)
        self.frames_written = 0
        try:
            self._file: BinaryIO = self.path.open("wb")
        except OSError as e:
            raise VideoError(f"cannot write {self.path.name}: {e.strerror or e}") from None

    def _duration(self, index: int) -> int:
        durations = self.timing.durations_ms
        return durations[min(index, len(durations) - 1)] if durations else 0

    def write(self, frame: np.ndarray) -> None:
        pixels = np.ascontiguousarray(frame, dtype=np.uint8).reshape(self.layout.height, self.layout.width, 3)
        indexed = Image.fromarray(pixels).quantize(256)
        chunks: list[bytes] = []
        if self.frames_written == 0:
            indexed.info["version"] = b"89a"  # frame delays and the loop count are GIF89a blocks
            chunks += GifImagePlugin.getheader(indexed, info={"loop": self.timing.loop})[0]
        chunks += GifImagePlugin.getdata(
            indexed, duration=self._duration(self.frames_written), include_color_table=True
        )
        try:
            self._file.write(b"".join(chunks))
        except OSError as e:
            raise VideoError(f"cannot write {self.path.name}: {e.strerror or e}") from None
        self.frames_written += 1

    def close(self) -> None:
        try:
            self._file.write(b";")  # the GIF trailer
        finally:
            self._file.close()

    def abort(self) -> None:
        self._file.close()
