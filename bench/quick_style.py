"""A new style on a laptop CPU: a preset trained on known mappings, judged on held-out pairs beside doing nothing.

    python -m bench.quick_style --out runs.jsonl                  # grade on every mapping, 3 seeds, the preset's budget
    python -m bench.quick_style --out runs.jsonl --presets demo --mappings relief --seeds 0 --minutes 3 \
        --set ngf=16 --set n_downsampling=0                       # tuning a spatial recipe
    python -m bench.quick_style --presets grade,demo --mappings bleach_bypass,relief --out runs.jsonl
    python -m bench.quick_style --table runs.jsonl                # the tables of every run recorded there

For each mapping (bench/mappings.py: colour grades, and spatial styles that no colour function makes), preset
and seed, every step is the CLI, as a user runs it:
1. two unpaired domains from the photos inside the scikit-image wheel (as `cyclegan-batch demo` builds its
   own): A = photo crops, B = *other* crops with the mapping applied; held-out pairs (crops, and the mapping
   applied to the very same crops), all `--size` pixels square;
2. `cyclegan-batch prepare` at that size, then `cyclegan-batch train --preset P`, with the preset's own budget
   (`--minutes` to change it): the two together are the user's ten minutes;
3. `cyclegan-batch translate` of the held-out crops with the model the run scored best on its test split
   (`best.safetensors`, as the workflow picks it), else its last;
4. PSNR against the truth, of the translation and of the untouched crops, over all held-out pixels
   together: the gain over doing nothing;
5. the best per-pixel colour map fitted on true pairs of the training crops (bench/pixel_fit.py), its gain
   on the same held-out pairs: what a colour function alone reaches;
6. with the [metrics] extra, `cyclegan-batch score`: KID x100 (+- its std) of the translation and of the
   untouched crops against B's images.
Each run is one JSON line appended to `--out`, so that runs on a shared machine can be spread over several
invocations; `--table` prints the tables (medians over seeds). The machine's load and the steps training
managed are recorded, since on a shared machine ten minutes buy fewer steps than on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.mappings import MAPPINGS, Mapping
from bench.pixel_fit import per_pixel_gain, psnr
from cyclegan_batch.demo import PHOTOS, random_crops, save_png, skimage_photo
from cyclegan_batch.runfolder import BEST_MODEL_FILE, MODEL_FILE


def build_domains(out: Path, mapping: Mapping, n_train: int, n_heldout: int, size: int, seed: int) -> tuple:
    """out/raw/{A,B} unpaired crops, out/heldout/{A,B_true} pairs; returns true pairs of A's crops (the fit's)."""
    rng = np.random.default_rng(seed)
    photos = [skimage_photo(name) for name in PHOTOS]
    crops_a = random_crops(photos, n_train, size, rng)
    sets = {"raw/A": crops_a, "raw/B": [mapping.apply(c) for c in random_crops(photos, n_train, size, rng)]}
    heldout = random_crops(photos, n_heldout, size, rng)
    sets["heldout/A"], sets["heldout/B_true"] = heldout, [mapping.apply(c) for c in heldout]
    for folder, images in sets.items():
        for i, img in enumerate(images):
            save_png(img, out / folder / f"{i:04d}.png")
    return (crops_a, [mapping.apply(c) for c in crops_a]), (heldout, sets["heldout/B_true"])


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def heldout_psnr(heldout: Path, translated: Path) -> tuple[float, float]:
    """PSNR against the truth over all held-out pixels: of the translation, and of the untouched crops."""
    names = sorted(p.name for p in (heldout / "A").glob("*.png"))
    truth = np.stack([_load(heldout / "B_true" / n) for n in names])
    fake = np.stack([_load(translated / n) for n in names])
    return psnr(fake, truth), psnr(np.stack([_load(heldout / "A" / n) for n in names]), truth)


def kid_x100(generated: Path, reference: Path) -> tuple[float, float] | None:
    """`cyclegan-batch score`'s KID x100 and its std, or None without the [metrics] extra (the command says why)."""
    result = subprocess.run([sys.executable, "-m", "cyclegan_batch", "score", str(generated), str(reference),
                             "--json", "--quiet"], capture_output=True, text=True)  # fmt: skip
    if result.returncode != 0:
        print(result.stderr.strip(), file=sys.stderr)
        return None
    out = json.loads(result.stdout)
    return out["kid_x100"], out["kid_x100_std"]


