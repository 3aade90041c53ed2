"""A new style in ten minutes on a laptop CPU: the `grade` preset on known colour mappings, held-out PSNR gain.

    python -m bench.quick_style                               # every mapping, 8 minutes of training each
    python -m bench.quick_style --mappings bleach_bypass --minutes 2 --set lambda_identity=0   # tuning

For each mapping (known colour grades and tone curves, none of them the demo's golden hour, and one
texture-like filter):
1. build two unpaired domains from the photos inside the scikit-image wheel (as `cyclegan-batch demo`
   does): A = photo crops, B = *other* crops with the mapping applied; and held-out pairs (crops, and the
   mapping applied to the very same crops) at full resolution;
2. `cyclegan-batch prepare`, then `cyclegan-batch train --preset grade --minutes M`: the two together are
   the user's ten minutes;
3. `cyclegan-batch translate` of the held-out crops at full resolution;
4. PSNR of the translation and of the untranslated crop against the truth: the gain over doing nothing;
5. with the [metrics] extra, `cyclegan-batch score`: KID x100 of the translation and of the untranslated
   crops against B's images, the realism measure, which matters most on the texture-like mapping.
Every step is the CLI, as a user runs it. `day_for_night` was kept out of the preset's tuning and is
reported separately (HELD_OUT); `stylized` changes texture, not colour (TEXTURE), and was not tuned on.
The table gives the machine's load and the steps training managed, since on a shared machine ten minutes
buy fewer steps than on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from cyclegan_batch.demo import PHOTOS, random_crops, save_png, skimage_photo

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
Mapping = Callable[[np.ndarray], np.ndarray]  # HxWx3 float in [0, 1] -> the same


def _luma(x: np.ndarray) -> np.ndarray:
    return (x @ LUMA)[..., None]


def _s_curve(x: np.ndarray, amount: float) -> np.ndarray:
    return (1 - amount) * x + amount * x * x * (3 - 2 * x)  # blend towards smoothstep: more contrast


def bleach_bypass(x: np.ndarray) -> np.ndarray:
    """Silver retained: half the colour gone, hard contrast, slightly darker."""
    x = 0.45 * x + 0.55 * _luma(x)
    return _s_curve(_s_curve(x, 1.0), 0.6) ** 1.1


def cross_process(x: np.ndarray) -> np.ndarray:
    """Per-channel tone curves: contrasty red, green lifted in the mids, blue shadows lifted, highlights yellow."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    return np.stack([_s_curve(r, 0.9), g**0.8, 0.18 + 0.62 * b], axis=-1)


def faded_film(x: np.ndarray) -> np.ndarray:
    """Matte print: lifted blacks, dimmed whites, warm cast, less saturation."""
    x = 0.7 * x + 0.3 * _luma(x)
    x = 0.14 + 0.74 * x
    return x * np.array([1.06, 1.0, 0.86], dtype=np.float32)


def day_for_night(x: np.ndarray) -> np.ndarray:
    """Day shot as night: much darker, colour mostly gone, a blue cast (kept out of the tuning)."""
    x = 0.35 * x + 0.65 * _luma(x)
    return 0.7 * x**1.7 * np.array([0.72, 0.9, 1.2], dtype=np.float32) + 0.02


