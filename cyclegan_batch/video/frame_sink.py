"""The video pipeline's last stage: stabilize, encode and measure each translated frame (video/pipeline.py).

Per frame, in a small thread pool: the input's grey levels and its DIS flow from the previous frame (computed
once, shared by the stabilizer and the warping error; not computed when neither is wanted), then frame
images and the warping and fidelity metrics. In order on the encoder thread: stabilization (it needs the
previous stabilized frame), then the conversion to the encoder's planes and the encoder. Frames wait in
bounded queues. The frames and all of this work stay where the model put them (video/frames.py: OpenCV on a
CPU, torch on a GPU); the cycle metrics come with each frame, computed batched beside the model.
"""

from __future__ import annotations

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
from cyclegan_batch.media.picture import Picture
from cyclegan_batch.util.atomic import atomic_output
from cyclegan_batch.video.flow import FlowEstimator
from cyclegan_batch.video.frames import CpuFrames, Frame, TorchFrames
from cyclegan_batch.video.stabilize import Stabilizer, TorchStabilizer

# fidelity_psnr: PSNR of the written (stabilized) frame against the per-frame translation; empty without
# --temporal, inf where they are equal (first frame, after a cut)
Scores = dict[str, float | None]


class FrameSink:
    """The encoder stage. Per frame, in a small thread pool beside it (OpenCV and torch release the GIL): the
    input flow from the previous frame, then frame images and the warping and fidelity metrics. In order on
    this thread: stabilization (it needs the previous stabilized frame), then the encoder.

    The first `context` frames only warm the stabilizer up (a segment's frames before its start): they are
    neither written nor recorded, and the first recorded frame is measured against the last of them.

    `flicker`: measure the warping errors (warp_in, warp_out). Without it and without a stabilizer no flow is
    computed (its DIS flow costs more CPU than encoding the frame) and those columns stay empty."""

    def __init__(
        self,
        writer: FrameWriter | GifWriter,
        ops: CpuFrames | TorchFrames,
        picture: Picture,
        fps: float,
        frames_dir: Path | None,
        workers: int,
        stabilizer: Stabilizer | TorchStabilizer | None = None,
        context: int = 0,
        flicker: bool = True,
    ) -> None:
        self.writer, self.ops, self.picture, self.fps, self.frames_dir = writer, ops, picture, fps, frames_dir
        self.stabilizer, self.context = stabilizer, context
        self._flows_wanted = flicker or stabilizer is not None
        self.rows: list[dict[str, str]] = []
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="measure")
        self._flowing: deque[tuple[Frame, Frame, Scores | None, Future | None]] = deque()
        self._pending: deque[Future] = deque()
        self._max_pending = 4 * workers  # bounds the frames held for measuring
        self._last_grey: Future[np.ndarray] | None = None  # of the last frame added
        self._previous: tuple[Frame, Frame] | None = None  # (input, written) of the last frame settled
        self._flows = threading.local()
        self._count = 0  # frames settled, context included

    def add(self, frame_in: Frame, frame_out: Frame, scores: Scores | None) -> None:
        """One translated frame, in order, with its cycle metrics (None without the cycle)."""
        flow = None
        if self._flows_wanted:
            grey = self._pool.submit(self.ops.grey, frame_in)
            flow = self._pool.submit(self._warp, self._last_grey, grey)
            self._last_grey = grey
        self._flowing.append((frame_in, frame_out, scores, flow))
        while len(self._flowing) > self._max_pending:
            self._settle()

    def _settle(self) -> None:
        """Stabilize and write the oldest frame whose flow is on its way, and queue its measurement."""
        frame_in, frame_out, scores, flow = self._flowing.popleft()
        warp = None if flow is None else flow.result()
        previous, written = self._previous, frame_out
        if self.stabilizer is not None:
            written = self.stabilizer.step(warp, None if previous is None else previous[0], frame_in, frame_out).frame
        self._previous = (frame_in, written)
        index, self._count = self._count - self.context, self._count + 1
        if index < 0:
            return
        self.writer.write(self.ops.planes(written, self.writer.layout, self.picture))
        per_frame = frame_out if self.stabilizer is not None else None
        job = self._pool.submit(self._measure, index, (frame_in, written), per_frame, scores, previous, warp)
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

    def _warp(self, previous: Future[np.ndarray] | None, current: Future[np.ndarray]):  # noqa: ANN202
        """The flow from the previous frame (its grey levels were queued first, so they are ready or running)."""
        if previous is None:
            return None
        if not hasattr(self._flows, "estimator"):
            self._flows.estimator = FlowEstimator()
        flows = self._flows.estimator.flows(previous.result(), current.result())
        return None if flows is None else self.ops.warp(flows)

    def _measure(
        self,
        index: int,
        current: tuple[Frame, Frame],
        per_frame: Frame | None,
        scores: Scores | None,
        previous: tuple[Frame, Frame] | None,
        warp,  # noqa: ANN001 - Warp or DeviceWarp, as self.ops makes them
    ) -> dict[str, str]:
        if self.frames_dir is not None:
            with atomic_output(self.frames_dir / f"{index:06d}.png") as tmp:
                if not cv2.imwrite(str(tmp), cv2.cvtColor(self.ops.image(current[1]), cv2.COLOR_RGB2BGR)):
                    raise VideoError(f"cannot write frame images to {self.frames_dir}")
        # the cycle error is of the per-frame translation (what F reconstructed), the rest of what was written
        scores = scores or {}
        warp_in = warp_out = None
        if previous is not None and warp is not None:
            warp_in, warp_out = warp.error(previous[0], current[0]), warp.error(previous[1], current[1])
        return {
            "frame": str(index),
            "time_s": f"{index / self.fps:.6f}",
            "l1": runfolder.csv_number(scores.get("l1")),
            "psnr": runfolder.csv_number(scores.get("psnr")),
            "ssim": runfolder.csv_number(scores.get("ssim")),
            "warp_in": runfolder.csv_number(warp_in),
            "warp_out": runfolder.csv_number(warp_out),
            "fidelity_psnr": "" if per_frame is None else runfolder.csv_number(self.ops.psnr(current[1], per_frame)),
        }

    def csv_text(self) -> str:
        return runfolder.video_cycle_text(self.rows)
