"""Where each segment of a split video starts, so a segment's job can warm its stabilizer on the frames before it.

`video split` writes `segments.csv` beside the segments (name, first frame in the original, frame count).
`translate SEGMENT OUT --context-from ORIGINAL` looks its segment up there and decodes the frames just
before the segment's first frame from the original; they go through the model and the stabilizer and are
discarded, so the segment starts in the state its neighbour ended in and the join has no seam.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from cyclegan_batch import runfolder
from cyclegan_batch.errors import UserError
from cyclegan_batch.media.decode import FrameReader
from cyclegan_batch.media.ffmpeg import VideoError
from cyclegan_batch.media.probe import probe
from cyclegan_batch.util.atomic import atomic_write_text

INDEX_NAME = runfolder.SEGMENTS_INDEX
INDEX_COLUMNS = ("segment", "first_frame", "frames")
CONTEXT_FRAMES = 12  # the stabilizer's memory decays as strength^n: 0.8^12 < 7 %


def write_index(segments: list[Path], out_dir: Path) -> Path:
    """OUT_DIR/segments.csv for the `segments` (in order) that `video split` wrote."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    first = 0
    for segment in segments:
        frames = probe(segment).frames
        writer.writerow((segment.name, first, frames))
        first += frames
    path = Path(out_dir) / INDEX_NAME
    atomic_write_text(path, text.getvalue())
    return path


def first_frame(segment: Path) -> int:
    """The segment's first frame in the video it was cut from, from the split's segments.csv beside it."""
    index = segment.parent / INDEX_NAME
    if not index.is_file():
        raise UserError(f"no {INDEX_NAME} beside {segment}: cut it with `cyclegan-batch video split --overwrite`")
    with index.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("segment") == segment.name:
                return int(row["first_frame"])
    raise UserError(f"{segment.name} is not in {index}: cut it again with `cyclegan-batch video split --overwrite`")


def context_frames(original: Path, segment: Path, count: int = CONTEXT_FRAMES, planes: bool = True) -> list[np.ndarray]:
    """The (up to) `count` frames of `original` just before `segment` starts, decoded (exact seek) as raw
    frames (media/decode.py; `planes` as there)."""
    start = first_frame(segment)
    count = min(count, start)
    if count == 0:
        return []
    try:
        info = probe(original)
    except VideoError as e:
        raise UserError(f"--context-from {original}: {e}") from None
    if start > info.frames:
        raise UserError(f"--context-from {original}: it has {info.frames} frames, the segment starts at {start}")
    # half a frame early: the seek keeps every frame at or after that time
    reader = FrameReader(original, info, info.pts_s[start - count] - 0.5 / float(info.fps), count, planes)
    try:
        frames = [frame.copy() for frame in reader]
    finally:
        reader.close()
    if len(frames) != count:
        raise UserError(f"--context-from {original}: decoded {len(frames)} of the {count} frames before {segment.name}")
    return frames


def segment_context(
    segment: Path, original: Path | None, stabilizing: bool, flicker: bool, planes: bool
) -> list[np.ndarray]:
    """What `translate --context-from ORIGINAL` puts before a segment: enough frames to warm the stabilizer
    up, or (per-frame translation) the one that gives the segment's first frame its warping error; none
    when the warping errors are not measured either."""
    count = CONTEXT_FRAMES if stabilizing else 1 if flicker else 0
    return [] if original is None or count == 0 else context_frames(original, segment, count, planes)
