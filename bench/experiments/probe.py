"""Probe time of `media.ffmpeg.probe` (the ffmpeg binary, one process) against PyAV doing the same work.

    .venv/bin/python -m bench.experiments.probe                 # needs `pip install av`; it is not a dependency
    .venv/bin/python -m bench.experiments.probe --mutants 100   # also probe damaged copies, each in its own process

The same work: every packet of the video stream (pts, duration: frame count and rate), and the first
frame decoded (size after rotation, SAR, colour description). Clips are made here with the same ffmpeg.
The mutants (random bytes overwritten, spans zeroed, files cut short) count how often either probe
takes its process down or hangs: a crash in PyAV's in-process decoder would end the whole batch.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cyclegan_batch.media.ffmpeg import ffmpeg_exe
from cyclegan_batch.media.probe import probe

CLIPS = {  # name -> ffmpeg input and encoding arguments
    "anamorphic 176x144, 20 frames.mp4": ["-i", "testsrc=size=176x144:rate=25", "-frames:v", "20", "-vf",
                                          "setsar=128/117:max=1000", "-c:v", "libx264"],
    "322x182 4:4:4, 48 frames.mkv": ["-i", "testsrc=size=322x182:rate=24", "-frames:v", "48", "-c:v", "libx264",
                                     "-pix_fmt", "yuv444p"],
    "gif 64x48, 20 frames.gif": ["-i", "testsrc=size=64x48:rate=10", "-frames:v", "20", "-c:v", "gif"],
    "640x360 + audio, 20 s.mp4": ["-i", "testsrc=size=640x360:rate=30", "-f", "lavfi", "-i", "sine", "-t", "20",
                                  "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"],
}  # fmt: skip


def pyav_probe(path: Path) -> tuple:
    import av

    with av.open(str(path)) as container:
        stream = next(v for v in container.streams.video if not v.disposition & av.stream.Disposition.attached_pic)
        packets = [(p.pts if p.pts is not None else p.dts, p.duration) for p in container.demux(stream) if p.size]
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        return len(packets), frame.width, frame.height, frame.rotation, stream.sample_aspect_ratio, frame.colorspace


def median_ms(fn, path: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[len(times) // 2]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    kind = rng.choice(["bytes", "bytes", "zeros", "cut"])
    if kind == "cut":
        return bytes(out[: rng.randrange(len(out))])
    for _ in range(rng.randint(1, 40) if kind == "bytes" else 1):
        at = rng.randrange(len(out))
        size = 1 if kind == "bytes" else rng.randint(16, 2000)
        out[at : at + size] = bytes(rng.randrange(256) if kind == "bytes" else 0 for _ in out[at : at + size])
    return bytes(out)


def survives(code: str, path: Path) -> str:
    try:
        proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "hang"
    return "ok" if proc.returncode == 0 else f"died ({proc.returncode})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--mutants", type=int, default=0)
    args = parser.parse_args()
    try:
        import av
    except ImportError:
        sys.exit("bench.experiments.probe compares against PyAV: `pip install av` first (it is not a dependency)")
    timed = "import time; t = time.perf_counter(); import av; print(round(1000 * (time.perf_counter() - t)))"
    import_ms = subprocess.run([sys.executable, "-c", timed], capture_output=True, text=True).stdout.strip()
    print(f"PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}): `import av` takes {import_ms} ms")
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for name, spec in CLIPS.items():
            path = Path(tmp) / name
            cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", *spec, str(path)]
            subprocess.run(cmd, check=True)
            clips.append(path)
        print(f"{'clip':<36} {'ffmpeg process':>15} {'PyAV':>8} {'ratio':>6}")
        for path in clips:
            ours, theirs = median_ms(probe, path, args.repeats), median_ms(pyav_probe, path, args.repeats)
            print(f"{path.name:<36} {ours:>12.1f} ms {theirs:>5.1f} ms {ours / theirs:>5.1f}x")
        if args.mutants:
            rng, counts = random.Random(0), {}
            ours_code = "import sys\nfrom cyclegan_batch.media.ffmpeg import probe, VideoError\n"
            ours_code += "try: probe(sys.argv[1])\nexcept VideoError: pass"
            theirs_code = "import sys\nfrom bench.experiments.probe import pyav_probe\n"
            theirs_code += "try: pyav_probe(sys.argv[1])\nexcept Exception: pass"  # any exception is an answer
            for i in range(args.mutants):
                src = clips[i % len(clips[:3])]  # the small clips
                path = Path(tmp) / f"mutant_{i}{src.suffix}"
                path.write_bytes(mutate(src.read_bytes(), rng))
                for name, code in (("ffmpeg process", ours_code), ("PyAV", theirs_code)):
                    key = (name, survives(code, path))
                    counts[key] = counts.get(key, 0) + 1
            print(
                f"{args.mutants} damaged copies: " + ", ".join(f"{n} {r}: {c}" for (n, r), c in sorted(counts.items()))
            )


if __name__ == "__main__":
    main()
