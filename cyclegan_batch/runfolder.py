"""The names of the files between the stages: one home that every writer and reader imports.

The workflow's rules import it too (workflow/rules/common.smk), so a path is spelled once. What the files
hold is documented in docs/interfaces.md. Layout of a workflow run, `results/<exp>/`:

    data/manifest.jsonl                       prepare
    model/generators.safetensors              train (+ best.safetensors, losses.csv, metrics.csv, run.json, samples/,
                                              state/)
    translated/images/<set>/cycle.csv         translate (+ run.json, reconstructed/)
    translated/videos/<name>.mp4              translate or join (+ <name>.mp4.cycle.csv, <name>.mp4.json)
    report/index.html                         report (+ summary.json, index_assets/)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# prepare
MANIFEST = "manifest.jsonl"

# train: inside MODEL_DIR
MODEL_FILE = "generators.safetensors"
STATE_DIR = "state"
CHECKPOINT_FILE = f"{STATE_DIR}/checkpoint.pt"
LOSSES_CSV = "losses.csv"
BEST_MODEL_FILE = "best.safetensors"  # the generators with the lowest mean KID of the periodic evaluation
METRICS_CSV = "metrics.csv"  # one row per evaluation: KID x100 and FID of the test split translated each way
METRICS_COLUMNS = (
    "step",
    "epoch",
    "kid_x100_a2b",
    "kid_x100_std_a2b",
    "fid_a2b",
    "kid_x100_b2a",
    "kid_x100_std_b2a",
    "fid_b2a",
    "kid_x100_mean",
    "images_a",
    "images_b",
    "seconds",
)
SAMPLES_DIR = "samples"
RUN_JSON = "run.json"  # also written by translate into each image set's output folder

# translate
CYCLE_CSV = "cycle.csv"  # an image set's per-image table
RECONSTRUCTED_DIR = "reconstructed"
IMAGE_CYCLE_COLUMNS = ("input", "output", "status", "reason", "width", "height", "l1", "psnr", "ssim")
VIDEO_CYCLE_SUFFIX = ".cycle.csv"  # <video><suffix>: one row per frame
# fidelity_psnr: the written (stabilized) frame against the per-frame translation; empty with --no-temporal
VIDEO_CYCLE_COLUMNS = ("frame", "time_s", "l1", "psnr", "ssim", "warp_in", "warp_out", "fidelity_psnr")
VIDEO_SIDECAR_SUFFIX = ".json"  # <video><suffix>: properties in vs out
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif"})

# report
REPORT_SUMMARY = "summary.json"

# the bundled demo model, inside the cyclegan_batch package (`translate` uses EXPERIMENT_MODEL, else it)
BUNDLED_MODEL = "assets/demo.safetensors"

# the workflow run folder
DATA_DIR = "data"
MODEL_DIR = "model"
IMAGES_DIR = "translated/images"
VIDEOS_DIR = "translated/videos"
EXPERIMENT_MODEL = Path("results/demo") / MODEL_DIR / MODEL_FILE  # the workflow's default experiment's model


def csv_number(value: float | None) -> str:
    """A metric as the cycle tables write it: 6 significant digits, empty where there is none."""
    return "" if value is None else f"{value:.6g}"


def video_cycle_csv(video: Path) -> Path:
    return video.with_name(video.name + VIDEO_CYCLE_SUFFIX)


def video_sidecar(video: Path) -> Path:
    return video.with_name(video.name + VIDEO_SIDECAR_SUFFIX)


def model_file(run_dir: Path) -> Path:
    return run_dir / MODEL_DIR / MODEL_FILE


def bundled_model() -> Path | None:
    """The demo model shipped in the package (a real file: the package installs from a folder)."""
    path = Path(str(resources.files("cyclegan_batch") / BUNDLED_MODEL))
    return path if path.is_file() else None
