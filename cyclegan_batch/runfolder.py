"""The names of the files between the stages: one home that every writer and reader imports.

The workflow's rules import it too (workflow/rules/common.smk), so a path is spelled once. What the files
hold is documented in docs/interfaces.md. Layout of a workflow run, `results/<exp>/`:

    raw/                                      the demo's inputs (demo mode): A/ B/ heldout/{A,B_true}/ videos/
    data/manifest.jsonl                       prepare (+ A/ B/)
    model/generators.safetensors              train (+ best.safetensors, losses.csv, metrics.csv, run.json,
                                              samples/, state/)
    translated/images/<set>/cycle.csv         translate (+ run.json, reconstructed/)
    translated/videos/<name>.mp4              translate or join (+ <name>.mp4.cycle.csv, <name>.mp4.json)
    segments/<name>/                          video split (+ segments.csv, translated/ per segment)
    report/index.html                         report (+ summary.json, index_assets/)
    demo_score.json                           demo-score (demo mode)
    logs/<stage>.log                          each rule's log
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from cyclegan_batch.errors import UserError

# prepare
MANIFEST = "manifest.jsonl"
DOMAINS = ("A", "B")  # OUT/A/, OUT/B/
# inside each domain: what training learns from, what it chooses its best step by, what the report scores
TRAIN, VAL, TEST = SPLITS = ("train", "val", "test")
TEST_FRACTION = VAL_FRACTION = 0.1  # prepare's defaults; training carves a val split by VAL_FRACTION where none is


def split_of(sha256: str, seed: int, test_fraction: float, val_fraction: float) -> str:
    """The split of a file, by a hash of (seed, its content's SHA-256) alone, so adding files never moves others:
    a `test_fraction` share of contents is test, the next `val_fraction` share val, the rest train."""
    draw = int.from_bytes(hashlib.sha256(f"{seed}:{sha256}".encode()).digest()[:8], "big") / 2**64
    return TEST if draw < test_fraction else VAL if draw < test_fraction + val_fraction else TRAIN


# train: inside MODEL_DIR
MODEL_FILE = "generators.safetensors"
STATE_DIR = "state"
CHECKPOINT_FILE = f"{STATE_DIR}/checkpoint.pt"
LOSSES_CSV = "losses.csv"
BEST_MODEL_FILE = "best.safetensors"  # the best step by the val split's KID, beyond its noise (the last if none scored)
# One row per evaluation: KID x100 (with its noise, realism/stats.py) and FID of the val split translated each
# way; then this step against the best so far, on the same KID subsets (their mean KID's difference and its
# std), and the best step after it. The first evaluation is the first best and compares with nothing.
METRICS_CSV = "metrics.csv"
METRICS_COLUMNS = (
    "step",
    "epoch",
    "split",
    "kid_x100_a2b",
    "kid_x100_std_a2b",
    "fid_a2b",
    "kid_x100_b2a",
    "kid_x100_std_b2a",
    "fid_b2a",
    "kid_x100_mean",
    "kid_x100_std_mean",
    "compared_to",
    "kid_x100_diff",
    "kid_x100_diff_std",
    "best_step",
    "images_a",
    "images_b",
    "seconds",
)
SAMPLES_DIR = "samples"
SAMPLE_GLOB = "step_*.png"  # a sample grid per logging step, sorting in step order


def sample_name(step: int) -> str:
    return f"step_{step:07d}.png"


RUN_JSON = "run.json"  # also written by translate into each image set's output folder

# translate
CYCLE_CSV = "cycle.csv"  # an image set's per-image table
RECONSTRUCTED_DIR = "reconstructed"
IMAGE_CYCLE_COLUMNS = ("input", "output", "status", "reason", "width", "height", "l1", "psnr", "ssim")
VIDEO_CYCLE_SUFFIX = ".cycle.csv"  # <video><suffix>: one row per frame
# fidelity_psnr: the written (stabilized) frame against the per-frame translation; empty with --no-temporal
VIDEO_CYCLE_COLUMNS = ("frame", "time_s", "l1", "psnr", "ssim", "warp_in", "warp_out", "fidelity_psnr")


def video_cycle_text(rows: Iterable[Mapping[str, str]]) -> str:
    """A video's cycle.csv: the header, then `rows` (a column a row lacks is left empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=VIDEO_CYCLE_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


VIDEO_SIDECAR_SUFFIX = ".json"  # <video><suffix>: properties in vs out

# video split: segment_00000.mp4, ... (suffix: media.formats.segment_suffix)
SEGMENT_PREFIX = "segment_"
SEGMENTS_INDEX = "segments.csv"  # beside the segments: where each starts in the original (video/segments.py)
TRANSLATED_SEGMENTS_DIR = "translated"  # inside the split's folder, so a new split drops them too

# report
REPORT_SUMMARY = "summary.json"


def report_assets(page: Path) -> Path:
    """The folder of the page's pictures, beside it."""
    return page.with_name(f"{page.stem}_assets")


# demo: what `cyclegan-batch demo OUT` writes (and demo-score reads)
HELDOUT_DIR = "heldout"
HELDOUT_TRUE_B = "B_true"  # heldout/A's crops in the true target style
DEMO_VIDEOS_DIR = "videos"
DEMO_SCORE = "demo_score.json"

# the bundled demo model, inside the cyclegan_batch package (`translate` uses EXPERIMENT_MODEL, else it)
BUNDLED_MODEL = "assets/demo.safetensors"
BUNDLED = "bundled"  # what names it wherever a model file is taken (resolve_model)

# the workflow run folder, results/<exp>/
RUN_DIR = "results/{exp}"  # a Snakemake pattern
RAW_DIR = "raw"
DATA_DIR = "data"
MODEL_DIR = "model"
IMAGES_DIR = "translated/images"
VIDEOS_DIR = "translated/videos"
SEGMENTS_DIR = "segments"
REPORT_DIR = "report"
REPORT_PAGE = "index.html"
LOGS_DIR = "logs"
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


EXPERIMENT_MODELS = {"last": MODEL_FILE, "best": BEST_MODEL_FILE}  # words naming the default experiment's models


def resolve_model(model: Path | str) -> Path:
    """A model argument as a file path. Words, where no file of that name exists here: `bundled` (BUNDLED) names
    the demo model in the package, `last` / `best` the default experiment's generators.safetensors /
    best.safetensors (the lowest KID while training).

    Every verb that takes a model file (and the workflow's train.init_from) passes its argument through here.
    """
    word = str(model)
    if Path(model).exists() or word not in (BUNDLED, *EXPERIMENT_MODELS):
        return Path(model)
    if word in EXPERIMENT_MODELS:
        path = EXPERIMENT_MODEL.parent / EXPERIMENT_MODELS[word]
        if not path.is_file():
            hint = " (training writes it when eval_every > 0 and the [metrics] extra is installed)"
            raise UserError(f"`{word}`: no {path}{hint if word == 'best' else ''}; pass a model file instead")
        return path
    if (path := bundled_model()) is None:
        raise UserError(f"`{BUNDLED}`: this install has no {BUNDLED_MODEL}; reinstall the package or pass a model file")
    return path
