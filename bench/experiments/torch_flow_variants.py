"""Which torch Lucas-Kanade settings let the GPU stabilizer (TorchStabilizer) follow what DIS follows.

Run on the CPU device (the same torch code as on CUDA), in memory, graded with Farneback (neither flow):

    python -m bench.experiments.torch_flow_variants --frames 16

Per clip: % of the added flicker removed and PSNR to the per-frame output, for the CPU path (DIS) and for
TorchStabilizer with each variant of torch_flow's constants / flow size, and its flow's time per frame pair.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

import torch

import bench.temporal
from bench.temporal import decode, quality, translate_all
from bench.temporal_clips import CLIPS, write_clip
from cyclegan_batch.demo import build_demo
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.translate.verb import default_model
from cyclegan_batch.video import DEFAULT_STRENGTH, stabilize, torch_flow

PLAIN_BACKWARD_WARP = torch_flow.backward_warp


def use_variant(settings: dict) -> None:
    """The CPU path for {}, else TorchStabilizer on the CPU device with these torch_flow settings."""
    if not settings:
        bench.temporal.make_stabilizer = stabilize.make_stabilizer
        return
    for key, value in settings.items():
        if key != "FLOW_MAX_SIDE":
            setattr(torch_flow, key, value)
    stabilize.backward_warp = functools.partial(PLAIN_BACKWARD_WARP, max_side=settings["FLOW_MAX_SIDE"])
    bench.temporal.make_stabilizer = lambda strength, device: stabilize.TorchStabilizer(torch.device("cpu"), strength)


VARIANTS: dict[str, dict] = {
    "dis (cpu path)": {},
    "lk current": dict(LEVELS=4, ITERATIONS=3, WINDOW=9, FLOW_MAX_SIDE=10**6),
    "lk 640": dict(LEVELS=4, ITERATIONS=3, WINDOW=9, FLOW_MAX_SIDE=640),
    "lk 5 levels": dict(LEVELS=5, ITERATIONS=3, WINDOW=9, FLOW_MAX_SIDE=640),
    "lk window 15": dict(LEVELS=5, ITERATIONS=3, WINDOW=15, FLOW_MAX_SIDE=640),
    "lk 5 iterations": dict(LEVELS=5, ITERATIONS=5, WINDOW=15, FLOW_MAX_SIDE=640),
    "lk 320": dict(LEVELS=5, ITERATIONS=3, WINDOW=15, FLOW_MAX_SIDE=320),
}
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--only", nargs="*", help="variant names")
    args = p.parse_args()
    translator = Translator.from_file(default_model(), device="cpu", cycle=False)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_demo(work / "demo", n_train=1, n_heldout=1)
        clips = {v.stem: v for v in sorted((work / "demo" / "videos").glob("*.mp4"))}
        clips |= {n: write_clip(CLIPS[n](args.frames), work / f"{n}.mp4") for n in ("fast_motion", "occlusion")}
        clips |= {v.stem: v for v in sorted(SHARED.glob("*.mp4"))}
        for name, path in clips.items():
            inputs = decode(path, args.frames)
            outputs = translate_all(translator, inputs)
            for variant, settings in VARIANTS.items():
                if args.only and variant not in args.only:
                    continue
                use_variant(settings)
                start = time.perf_counter()
                q = quality(name, inputs, outputs, DEFAULT_STRENGTH)
                seconds = (time.perf_counter() - start) / len(inputs)
                print(
                    f"{name:22s} {variant:16s} removed {q['removed']:6.0%}  fid {q['fidelity']:5.1f} dB"
                    f"  resets {q['resets']:.0f}  {seconds:.2f} s/frame (grading included)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
