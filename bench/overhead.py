"""The work around the model, in CPU time: `translate` against a plain ffmpeg transcode and a plain OpenCV loop.

    python -m bench.overhead                       # the 720p clip, 1000 images of 256^2, 100 of 1024^2
    python -m bench.overhead --only video --before none
    python -m bench.overhead --before 54c773a      # also the translate of that commit, in the same run
    python -m bench.overhead --only images --images 256:1000 --rounds 5 --before none

On a GPU the work around the model sets the pace (bench/RESULTS.md, "CUDA GPU (current)"); the same work
costs CPU time on any machine, so it is measured here without a GPU. The model is a tiny *spatial*
generator (a ResNet with ngf 4 and no residual blocks, random weights) through the general path: the
generator's own share is small and measured apart, so what is left is the pipeline's.

Each row is a whole process (its CPU time and its children's, ffmpeg included, start-up included):
- `translate` of the video (`--no-cycle --no-temporal`, then the defaults: G and F, the cycle metrics, the
  stabilizer), and of an image folder (`--no-cycle`, then the defaults), as `python -m cyclegan_batch`;
- the plain transcode: `ffmpeg -i clip -c:v libx264 -crf 18 -preset medium -pix_fmt yuv420p -c:a copy`
  (the codec settings `translate` writes with);
- the plain image loop: `cv2.imread` + `cv2.imwrite` of each PNG of the same folder, in one Python process.
The generator alone: the same generators as `translate` runs them (precision, layout, batch, concurrent
calls: bench/timing.py's model_only), in this process over as many frames or images, G alone or G then F.

    beyond = (translate - generator passes) / plain baseline         targets: 1.5x, 3x, 2x (issue 30)

`--before REF` runs the `translate` rows once more with the code of a git commit (its tree extracted to a
temporary folder and put first on PYTHONPATH), alternating with this tree's, so both sets of figures come
from one run on one machine under one load.

`--rounds N` measures every row N times, round after round (so a drift in the machine's speed reaches every
row alike): the table gives each row's median with its range, and each round's own ratio against its own
baseline, their median with their range. On a shared 2-core VM the same `translate` varies by 10-25 % in CPU
time from one run to the next.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from bench.timing import cpu_seconds, model_only
from bench.translate_images import make_images
from bench.translate_video import make_clip
from cyclegan_batch.media.ffmpeg import ffmpeg_exe
from cyclegan_batch.media.probe import probe
from cyclegan_batch.models.engine import Translator
from cyclegan_batch.models.modelfile import ModelInfo, load_generators, save_generators
from cyclegan_batch.models.nets import GeneratorSpec, ResnetGenerator

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
CLIP = DATA / "bigbuckbunny_720p_5s.mp4"
TINY = GeneratorSpec(ngf=4, n_blocks=0)  # spatial (conv7, strided convs, transposed convs), nearly free
BEFORE = "54c773a"  # the last commit before issue 30 changed the pipeline
TARGETS = {"video --no-cycle --no-temporal": 1.5, "video (defaults)": 3.0, "images": 2.0}


@dataclass
class Row:
    name: str
    items: int
    cpu_s: float
    generator: str = ""  # a translate row: the row of its generators alone...
    baseline: str = ""  # ...and the plain row its remainder is compared with
    target: float = 0.0
    output_bytes: int = 0  # an image folder's outputs, all files (PNG compression: today's against before)
    samples: tuple[float, ...] = ()  # every round's CPU s (cpu_s is their median)


def child_cpu(command: list[str], tree: Path | None = None) -> float:
    """CPU seconds of one whole process and its children (ffmpeg), start-up included; with `tree`, the package
    is imported from that source tree (its working directory and PYTHONPATH: `python -m` looks in the
    working directory first)."""
    env = None if tree is None else {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def tiny_model_file(folder: Path) -> Path:
    torch.manual_seed(0)
    path = folder / "tiny.safetensors"
    save_generators(path, ResnetGenerator(TINY), ResnetGenerator(TINY), ModelInfo(TINY))
    return path


def generator_cpu(model: Path, shape: tuple[int, int], count: int, cycle: bool) -> float:
    """CPU seconds of the generators alone over `count` frames of `shape` (H, W), as `translate` runs them."""
    translator = Translator(load_generators(model), cycle=cycle)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (8, *shape, 3), dtype=np.uint8)  # content does not change a conv's cost
    model_only(translator, frames[:4], "auto", concurrent=True)  # warm-up: oneDNN's plans
    batch = translator.batch_size_for(*shape)
    many = frames[np.arange(count) % len(frames)] if count * shape[0] * shape[1] <= 50_000_000 else None
    start = cpu_seconds()
    if many is not None:
        model_only(translator, many, batch, concurrent=True)
    else:  # big frames: one pass over 8 at a time keeps memory flat
        for first in range(0, count, len(frames)):
            model_only(translator, frames[: min(len(frames), count - first)], batch, concurrent=True)
    return cpu_seconds() - start


def translate_command(src: Path, out: Path, model: Path, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "cyclegan_batch", "translate", str(src), str(out), "--model", str(model)] + [
        *flags,
        "--overwrite",
        "--quiet",
    ]


def extract(ref: str, repo: Path, dst: Path) -> Path | None:
    """The tree of git commit `ref` of `repo` in `dst`, or None (with a note) where git or the commit is missing."""
    dst.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", ref], capture_output=True)
    if archive.returncode != 0:
        print(f"--before {ref}: not measured ({archive.stderr.decode(errors='replace').strip()})", flush=True)
        return None
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive.stdout, check=True)
    return dst


def video_rows(work: Path, model: Path, clip: Path, trees: dict[str, Path], frames: int) -> list[Row]:
    info = probe(clip)
    n = info.frames if frames <= 0 else min(frames, info.frames)
    if n < info.frames:  # a shorter cut of the clip, stream-copied at keyframes would change the count: re-encode
        src = work / "clip.mp4"
        cut = ["-i", str(clip), "-frames:v", str(n), "-c:v", "libx264", "-crf", "12", "-c:a", "copy"]
        if not src.is_file():  # cut in the first round
            subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *cut, str(src)], check=True)
    else:
        src = clip
    transcode = [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a?", "-c:v"]
    transcode += ["libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "copy"]
    transcode += ["-movflags", "+faststart", str(work / "transcode.mp4")]
    plain = "ffmpeg transcode (libx264 -crf 18, audio copied)"
    rows = [Row(plain, n, child_cpu(transcode))]
    shape = (info.height, info.width)
    print(f"  {rows[-1].name}: {rows[-1].cpu_s:.1f} CPU s", flush=True)
    for cycle, label in ((False, "G"), (True, "G and F")):
        rows.append(Row(f"generator alone, {label}, video", n, generator_cpu(model, shape, n, cycle)))
        print(f"  {rows[-1].name}: {rows[-1].cpu_s:.1f} CPU s", flush=True)
    for flags, label in ((["--no-cycle", "--no-temporal"], "--no-cycle --no-temporal"), ([], "(defaults)")):
        generator = f"generator alone, {'G and F' if not flags else 'G'}, video"
        for code, tree in trees.items():
            out = work / "out" / code / "clip.mp4"
            cpu = child_cpu(translate_command(src, out, model, flags), tree)
            rows.append(Row(f"translate video {label} [{code}]", n, cpu, generator, plain, TARGETS[f"video {label}"]))
            print(f"  {rows[-1].name}: {cpu:.1f} CPU s", flush=True)
    return rows


def image_rows(work: Path, model: Path, size: int, count: int, trees: dict[str, Path]) -> list[Row]:
    folder = work / f"images{size}"
    if not folder.is_dir():  # made in the first round, read again in the others
        make_images(folder, count, size)
    loop = "import cv2, pathlib, sys\nout = pathlib.Path(sys.argv[2])\nout.mkdir()\n"
    loop += "for p in sorted(pathlib.Path(sys.argv[1]).glob('*.png')):\n"
    loop += "    cv2.imwrite(str(out / p.name), cv2.imread(str(p)))"
    plain = f"OpenCV read/write loop, {size}^2 PNG"
    copies = work / f"cv{size}"
    shutil.rmtree(copies, ignore_errors=True)  # the loop makes it anew (a second round writes it again)
    rows = [Row(plain, count, child_cpu([sys.executable, "-c", loop, str(folder), str(copies)]))]
    print(f"  {rows[-1].name}: {rows[-1].cpu_s:.1f} CPU s", flush=True)
    for cycle, label in ((False, "G"), (True, "G and F")):
        rows.append(Row(f"generator alone, {label}, {size}^2", count, generator_cpu(model, (size, size), count, cycle)))
    for flags, label in ((["--no-cycle"], "--no-cycle"), ([], "(defaults)")):
        generator = f"generator alone, {'G and F' if not flags else 'G'}, {size}^2"
        for code, tree in trees.items():
            out = work / "out" / code / f"images{size}"
            cpu = child_cpu(translate_command(folder, out, model, flags), tree)
            rows.append(Row(f"translate {size}^2 {label} [{code}]", count, cpu, generator, plain, TARGETS["images"]))
            rows[-1].output_bytes = sum(p.stat().st_size for p in out.rglob("*.png"))
            print(f"  {rows[-1].name}: {cpu:.1f} CPU s", flush=True)
    return rows


def medians(rounds: list[list[Row]]) -> list[Row]:
    """Each row's median CPU time over the rounds (the rows come in the same order every round), with every
    round's figure kept for the paired ratios."""
    rows = []
    for same in zip(*rounds, strict=True):
        cpu = tuple(r.cpu_s for r in same)
        rows.append(replace(same[0], cpu_s=statistics.median(cpu), samples=cpu))
    return rows


