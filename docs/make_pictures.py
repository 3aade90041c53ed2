"""Draw docs/video_frame_pair.png: one frame of a demo video beside the same frame of its translation.

The inputs come from the CLI (a minute on two CPU cores):

    cyclegan-batch demo /tmp/demo-inputs
    cyclegan-batch translate /tmp/demo-inputs/videos/astronaut_pan.mp4 /tmp/demo-out/ --model bundled
    python docs/make_pictures.py /tmp/demo-inputs/videos/astronaut_pan.mp4 /tmp/demo-out/astronaut_pan.mp4

Frames are decoded by the ffmpeg that imageio-ffmpeg ships; the picture is input | gap | translated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from PIL import Image


def frame(video: Path, index: int) -> np.ndarray:
    """Frame `index` of `video` as H x W x 3 uint8 RGB."""
    with imageio.get_reader(video, format="FFMPEG") as reader:
        return np.asarray(reader.get_data(index))[..., :3]


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 6) -> np.ndarray:
    """The two frames in one row with a white gap between them."""
    height = max(left.shape[0], right.shape[0])
    row = np.full((height, left.shape[1] + gap + right.shape[1], 3), 255, np.uint8)
    row[: left.shape[0], : left.shape[1]] = left
    row[: right.shape[0], left.shape[1] + gap :] = right
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="the demo video")
    parser.add_argument("translated", type=Path, help="what `cyclegan-batch translate` wrote for it")
    parser.add_argument("--frame", type=int, default=36, help="frame index (default: the middle of the 72-frame pan)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("video_frame_pair.png"))
    args = parser.parse_args()
    row = side_by_side(frame(args.input, args.frame), frame(args.translated, args.frame))
    Image.fromarray(row).save(args.out, optimize=True)
    print(f"{args.out}: {row.shape[1]}x{row.shape[0]}, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