def stylized(x: np.ndarray) -> np.ndarray:
    """Texture, not colour: OpenCV's edge-preserving stylization (flattened surfaces, inked edges)."""
    u8 = (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.stylization(u8, sigma_s=30, sigma_r=0.4).astype(np.float32) / 255.0


MAPPINGS: dict[str, Mapping] = {
    "bleach_bypass": bleach_bypass,
    "cross_process": cross_process,
    "faded_film": faded_film,
    "day_for_night": day_for_night,
    "stylized": stylized,
}
HELD_OUT = "day_for_night"
TEXTURE = "stylized"
LABELS = {HELD_OUT: " (held out of tuning)", TEXTURE: " (texture-like, not tuned on)"}


def apply(mapping: Mapping, img: np.ndarray) -> np.ndarray:
    return (np.clip(mapping(img.astype(np.float32) / 255.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def build_domains(out: Path, mapping: Mapping, n_train: int, n_heldout: int, size: int, seed: int) -> None:
    """out/raw/{A,B} unpaired crops, out/heldout/{A,B_true} pairs, all `size` pixels square."""
    rng = np.random.default_rng(seed)
    photos = [skimage_photo(name) for name in PHOTOS]
    sets = {
        "raw/A": random_crops(photos, n_train, size, rng),
        "raw/B": [apply(mapping, c) for c in random_crops(photos, n_train, size, rng)],
    }
    heldout = random_crops(photos, n_heldout, size, rng)
    sets["heldout/A"], sets["heldout/B_true"] = heldout, [apply(mapping, c) for c in heldout]
    for folder, images in sets.items():
        for i, img in enumerate(images):
            save_png(img, out / folder / f"{i:04d}.png")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse) if mse else float("inf")


def heldout_gain(heldout: Path, translated: Path) -> tuple[float, float]:
    """Mean PSNR against the truth of the translation and of the input itself, over the held-out crops."""
    model_db, identity_db = [], []
    for path in sorted((heldout / "A").glob("*.png")):
        a = np.asarray(Image.open(path).convert("RGB"))
        truth = np.asarray(Image.open(heldout / "B_true" / path.name).convert("RGB"))
        fake = np.asarray(Image.open(translated / path.name).convert("RGB"))
        model_db.append(psnr(fake, truth))
        identity_db.append(psnr(a, truth))
    return float(np.mean(model_db)), float(np.mean(identity_db))


def kid_x100(generated: Path, reference: Path) -> float | None:
    """`cyclegan-batch score`'s KID x100, or None without the [metrics] extra (the command says why)."""
    result = subprocess.run([sys.executable, "-m", "cyclegan_batch", "score", str(generated), str(reference),
                             "--json", "--quiet"], capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        print(result.stderr.strip(), file=sys.stderr)
        return None
    return json.loads(result.stdout).get("kid_x100")


def cli(*args: str) -> tuple[float, float]:
    """Run `cyclegan-batch ARGS` (this checkout's code), fail loudly; its wall-clock and CPU seconds.

    CPU seconds (user + system, the process and its data-loading workers) do not grow with other users'
    load: they tell what a quiet machine would do in the same wall-clock time."""
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "cyclegan_batch", *args, "--quiet"], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - start, cpu


def run_mapping(name: str, work: Path, args: argparse.Namespace) -> dict:
    build_domains(work, MAPPINGS[name], args.images, args.heldout, args.size, args.seed)
    load_before = os.getloadavg()[0]
    prepare_s, _ = cli("prepare", str(work / "raw/A"), str(work / "raw/B"), str(work / "data"),
                    "--load-size", str(args.prepare_size), "--crop-size", "64")  # fmt: skip
    limits = ["--minutes", str(args.minutes), "--max-steps", str(args.max_steps)]  # prepare's time is reported beside
    settings = [item for s in args.set for item in ("--set", s)]
    settings += ["--workers", str(args.workers)] if args.workers is not None else []
    train_s, train_cpu_s = cli("train", str(work / "data"), str(work / "model"), "--preset", args.preset, *limits,
                               "--names", f"photo,{name}", "--no-resume", *settings)  # fmt: skip
    load_after = os.getloadavg()[0]
    translate_s, _ = cli("translate", str(work / "heldout/A"), str(work / "out"), "--model",
                      str(work / "model/generators.safetensors"), "--no-cycle")  # fmt: skip
    run = json.loads((work / "model/run.json").read_text())
    model_db, identity_db = heldout_gain(work / "heldout", work / "out")
    kids = {} if args.no_kid else {
        "kid_x100_model": kid_x100(work / "out", work / "raw/B"),
        "kid_x100_identity": kid_x100(work / "heldout/A", work / "raw/B"),
    }  # fmt: skip
    return {
        "mapping": name + LABELS.get(name, ""),
        "steps": run["steps"],
        "precision": run["precision"],
        "prepare_s": prepare_s,
        "train_s": train_s,
        "train_cpu_s": train_cpu_s,
        "translate_s": translate_s,
        "load": f"{load_before:.1f}-{load_after:.1f}",
        "psnr_identity": identity_db,
        "psnr_model": model_db,
        "gain_db": model_db - identity_db,
        **kids,
    }


def _kid(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mappings", default=",".join(MAPPINGS), help=f"comma-separated, of {', '.join(MAPPINGS)}")
    p.add_argument("--minutes", type=float, default=8.0, help="training budget per mapping")
    p.add_argument(
        "--max-steps", type=int, default=0, help="also stop after this many steps (with --minutes 0: a fixed length)"
    )
    p.add_argument("--preset", default="grade")
    p.add_argument("--set", action="append", default=[], help="extra config key=value for train (tuning)")
    p.add_argument("--images", type=int, default=200, help="crops per domain")
    p.add_argument("--heldout", type=int, default=24, help="held-out pairs")
    p.add_argument("--size", type=int, default=256, help="side of every crop: held-out pairs are translated at it")
    p.add_argument("--prepare-size", type=int, default=128, help="prepare --load-size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", type=Path, help="keep the work folders under this folder")
    p.add_argument("--workers", type=int, help="train --workers (default: the tool's, up to 4)")
    p.add_argument("--no-kid", action="store_true", help="skip the KID columns (they need the [metrics] extra)")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every stage (1 on a machine other jobs keep busy)")
    args = p.parse_args()
    if args.threads:  # read by torch at start-up in each CLI process
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    names = [n.strip() for n in args.mappings.split(",") if n.strip()]
    if unknown := set(names) - set(MAPPINGS):
        p.error(f"--mappings: unknown {', '.join(sorted(unknown))}")
    print(f"# quick_style: preset {args.preset} {' '.join(args.set)}, {args.minutes} min training "
          f"(max steps {args.max_steps or 'none'}), "
          f"{args.images} crops/domain at {args.size}px, {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for name in names:
            rows.append(run_mapping(name, root / name, args))
            print(json.dumps(rows[-1]), flush=True)
    print("\n| mapping | steps | precision | load | prepare s | train s (CPU s) | PSNR input | PSNR quick | gain "
          "| KIDx100 input | KIDx100 quick |")  # fmt: skip
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        train = f"{r['train_s']:.0f} ({r['train_cpu_s']:.0f})"
        cells = (r["mapping"], r["steps"], r["precision"], r["load"], f"{r['prepare_s']:.0f}", train,
                 f"{r['psnr_identity']:.2f}", f"{r['psnr_model']:.2f}", f"**{r['gain_db']:+.2f} dB**",
                 _kid(r.get("kid_x100_identity")), _kid(r.get("kid_x100_model")))  # fmt: skip
        print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    main()
