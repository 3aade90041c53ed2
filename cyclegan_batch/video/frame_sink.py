"""The video pipeline's last stage: stabilize, encode and measure each translated frame (video/pipeline.py).

Per frame, in a small thread pool: the input flow from the previous frame (computed once, shared by the
stabilizer and the warping error), then frame images and the metrics. In order on the encoder thread:
stabilization (it needs the previous stabilized frame), then the encoder. Frames wait in bounded queues.
"""

from __future__ import annotations

import csv
import io
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from cyclegan_batch import runfolder
from cyclegan_batch.media.encode import FrameWriter
from cyclegan_batch.media.ffmpeg import VideoError
from cyclegan_batch.media.gif import GifWriter
from cyclegan_batch.metrics import cycle_metrics, psnr
from cyclegan_batch.util.atomic import atomic_output
from cyclegan_batch.video.flow import FlowEstimator, Warp, errors_along
from cyclegan_batch.video.stabilize import Stabilizer, TorchStabilizer

# fidelity_psnr: PSNR of the written (stabilized) frame against the per-frame translation; empty without
# --temporal, inf where they are equal (first frame, after a cut)


class FrameSink:
    """The encoder stage. Per frame, in a small thread pool beside it (OpenCV and NumPy release the GIL): the
    input flow from the previous frame, then frame images and the per-frame metrics (cycle, warping, fidelity).
    In order on this thread: stabilization (it needs the previous stabilized frame), then the encoder.

    The first `context` frames only warm the stabilizer up (a segment's frames before its start): they are
    neither written nor recorded, and the first recorded frame is measured against the last of them."""

    def __init__(
        self,
        writer: FrameWriter | GifWriter,
        fps: float,
        frames_dir: Path | None,
        cycle: bool,
        workers: int,
        stabilizer: Stabilizer | TorchStabilizer | None = None,
        context: int = 0,
    ) -> None:
        self.writer, self.fps, self.frames_dir, self.cycle = writer, fps, frames_dir, cycle
        self.stabilizer, self.context = stabilizer, context
        self.rows: list[dict[str, str]] = []
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="measure")
        self._flowing: deque[tuple[np.ndarray, np.ndarray, np.ndarray | None, Future]] = deque()
        self._pending: deque[Future] = deque()
        self._max_pending = 4 * workers  # bounds the frames held for measuring
        self._last_input: np.ndarray | None = None  # of the last frame added
        self._previous: tuple[np.ndarray, np.ndarray] | None = None  # (input, written) of the last frame settled
        self._flows = threading.local()
        self._count = 0  # frames settled, context included

    def add(self, frame_in: np.ndarray, frame_out: np.ndarray, reconstruction: np.ndarray | None) -> None:
        flow = self._pool.submit(self._warp, self._last_input, frame_in)
        self._last_input = frame_in
        self._flowing.append((frame_in, frame_out, reconstruction, flow))
        while len(self._flowing) > self._max_pending:
            self._settle()

    def _settle(self) -> None:
        """Stabilize and write the oldest frame whose flow is on its way, and queue its measurement."""
        frame_in, frame_out, reconstruction, flow = self._flowing.popleft()
        warp = flow.result()
        previous, written = self._previous, frame_out
        if self.stabilizer is not None:
            written = self.stabilizer.step(warp, None if previous is None else previous[0], frame_in, frame_out).frame
        self._previous = (frame_in, written)
        index, self._count = self._count - self.context, self._count + 1
        if index < 0:
            return
        self.writer.write(written)
        per_frame = frame_out if self.stabilizer is not None else None
        job = self._pool.submit(self._measure, index, (frame_in, written), per_frame, reconstruction, previous, warp)
        self._pending.append(job)
        while len(self._pending) > self._max_pending:
            self.rows.append(self._pending.popleft().result())

    def finish(self) -> None:
        """Write what is left, wait for the outstanding measurements (re-raising their errors), stop the pool."""
        try:
            while self._flowing:
                self._settle()
            while self._pending:
                self.rows.append(self._pending.popleft().result())
        finally:
            self._pool.shutdown(cancel_futures=True)

    def _warp(self, previous: np.ndarray | None, current: np.ndarray) -> Warp | None:
        if previous is None:
            return None
        if not hasattr(self._flows, "estimator"):
            self._flows.estimator = FlowEstimator()
        return self._flows.estimator.warp(previous, current)

    def _measure(
        self,
        index: int,
        current: tuple[np.ndarray, np.ndarray],
        per_frame: np.ndarray | None,
        reconstruction: np.ndarray | None,
        previous: tuple[np.ndarray, np.ndarray] | None,
        warp: Warp | None,
    ) -> dict[str, str]:
        if self.frames_dir is not None:
            with atomic_output(self.frames_dir / f"{index:06d}.png") as tmp:
                if not cv2.imwrite(str(tmp), cv2.cvtColor(current[1], cv2.COLOR_RGB2BGR)):
                    raise VideoError(f"cannot write frame images to {self.frames_dir}")
        # the cycle error is of the per-frame translation (what F reconstructed), the rest of what was written
        scores = cycle_metrics(current[0], reconstruction) if self.cycle and reconstruction is not None else {}
        warp_in, warp_out = (None, None) if previous is None or warp is None else errors_along(warp, previous, current)
        return {
            "frame": str(index),
            "time_s": f"{index / self.fps:.6f}",
            "l1": runfolder.csv_number(scores.get("l1")),
            "psnr": runfolder.csv_number(scores.get("psnr")),
            "ssim": runfolder.csv_number(scores.get("ssim")),
            "warp_in": runfolder.csv_number(warp_in),
            "warp_out": runfolder.csv_number(warp_out),
            "fidelity_psnr": "" if per_frame is None else runfolder.csv_number(psnr(current[1], per_frame)),
        }

    def csv_text(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=runfolder.VIDEO_CYCLE_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return out.getvalue()