def cli(*args: str) -> tuple[float, float]:
    """Run `cyclegan-batch ARGS` (this checkout's code), fail loudly; its wall-clock and CPU seconds.

    CPU seconds (user + system, the process and its data-loading workers) do not grow with other users'
    load: they tell what a quiet machine would do in the same wall-clock time."""
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "cyclegan_batch", *args, "--quiet"], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return time.perf_counter() - start, cpu


def run_one(name: str, preset: str, seed: int, work: Path, args: argparse.Namespace) -> dict:
    mapping = MAPPINGS[name]
    train_pairs, heldout_pairs = build_domains(work, mapping, args.images, args.heldout, args.size, seed)
    load_before = os.getloadavg()[0]
    prepare_s, _ = cli("prepare", str(work / "raw/A"), str(work / "raw/B"), str(work / "data"),
                       "--load-size", str(args.size), "--crop-size", "32")  # fmt: skip
    limits = ["--max-steps", str(args.max_steps)] + (
        ["--minutes", str(args.minutes)] if args.minutes is not None else []
    )
    settings = [item for s in [f"seed={seed}", *args.set] for item in ("--set", s)]
    settings += ["--workers", str(args.workers)] if args.workers is not None else []
    train_s, train_cpu_s = cli("train", str(work / "data"), str(work / "model"), "--preset", preset, *limits,
                               "--names", f"photo,{name}", "--no-resume", *settings)  # fmt: skip
    load_after = os.getloadavg()[0]
    model = work / "model" / BEST_MODEL_FILE
    model = model if model.exists() else work / "model" / MODEL_FILE
    cli("translate", str(work / "heldout/A"), str(work / "out"), "--model", str(model), "--no-cycle")
    cli("translate", str(work / "heldout/A"), str(work / "out_last"), "--model", str(work / "model" / MODEL_FILE),
        "--no-cycle")  # fmt: skip
    run = json.loads((work / "model/run.json").read_text())
    model_db, identity_db = heldout_psnr(work / "heldout", work / "out")
    row = {
        "mapping": name,
        "spatial": mapping.spatial,
        "held_out": mapping.held_out,
        "preset": preset,
        "settings": " ".join(args.set),
        "minutes": run["config"]["minutes"],
        "seed": seed,
        "steps": run["steps"],
        "precision": run["precision"],
        "model": model.name,
        "prepare_s": round(prepare_s, 1),
        "train_s": round(train_s, 1),
        "train_cpu_s": round(train_cpu_s, 1),
        "load": f"{load_before:.1f}-{load_after:.1f}",
        "psnr_identity": identity_db,
        "psnr_model": model_db,
        "gain_db": model_db - identity_db,
        "gain_last_db": heldout_psnr(work / "heldout", work / "out_last")[0] - identity_db,  # the last step's model
    }
    if not args.no_fit:
        row.update({f"fit_{k}_db": v for k, v in per_pixel_gain(train_pairs, heldout_pairs, seed).items()})
    if not args.no_kid:
        for key, folder in (("model", work / "out"), ("identity", work / "heldout/A")):
            kid = kid_x100(folder, work / "raw/B")
            if kid is not None:
                row[f"kid_x100_{key}"], row[f"kid_x100_{key}_std"] = kid
    return row


def _median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def _kid(rows: list[dict], key: str) -> str:
    value, std = _median(rows, f"kid_x100_{key}"), _median(rows, f"kid_x100_{key}_std")
    return "" if value is None else f"{value:.2f} ± {std:.2f}"


def kid_beyond_noise(row: dict) -> bool | None:
    """Translated KID below untranslated by more than their stds combined (in quadrature)."""
    if "kid_x100_model" not in row:
        return None
    noise = (row["kid_x100_model_std"] ** 2 + row["kid_x100_identity_std"] ** 2) ** 0.5
    return row["kid_x100_identity"] - row["kid_x100_model"] > noise


