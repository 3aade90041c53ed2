r"""Draw the manual's pictures from what the CLI wrote.

docs/video_frame_pair.png, one frame of a demo video beside the same frame of its translation (a minute on two
CPU cores):

    cyclegan-batch demo /tmp/demo-inputs
    cyclegan-batch translate /tmp/demo-inputs/videos/astronaut_pan.mp4 /tmp/demo-out/ --model bundled
    python docs/make_pictures.py /tmp/demo-inputs/videos/astronaut_pan.mp4 /tmp/demo-out/astronaut_pan.mp4

Frames are decoded by the ffmpeg that imageio-ffmpeg ships; the picture is input | gap | translated.

docs/preset_<name>.png, held-out crops of a `python -m bench.quick_style --keep DIR` run, a row each: the crop |
the preset's translation | the truth (the mapping applied to the crop), enlarged (`--zoom`, 2x) without smoothing:

    python -m bench.quick_style --presets quick --mappings engraving --seeds 0 --keep DIR
    python docs/make_pictures.py --preset-run DIR/engraving-quick-0 --crops 0006.png,0000.png \
        --out docs/preset_quick.png
    python -m bench.quick_style --presets grade --mappings faded_film --seeds 0 --size 256 --heldout 24 --keep DIR
    python docs/make_pictures.py --preset-run DIR/faded_film-grade-0 --crops 0000.png,0005.png --zoom 1 \
        --out docs/preset_grade.png
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


def preset_rows(run: Path, names: list[str], zoom: int = 2) -> np.ndarray:
    """Crop | translation | truth for each held-out crop name of a kept bench.quick_style run, rows stacked."""
    rows = []
    for name in names:
        crop, fake, truth = (np.asarray(Image.open(run / sub / name).convert("RGB")) for sub in
                             ("heldout/A", "out", "heldout/B_true"))  # fmt: skip
        rows.append(side_by_side(side_by_side(crop, fake), truth))
    strip = np.concatenate([np.pad(r, ((0, 6), (0, 0), (0, 0)), constant_values=255) for r in rows])[:-6]
    return strip.repeat(zoom, axis=0).repeat(zoom, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, nargs="?", help="the demo video")
    parser.add_argument("translated", type=Path, nargs="?", help="what `cyclegan-batch translate` wrote for it")
    parser.add_argument("--frame", type=int, default=36, help="frame index (default: the middle of the 72-frame pan)")
    parser.add_argument("--preset-run", type=Path, help="a kept bench.quick_style run folder: draw its crops instead")
    parser.add_argument("--crops", default="0000.png,0003.png", help="held-out crop names, with --preset-run")
    parser.add_argument("--zoom", type=int, default=2, help="enlargement without smoothing, with --preset-run")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("video_frame_pair.png"))
    args = parser.parse_args()
    if args.preset_run:
        row = preset_rows(args.preset_run, args.crops.split(","), args.zoom)
    elif args.input and args.translated:
        row = side_by_side(frame(args.input, args.frame), frame(args.translated, args.frame))
    else:
        parser.error("give the demo video and its translation, or --preset-run")
    Image.fromarray(row).save(args.out, optimize=True)
    print(f"{args.out}: {row.shape[1]}x{row.shape[0]}, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
