"""The single-frame regularizer (`stability_weight`) measured: the same fine-tune with and without it, per seed.

    python -m bench.stability_train OUT --weights 0,30 --steps 600 --cost 0.18         # both recipes, seeds 0-2
    python -m bench.stability_train OUT --recipes golden --seeds 0 --weights 0,30,100 --steps 100
    python -m bench.stability_train OUT --recipes golden --seeds 0 --weights 100 --steps 400 --set stability_blur=1.5
    python -m bench.temporal_encoded --models OUT/models.txt                            # then their flicker

Two recipes, both the `demo` preset (the bundled model's architecture: ngf 32, 4 blocks, resize-conv),
both fine-tunes of the bundled model (`--init-from bundled`):
- `golden`: the demo's own domains (`cyclegan-batch demo`: photo crops, and other crops with the golden-hour
  grade), lr 5e-5 as config/bundled_demo.yaml; quality by `cyclegan-batch demo-score` (PSNR gain over doing
  nothing on the 24 held-out crops against the known grade, KID x100 against B/);
- `stylized`: a spatial mapping, OpenCV's edge-preserving stylization (flattened surfaces, inked edges; not
  among bench/mappings.py's, since a per-pixel colour map learns part of it), domains and held-out pairs built
  as bench/quick_style.py builds them, the paper's lr 2e-4 (a new mapping for the bundled model); quality by
  the PSNR gain over all held-out pixels (quick_style's measure; the RESULTS figures of 2026-12-06 took the
  mean of per-crop PSNRs) and KID x100 against B/.
Same minutes: the regularized run gets `--steps / (1 + --cost)` steps, `--cost` being the share of time per
step the regularizer adds, measured by `python -m bench.stability_cost` with the same settings; on a shared
machine a fixed step count is what makes "the same minutes" repeatable. Every run is the CLI, as a user
runs it; finished runs are skipped on a rerun (OUT/quality.json keeps their scores). OUT/models.txt lists
the model files for bench/temporal_encoded.py's per-model flicker table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from bench.mappings import Mapping
from bench.quick_style import build_domains, heldout_psnr, kid_x100

FINE_TUNE = ["--preset", "demo", "--init-from", "bundled", "--set", "eval_every=0"]
LR = {"golden": 5e-5, "stylized": 2e-4}  # stylized is a new mapping for the bundled model: the paper's lr


def stylized(img: np.ndarray) -> np.ndarray:
    """OpenCV's edge-preserving stylization of a uint8 crop."""
    return cv2.stylization(img, sigma_s=30, sigma_r=0.4)


STYLIZED = Mapping(stylized, spatial=True)


def cli(*args: str | Path, capture: bool = False) -> str:
    command = [sys.executable, "-m", "cyclegan_batch", *map(str, args)]
    return subprocess.run(command, check=True, text=True, capture_output=capture).stdout


def domains(recipe: str, work: Path) -> tuple[Path, Path]:
    """The recipe's training folder (A/, B/) and its held-out pairs (A/, B_true/), built once."""
    root = work / "domains" / recipe
    if not (root / "done").exists():
        if recipe == "golden":
            cli("demo", root, "--no-videos", "--quiet")
        else:
            build_domains(root, STYLIZED, n_train=240, n_heldout=24, size=128, seed=0)
            (root / "A").symlink_to("raw/A")
            (root / "B").symlink_to("raw/B")
        (root / "done").touch()
    return root, root / "heldout"


def quality(recipe: str, model: Path, data: Path, heldout: Path, out: Path, kid: bool) -> dict:
    if recipe == "golden":
        flags = [] if kid else ["--no-kid"]
        scores = json.loads(cli("demo-score", heldout, "--model", model, "--json", "--quiet", *flags, capture=True))
        return {"gain_db": scores["gain_db"], "kid_x100": scores.get("kid_x100_model")}
    cli("translate", heldout / "A", out, "--model", model, "--no-cycle", "--quiet")
    model_db, identity_db = heldout_psnr(heldout, out)
    kid_and_std = kid_x100(out, data / "B") if kid else None
    return {"gain_db": model_db - identity_db, "kid_x100": kid_and_std[0] if kid_and_std else None}