def print_tables(rows: list[dict]) -> None:
    """One table per mapping: a line per preset, budget and settings, medians over its seeds."""
    for name in dict.fromkeys(r["mapping"] for r in rows):
        mine = [r for r in rows if r["mapping"] == name]
        label = ("spatial" if mine[0]["spatial"] else "colour") + (
            ", held out of tuning" if mine[0]["held_out"] else ""
        )
        cubic, lut = _median(mine, "fit_cubic_db"), _median(mine, "fit_lut_db")
        fit = "not fitted" if cubic is None else f"{max(cubic, lut):+.2f} dB (cubic {cubic:+.2f}, 17^3 LUT {lut:+.2f})"
        print(f"\n{name} ({label}); best per-pixel colour map: {fit}")
        print("\n| preset | settings | minutes | seeds | steps | train s (CPU s) | load | PSNR input | PSNR gain, "
              "median (each seed) | KID×100 translated | KID×100 untranslated | KID below beyond noise |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
        for key in dict.fromkeys((r["preset"], r["settings"], r["minutes"]) for r in mine):
            group = [r for r in mine if (r["preset"], r["settings"], r["minutes"]) == key]
            seeds = ", ".join(f"{r['gain_db']:+.2f}" for r in sorted(group, key=lambda r: r["seed"]))
            beyond = [kid_beyond_noise(r) for r in group]
            cells = (key[0], key[1] or "-", f"{key[2]:g}", len(group), f"{_median(group, 'steps'):.0f}",
                     f"{_median(group, 'train_s'):.0f} ({_median(group, 'train_cpu_s'):.0f})",
                     ", ".join(r["load"] for r in group), f"{_median(group, 'psnr_identity'):.2f}",
                     f"**{_median(group, 'gain_db'):+.2f} dB** ({seeds})", _kid(group, "model"),
                     _kid(group, "identity"), "" if None in beyond else f"{sum(beyond)} of {len(beyond)}")  # fmt: skip
            print("| " + " | ".join(map(str, cells)) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mappings", default=",".join(MAPPINGS), help=f"comma-separated, of {', '.join(MAPPINGS)}")
    p.add_argument("--presets", default="grade", help="comma-separated presets, each trained on every mapping")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated: other crops and another training seed each")
    p.add_argument("--minutes", type=float, help="training budget (default: the preset's own)")
    p.add_argument("--max-steps", type=int, default=0, help="also stop after this many steps (0: none)")
    p.add_argument("--set", action="append", default=[], help="extra config key=value for train (tuning)")
    p.add_argument("--images", type=int, default=200, help="crops per domain")
    p.add_argument("--heldout", type=int, default=100, help="held-out pairs")
    p.add_argument("--size", type=int, default=128, help="side of every crop; prepared and translated at it")
    p.add_argument("--out", type=Path, help="append each run's JSON line to this file")
    p.add_argument("--table", type=Path, help="print the tables of the runs in this file, and run nothing")
    p.add_argument("--keep", type=Path, help="keep the work folders under this folder")
    p.add_argument("--workers", type=int, help="train --workers (default: the tool's, up to 4)")
    p.add_argument("--no-fit", action="store_true", help="skip the per-pixel colour map fit (about a minute a run)")
    p.add_argument("--no-kid", action="store_true", help="skip the KID columns (they need the [metrics] extra)")
    p.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every stage (1 on a machine other jobs keep busy)")
    args = p.parse_args()
    if args.table:
        print_tables([json.loads(line) for line in args.table.read_text().splitlines() if line.strip()])
        return
    if args.threads:  # read by torch at start-up in each CLI process
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
    names = [n.strip() for n in args.mappings.split(",") if n.strip()]
    if unknown := set(names) - set(MAPPINGS):
        p.error(f"--mappings: unknown {', '.join(sorted(unknown))}")
    presets = [s.strip() for s in args.presets.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"# quick_style: presets {', '.join(presets)} {' '.join(args.set)}, minutes {args.minutes or 'preset'} "
          f"(max steps {args.max_steps or 'none'}), {args.images} crops/domain at {args.size}px, seeds {seeds}, "
          f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for name in names:
            for preset in presets:
                for seed in seeds:
                    rows.append(run_one(name, preset, seed, root / f"{name}-{preset}-{seed}", args))
                    print(json.dumps(rows[-1]), flush=True)
                    if args.out:
                        with args.out.open("a") as f:
                            f.write(json.dumps(rows[-1]) + "\n")
    print_tables(rows)


if __name__ == "__main__":
    main()