def spread(values: Sequence[float], digits: int) -> str:
    return f" ({min(values):.{digits}f}-{max(values):.{digits}f})" if len(values) > 1 else ""


def render(rows: list[Row], startup_s: float) -> str:
    """The table: CPU time per item, and what is left beyond the generator against the plain baseline."""
    by_name = {r.name: r for r in rows}
    lines = [
        "| command | items | CPU s | CPU ms/item | beyond the generator | against the plain baseline | target "
        "| files |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [r.name, str(r.items), f"{r.cpu_s:.1f}{spread(r.samples, 1)}", f"{1000 * r.cpu_s / r.items:.1f}"]
        cells += ["", "", "", ""]
        if r.generator:
            generator, baseline = by_name[r.generator], by_name[r.baseline]
            # each round's own ratio (its rows ran minutes apart, under the same drift), then their median
            rounds = zip(r.samples, generator.samples, baseline.samples, strict=True)
            ratios = [(cpu - gen) / base for cpu, gen, base in rounds]
            beyond, ratio = r.cpu_s - generator.cpu_s, statistics.median(ratios)
            met = "met" if ratio <= r.target else "not met"
            cells[4:7] = [f"{beyond:.1f} s", f"**{ratio:.2f}x**{spread(ratios, 2)}", f"{r.target:g}x ({met})"]
        if r.output_bytes:
            cells[7] = f"{r.output_bytes / 2**20:.2f} MiB"
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"start-up of a translate process (Python, imports): {startup_s:.1f} CPU s, included in its rows")
    if any(len(r.samples) > 1 for r in rows):
        lines.append(
            "CPU s: the median of the rounds (lowest-highest); beyond: of the medians; against the baseline: the "
            "median of each round's own ratio (lowest-highest)"
        )
    return "\n".join(lines)