def run_name(recipe: str, weight: float, seed: int, settings: list[str]) -> str:
    """recipe/plain_s0, recipe/w100_s0, or with --set: recipe/w100_stability_blur1.5_s0."""
    setting = f"w{weight:g}{''.join('_' + s.replace('=', '') for s in settings)}" if weight else "plain"
    return f"{recipe}/{setting}_s{seed}"


def run(recipe: str, seed: int, weight: float, steps: int, args: argparse.Namespace, work: Path) -> dict:
    data, heldout = domains(recipe, work)
    name = run_name(recipe, weight, seed, args.set)
    model_dir = work / name
    sizes = [f"load_size={args.load_size or args.size * 9 // 8}", f"crop_size={args.size}"]
    limits = ["--max-steps", steps, *(item for size in sizes for item in ("--set", size))]
    load = os.getloadavg()[0]
    stable = ["--set", f"stability_weight={weight}", "--set", f"stability_every={args.every}"]
    stable += [item for setting in (args.set if weight else []) for item in ("--set", setting)]
    lr = ["--set", f"lr={LR[recipe]}"]
    cli("train", data, model_dir, *FINE_TUNE, *lr, "--seed", seed, *limits, *stable, "--no-resume", "--quiet")
    run_info = json.loads((model_dir / "run.json").read_text())
    scores = quality(recipe, model_dir / "generators.safetensors", data, heldout, model_dir / "heldout_out", args.kid)
    return {"run": name, "weight": weight, "steps": steps, "seconds": run_info["last_session_seconds"],
            "load": round(load, 1), **scores}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--recipes", default="golden,stylized")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--weights", default="0,30", help="stability_weight of each setting (0: without)")
    p.add_argument("--steps", type=int, required=True, help="steps of the unregularized runs")
    p.add_argument("--cost", type=float, default=0.0, help="the regularizer's share of time per step")
    p.add_argument("--every", type=int, default=1, help="stability_every of the regularized runs")
    p.add_argument("--size", type=int, default=64, help="training crop")
    p.add_argument("--no-kid", dest="kid", action="store_false", help="PSNR gain only (no Inception passes)")
    p.add_argument("--load-size", type=int, default=0, help="resize before cropping (default: 9/8 of the crop)")
    p.add_argument("--set", action="append", default=[], help="KEY=VALUE for the regularized runs (repeatable)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results_file = args.out / "quality.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    for recipe in args.recipes.split(","):
        for seed in map(int, args.seeds.split(",")):
            for weight in map(float, args.weights.split(",")):
                steps = args.steps if not weight else round(args.steps / (1 + args.cost))
                key = run_name(recipe, weight, seed, args.set)
                if key not in results:
                    results[key] = run(recipe, seed, weight, steps, args, args.out)
                    results_file.write_text(json.dumps(results, indent=2))
                print(json.dumps(results[key]), flush=True)
    models = [f"{key.replace('/', '_')}={args.out / key / 'generators.safetensors'}" for key in results]
    (args.out / "models.txt").write_text("\n".join(models) + "\n")
    for recipe in args.recipes.split(","):
        for weight in map(float, args.weights.split(",")):
            setting = run_name(recipe, weight, 0, args.set).removesuffix("_s0")
            rows = [r for k, r in results.items() if k.startswith(f"{setting}_")]
            if len(rows) > 1:
                gains = [r["gain_db"] for r in rows]
                kids = [r["kid_x100"] for r in rows if r["kid_x100"] is not None]
                print(f"{recipe} {setting}: gain {statistics.mean(gains):+.2f} dB (sd {statistics.stdev(gains):.2f}), "
                      f"KID x100 {statistics.mean(kids) if kids else float('nan'):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
