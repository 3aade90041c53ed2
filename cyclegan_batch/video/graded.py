"""A pointwise model's video without the cycle: the grade runs inside ffmpeg, as a 3D LUT in its lut3d filter.

A pointwise generator (the `grade` preset) is one colour function for every pixel, which a 3D LUT holds
(models/lut.py, the same fit as `export look.cube`). video/pipeline.py hands such a video here when no cycle
is asked for: the decoder (media/decode.py's FrameReader: the stream's matrix and range, chroma interpolated
to every pixel, the RGB24 the general path gives the model on a CPU and media/yuv.py reproduces on a GPU)
applies the LUT with ffmpeg's lut3d filter, tetrahedral like the fit, and the frames go straight to the
general path's encoder (media/encode.py, RGB24 in, whichever codec media/codecs.py chose). No
model call, no stabilizer (a colour function adds no spatial flicker) and no optical flow: the output is
within 2 grey levels of the model's (tests/test_graded.py) at several times the speed (bench/graded_video.py).
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from torch import nn

from cyclegan_batch import runfolder
from cyclegan_batch.media.encode import FrameWriter
from cyclegan_batch.media.ffmpeg import filter_value
from cyclegan_batch.media.gif import GifWriter
from cyclegan_batch.models.lut import grade_cube
from cyclegan_batch.util.bounded import in_background

DECODE_AHEAD = 8  # frames decoded while the encoder takes the previous ones


@functools.lru_cache(maxsize=2)
def _cube(net: nn.Module) -> str:
    """The LUT's text, fitted once per model (about two seconds on a laptop CPU), not once per video."""
    return grade_cube(net, "grade", ["written by cyclegan-batch translate for ffmpeg's lut3d"])


class GradeLut:
    """The pointwise `net` as a .cube in a temporary folder, and the lut3d filter that reads it; close() removes it."""

    def __init__(self, net: nn.Module) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="cyclegan-grade-")
        cube = Path(self._folder.name) / "grade.cube"
        cube.write_text(_cube(net))
        self.filter = f"lut3d=file={filter_value(str(cube))}:interp=tetrahedral"

    def close(self) -> None:
        self._folder.cleanup()


def copy_frames(frames: Iterable[np.ndarray], writer: FrameWriter | GifWriter, advance: Callable) -> None:
    """The graded frames from the decoder into the encoder, the next ones decoding meanwhile."""
    for frame in in_background(frames, DECODE_AHEAD, "decode"):
        writer.write(frame)
        advance(1)


def unmeasured_rows(frames: int, fps: float) -> str:
    """cycle.csv for `frames` frames graded by ffmpeg: each frame's number and time, no metrics."""
    return runfolder.video_cycle_text({"frame": str(i), "time_s": f"{i / fps:.6f}"} for i in range(frames))
