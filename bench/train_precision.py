"""Does bf16 autocast train as well as fp32 on this CPU? Same run, same seed, same steps; curves and demo score.

    python -m bench.train_precision                          # grade preset, 300 steps each, on the demo domains
    python -m bench.train_precision --preset demo --steps 200

Both runs are `cyclegan-batch train` on the demo's domains (`cyclegan-batch demo`, golden hour), with
`--precision fp32` and `--precision bf16`, the budget off (`--minutes 0`) and a fixed `--max-steps`, run
at the same time so that the machine's load hits both alike. Printed: the loss terms of each logged
interval side by side, the mean relative gap over the last half, and `demo-score` (held-out PSNR gain
over doing nothing) of each model, with the steps/s each reached.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TERMS = ("D_A", "D_B", "G_A", "G_B", "cycle_A", "cycle_B")
PRECISIONS = ("fp32", "bf16")


def cyclegan(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cyclegan_batch", *args, "--quiet"], stdout=subprocess.PIPE, text=True
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="grade")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--keep", type=Path, help="keep the work folder here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        if not (work / "raw/demo.json").is_file():
            assert cyclegan("demo", str(work / "raw"), "--no-videos").wait() == 0
        load = os.getloadavg()[0]
        runs = {
            precision: cyclegan(
                "train",
                str(work / "raw"),
                str(work / precision),
                "--preset",
                args.preset,
                "--precision",
                precision,
                "--minutes",
                "0",
                "--max-steps",
                str(args.steps),
                "--set",
                f"log_every={args.log_every}",
                "--no-resume",
            )  # fmt: skip
            for precision in PRECISIONS
        }
        assert all(run.wait() == 0 for run in runs.values())
        curves = {pr: list(csv.DictReader((work / pr / "losses.csv").open())) for pr in PRECISIONS}
        scores = {}
        for precision in PRECISIONS:
            score = cyclegan("demo-score", str(work / "raw/heldout"), "--model",
                             str(work / precision / "generators.safetensors"), "--json")  # fmt: skip
            scores[precision] = json.loads(score.communicate()[0])
    print(f"# {args.preset} preset, {args.steps} steps, both at once; load average {load:.1f} -> "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print("\n| step | " + " | ".join(f"{t} fp32 / bf16" for t in TERMS) + " |")
    print("|---:|" + "---:|" * len(TERMS))
    for a, b in zip(curves["fp32"], curves["bf16"], strict=True):
        print(f"| {a['step']} | " + " | ".join(f"{float(a[t]):.3f} / {float(b[t]):.3f}" for t in TERMS) + " |")
    half = curves["fp32"][len(curves["fp32"]) // 2 :], curves["bf16"][len(curves["bf16"]) // 2 :]
    for term in TERMS:
        gaps = [abs(float(b[term]) - float(a[term])) / abs(float(a[term])) for a, b in zip(*half, strict=True)]
        print(f"{term}: mean |bf16 - fp32| / fp32 over the last half {sum(gaps) / len(gaps):.1%}")
    for precision in PRECISIONS:
        s, rate = scores[precision], float(curves[precision][-1]["images_per_s"])
        print(f"{precision}: demo-score gain {s['gain_db']:+.2f} dB (model {s['psnr_model']:.2f}, input "
              f"{s['psnr_identity']:.2f}); last interval {rate:.2f} images/s")  # fmt: skip


if __name__ == "__main__":
    main()
