"""Encoding translated frames: the codec settings, and an ffmpeg process that takes raw frames at a constant rate.

The frames come in the planes the encoder writes (`encoder_layout`: media/yuv.py converts them where the
model runs), or as RGB24 that ffmpeg converts. Odd widths or heights cannot be 4:2:0; those outputs are
written as yuv444p (same size, no padding). The sample aspect ratio and the colour description of the input
are written again (media/picture.py).
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from cyclegan_batch.media.codecs import AUTO, NVENC, NVENC_PRESET, nvenc_cq
from cyclegan_batch.media.ffmpeg import VideoError, file_arg, last_error, popen
from cyclegan_batch.media.formats import CONTAINER_FORMATS, DEFAULT_CONTAINER
from cyclegan_batch.media.picture import RGB24, Layout, Picture

DEFAULT_CRF = 18  # constant quality (x264, VP9): visually lossless for the translated frames
CRF_CODECS = frozenset({"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"})


def pix_fmt_for(width: int, height: int) -> str:
    """4:2:0 needs even sides; odd sizes keep every pixel as 4:4:4 instead of being padded or cropped."""
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def encoder_layout(width: int, height: int) -> Layout:
    """The planes the encoder writes, so a frame handed over in them is encoded without a conversion."""
    return Layout(pix_fmt_for(width, height), width, height)


@dataclass(frozen=True)
class EncodeSettings:
    codec: str = "libx264"  # or "auto": media/codecs.py's choose_encoder decides per video
    crf: int = DEFAULT_CRF
    container: str = DEFAULT_CONTAINER
    preset: str = "medium"
    tune: str | None = None  # x264/x265 --tune, e.g. "grain" for segments that are joined later

    @classmethod
    def for_container(
        cls, container: str, codec: str | None = None, crf: int = DEFAULT_CRF, tune: str | None = None
    ) -> EncodeSettings:
        """H.264 (`auto`: NVENC or libx264) everywhere except WebM, which only holds VP8/VP9/AV1."""
        codec = codec or ("libvpx-vp9" if container == "webm" else AUTO)
        return cls(codec=codec, crf=crf, container=container, tune=tune)

    def codec_args(self, width: int, height: int) -> list[str]:
        if self.codec == AUTO:
            raise ValueError("codec auto: decide it first (media/codecs.py's choose_encoder)")
        args = ["-c:v", self.codec, "-pix_fmt", pix_fmt_for(width, height)]
        if self.codec in NVENC.values():  # constant quality, the --crf mapped by measurement (media/codecs.py)
            args += ["-rc", "vbr", "-cq", str(nvenc_cq(self.crf)), "-b:v", "0", "-preset", NVENC_PRESET]
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
    """Encode raw frames in `layout` at a constant rate into `path` (video only), SAR and colours per `picture`.

    The default layout is RGB24 (H x W x 3 uint8 frames, converted by ffmpeg with the picture's matrix and
    range); `encoder_layout` takes YUV planes as they are.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        settings: EncodeSettings,
        picture: Picture | None = None,
        layout: Layout | None = None,
    ) -> None:
        self.path = Path(path)
        self.layout = layout or Layout(RGB24, width, height)
        self.frames_written = 0
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()/abort()
        args = ["-v", "error", "-f", "rawvideo", "-pix_fmt", self.layout.pix_fmt, "-s", f"{width}x{height}"]
        args += ["-framerate", f"{fps.numerator}/{fps.denominator}", "-i", "pipe:0", "-map", "0:v"]
        if filters := (picture or Picture()).filters():
            args += ["-vf", ",".join(filters)]
        args += settings.codec_args(width, height) + settings.format_args() + ["-y", file_arg(path)]
        self._proc = popen(args, stdin=subprocess.PIPE, stderr=self._stderr)

    def write(self, frame: np.ndarray) -> None:
        """One frame: `layout.frame_bytes` of uint8, in any shape."""
        assert self._proc.stdin is not None
        try:
            # the array's own memory, not a bytes copy of it (a 720p frame is 2.7 MB)
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frame, dtype=np.uint8)).cast("B"))
        except BrokenPipeError:
            raise VideoError(f"the encoder stopped: {self._error()}") from None
        self.frames_written += 1

    def _error(self) -> str:
        self._proc.wait()
        self._stderr.seek(0)
        return last_error(self._stderr.read().decode("utf-8", "replace"))

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
