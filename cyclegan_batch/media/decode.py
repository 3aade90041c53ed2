"""Decoded frames of a video, streamed from an ffmpeg process in the stream's own planes, never duplicated or dropped.

Frames come out with `-fps_mode passthrough` (one per stored frame), rotation applied, as raw frames in the
stream's own YUV layout (media/yuv.py converts them to RGB where the model runs). A stream in any other pixel
format is converted to RGB24 by ffmpeg with the stream's own matrix and range (media/picture.py) and chroma
interpolated to every pixel, which is also what media/yuv.py reproduces for the YUV layouts. RGB24 frames
may go through one more filter after that conversion (video/graded.py's lut3d).
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cyclegan_batch.media.ffmpeg import VIDEO_STREAM, VideoError, file_arg, last_error, popen
from cyclegan_batch.media.picture import Layout
from cyclegan_batch.media.probe import VideoInfo

# Chroma interpolated to every pixel when 4:2:0 becomes RGB, as video players do. swscale's default fast path
# repeats each chroma sample over its 2x2 block instead: that block pattern stays on the pixel grid while the
# picture moves, so it reads as flicker, both to the model (its input) and to any flicker measure of an output
# (bench/RESULTS.md, "Video stabilization (encoded output)"). About 7 ms more per 1280x720 frame.
RGB_FROM_YUV = ["-sws_flags", "bicubic+accurate_rnd+full_chroma_int"]


class FrameReader:
    """Decoded frames of `path` as flat raw uint8 arrays of `layout.frame_bytes`, streamed from an ffmpeg
    process; `media.yuv.to_rgb` turns a batch of them into RGB (`rgb_frames` below, one at a time)."""

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        start_s: float = 0.0,
        max_frames: int | None = None,
        planes: bool = True,
        hwaccel: bool = False,
        rgb_filter: str | None = None,
    ) -> None:
        """`start_s`, `max_frames`: only the frames from that time on (an exact seek), at most that many.
        `planes` False: RGB24 from ffmpeg's own conversion even where the stream's planes could come through.
        `hwaccel`: decode with NVDEC (`-hwaccel cuda`: media/codecs.py decides), the frames downloaded.
        `rgb_filter`: an ffmpeg filter applied to the RGB24 frames after the same conversion (`planes` False)."""
        if not info.picture.convertible():
            raise VideoError(f"colour matrix {info.picture.matrix}: ffmpeg cannot convert it to RGB for translating")
        self.layout = Layout.reading(info.pix_fmt, info.width, info.height, planes and rgb_filter is None)
        self.picture = info.picture  # the matrix and range of the frames' YUV
        self.frames_read = 0
        # a file, not a pipe, so ffmpeg can never block on it; it lives as long as this reader
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        args = ["-v", "error", *(["-hwaccel", "cuda"] if hwaccel else [])]
        args += [*(["-ss", f"{start_s:.6f}"] if start_s > 0 else []), "-i", file_arg(path)]
        args += ["-map", VIDEO_STREAM, "-fps_mode", "passthrough"]
        args += [] if max_frames is None else ["-frames:v", str(max_frames)]
        convert = [] if self.layout.planar else RGB_FROM_YUV
        args += [] if rgb_filter is None else ["-vf", f"format=rgb24,{rgb_filter}"]
        args += [*convert, "-f", "rawvideo", "-pix_fmt", self.layout.pix_fmt, "pipe:1"]
        self._proc = popen(args, stdout=subprocess.PIPE, stderr=self._stderr)

    def __iter__(self) -> Iterator[np.ndarray]:
        nbytes = self.layout.frame_bytes
        assert self._proc.stdout is not None
        while True:
            data = self._proc.stdout.read(nbytes)
            if len(data) < nbytes:  # end of stream (a partial frame means a truncated file)
                return
            self.frames_read += 1
            yield np.frombuffer(data, dtype=np.uint8)

    def last_error(self) -> str:
        """ffmpeg's last decoding complaint so far (empty when the stream decoded cleanly)."""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return last_error(text) if text.strip() else ""

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._stderr.close()