def measure_round(
    args: argparse.Namespace, work: Path, model: Path, trees: dict[str, Path], clip: Path | None
) -> list[Row]:
    """Every row once: the video's (where `clip`), then each image folder's."""
    rows = video_rows(work, model, clip, trees, args.frames) if clip is not None else []
    specs = args.images.split(",") if "images" in args.only else []
    for spec in specs:
        size, count = map(int, spec.split(":"))
        print(f"images: {count} of {size}^2", flush=True)
        rows += image_rows(work, model, size, count, trees)
    return rows


def kinds(text: str) -> set[str]:
    return {kind.strip() for kind in text.split(",")}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.splitlines()[0])
    p.add_argument("--clip", type=Path, default=CLIP, help="the video (default: the 720p clip; synthetic if absent)")
    p.add_argument("--frames", type=int, default=0, help="only the first N frames of the clip (0: all)")
    p.add_argument("--images", default="256:1000,1024:100", help="SIZE:COUNT,... image folders (PNG)")
    p.add_argument("--only", default="video,images", type=kinds, help="video, images, or both")
    p.add_argument("--before", default=BEFORE, help="git commit whose translate runs beside this tree's; none: skip")
    p.add_argument("--repo", type=Path, default=ROOT, help="the git checkout --before is taken from")
    p.add_argument("--rounds", type=int, default=3, help="measure every row this many times; the table has medians")
    return p


def main() -> None:
    args = parser().parse_args()
    if args.rounds < 1:
        parser().error("--rounds must be at least 1")
    load = os.getloadavg()
    print(
        f"# python -m bench.overhead - {datetime.datetime.now():%Y-%m-%d %H:%M}, CPU, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, load average {load[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = tiny_model_file(work)
        trees = {"this tree": ROOT}
        if args.before != "none" and (tree := extract(args.before, args.repo, work / "before")) is not None:
            trees = {f"before: {args.before}": tree, **trees}
        clip = args.clip if "video" in args.only else None
        if clip is not None and not clip.is_file():
            print(f"{clip} is absent: a synthetic 1280x720 clip with audio instead", flush=True)
            clip = make_clip(work / "synthetic.mp4", args.frames or 132, "1280x720")
        rounds: list[list[Row]] = []
        startups = []
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}" + (f", video: {clip.name}" if clip else ""), flush=True)
            startups.append(child_cpu([sys.executable, "-c", "import cyclegan_batch.translate.verb"], ROOT))
            rounds.append(measure_round(args, work, model, trees, clip))
        rows, startup = medians(rounds), statistics.median(startups)
    print()
    print(render(rows, startup))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
