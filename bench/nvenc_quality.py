"""`--crf` for NVENC, chosen by measurement: at each CRF, the `-cq` whose file sits as close to the lossless
frames as libx264's file at that CRF does (PSNR against the lossless frames, ffmpeg's psnr filter).

    python -m bench.nvenc_quality                       # on a CUDA machine with NVENC; prints media/codecs.py's table
    python -m bench.nvenc_quality --encoder libx264     # the method checked against itself: the identity

Material: the shared 720p clip (../shared/data, its first 50 frames) where present, else a synthetic 1280x720
clip. x264 runs as `translate` runs it (preset medium), NVENC as media/codecs.py runs it (-rc vbr -cq Q -b:v 0,
NVENC_PRESET). The table goes into media/codecs.py's NVENC_CQ and bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

from bench.overhead import CLIP
from bench.translate_video import make_clip
from cyclegan_batch.media.codecs import NVENC_PRESET
from cyclegan_batch.media.ffmpeg import ffmpeg_exe

CRFS = (14, 18, 23, 28)
QUALITIES = range(8, 41)


def quality_args(encoder: str, q: int) -> list[str]:
    if encoder.endswith("_nvenc"):
        return ["-rc", "vbr", "-cq", str(q), "-b:v", "0", "-preset", NVENC_PRESET]
    return ["-crf", str(q), "-preset", "medium"]


def psnr_of(encoder: str, q: int, lossless: Path, out: Path) -> float:
    """Average PSNR (Y, U, V pooled, as ffmpeg's psnr filter reports it) of `lossless` encoded at quality `q`."""
    ffmpeg = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    args = ["-i", str(lossless), "-c:v", encoder, "-pix_fmt", "yuv420p", *quality_args(encoder, q), str(out)]
    subprocess.run([*ffmpeg, *args], check=True, capture_output=True)
    compare = ["-i", str(out), "-i", str(lossless), "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"]
    stderr = subprocess.run([*ffmpeg[:-1], "-v", "info", *compare], check=True, capture_output=True, text=True).stderr
    found = re.search(r"PSNR .*average:([\d.]+|inf)", stderr)
    if found is None:
        raise RuntimeError(f"no PSNR in ffmpeg's output: {stderr[-300:]}")
    return float(found.group(1))


def measure(work: Path, quick: bool = False, encoder: str = "h264_nvenc") -> dict:
    """{"table": {crf: q}, "x264_psnr": {crf: dB}, "psnr": {q: dB}} for `encoder` against libx264."""
    frames = 8 if quick else 50
    if CLIP.is_file() and not quick:
        source = work / "source.mkv"
        cut = ["-i", str(CLIP), "-frames:v", str(frames), "-an", "-c:v", "ffv1", str(source)]
        subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *cut], check=True)
    else:
        source = make_clip(work / "source.mp4", frames, "320x180" if quick else "1280x720")
    lossless = work / "lossless.mkv"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(source), "-an", "-c:v", "ffv1", str(lossless)],
        check=True,
    )
    x264 = {crf: psnr_of("libx264", crf, lossless, work / f"x264_{crf}.mp4") for crf in CRFS}
    qualities = CRFS if quick else QUALITIES  # quick: enough to check the method (x264 against itself: identity)
    theirs = {q: psnr_of(encoder, q, lossless, work / f"{encoder}_{q}.mp4") for q in qualities}
    table = {crf: min(theirs, key=lambda q, crf=crf: abs(theirs[q] - x264[crf])) for crf in CRFS}
    return {"encoder": encoder, "frames": frames, "table": table, "x264_psnr": x264, "psnr": theirs}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.nvenc_quality", description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="h264_nvenc")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp), args.quick, args.encoder)
    print(f"{args.encoder} against libx264 (preset medium), {result['frames']} frames, PSNR to the lossless frames:")
    for crf, q in result["table"].items():
        print(f"  crf {crf}: libx264 {result['x264_psnr'][crf]:.2f} dB, -cq {q}: {result['psnr'][q]:.2f} dB")
    print(f"NVENC_CQ = {result['table']}")


if __name__ == "__main__":
    main()
