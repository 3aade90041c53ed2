"""Config checks, run-folder paths, CLI options and input functions shared by the rules."""

import os
import re
import shlex
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from cyclegan_batch.device import gpu_claim

from cyclegan_batch import runfolder
from cyclegan_batch.media import formats
from cyclegan_batch.train.config import TrainConfig, build_config
from cyclegan_batch.util.schema import config_errors
from cyclegan_batch.errors import ExitCode, UserError

RULES_DIR = Path(workflow.current_basedir.get_path_or_uri(secret_free=True))
SCHEMA = RULES_DIR / "../schemas/config.schema.yaml"
DEMO_CONFIG = RULES_DIR / "../../config/demo.yaml"
NAME = r"[A-Za-z0-9_.-]+"  # experiment, image set and video names (as in the schema)
SEGMENT = rf"{runfolder.SEGMENT_PREFIX}[0-9]+(?:{'|'.join(map(re.escape, formats.SEGMENT_SUFFIXES))})"  # what `video split` writes

# Shell rules find `cyclegan-batch` on PATH; put this interpreter's bin/ first so that
# `.venv/bin/snakemake` works without activating the venv (locally and inside SLURM jobs).
shell.prefix(
    f'set -euo pipefail; export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; '
)


def apply_demo_mode(config: dict) -> None:
    """`demo: true` puts config/demo.yaml (the demo's inputs and settings) beneath the config given.

    The config's own keys (config/config.yaml, --configfile, --config) win key by key; with
    `demo: false` nothing of the demo is there, so every key left out keeps the schema's default.
    "{experiment}" in demo.yaml's paths becomes the run's experiment, so each demo run builds its own inputs.
    """
    demo = yaml.safe_load(DEMO_CONFIG.read_text())
    experiment = str(config.get("experiment", demo["experiment"]))
    merged = with_experiment(demo, experiment)
    update_config(merged, config)
    config.clear()
    config.update(merged)


def with_experiment(value, experiment: str):
    """`value` (demo.yaml's tree) with "{experiment}" in every string replaced by `experiment`."""
    if isinstance(value, dict):
        return {k: with_experiment(v, experiment) for k, v in value.items()}
    if isinstance(value, str):
        return value.replace("{experiment}", experiment)
    return value


def check_config(config: dict) -> None:
    """Stop with every bad key listed (not a traceback), then fill the schema's defaults."""
    errors = config_errors(config, yaml.safe_load(SCHEMA.read_text()))
    if errors:
        raise WorkflowError(
            "bad config (see config/README.md):\n  " + "\n  ".join(errors)
        )
    validate(config, str(SCHEMA))


def settings_pairs(settings: dict) -> list[str]:
    """train.settings as the CLI's KEY=VALUE strings (lists comma-joined, as `--set` reads them)."""
    pairs = []
    for key, value in sorted(settings.items()):
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        pairs.append(f"{key}={value}")
    return pairs


def training_config() -> TrainConfig:
    """The trainer's own config for train.preset + train.settings, checked before any job runs."""
    try:
        return build_config(
            config["train"]["preset"], None, settings_pairs(config["train"]["settings"])
        )
    except UserError as e:
        raise WorkflowError(
            f"bad config (see config/README.md):\n  train.settings: {e}"
        ) from None


if config.get("demo") is True:
    apply_demo_mode(config)
check_config(config)
TRAIN = training_config()

EXP = config["experiment"]
# The run folder's files, named once in cyclegan_batch/runfolder.py (what the CLI writes and reads).
RUN = runfolder.RUN_DIR
RAW = f"{RUN}/{runfolder.RAW_DIR}"
RAW_DOMAIN = {domain: f"{RAW}/{domain}" for domain in runfolder.DOMAINS}
HELDOUT = f"{RAW}/{runfolder.HELDOUT_DIR}"
HELDOUT_A = f"{HELDOUT}/{runfolder.DOMAINS[0]}"
HELDOUT_TRUE_B = f"{HELDOUT}/{runfolder.HELDOUT_TRUE_B}"
RAW_VIDEO = f"{RAW}/{runfolder.DEMO_VIDEOS_DIR}/{{video}}.{formats.DEFAULT_CONTAINER}"
DATA = f"{RUN}/{runfolder.DATA_DIR}"
DATA_DOMAIN = {domain: f"{DATA}/{domain}" for domain in runfolder.DOMAINS}
MANIFEST = f"{DATA}/{runfolder.MANIFEST}"
MODEL_DIR = f"{RUN}/{runfolder.MODEL_DIR}"
MODEL = f"{MODEL_DIR}/{runfolder.MODEL_FILE}"
BEST_MODEL = f"{MODEL_DIR}/{runfolder.BEST_MODEL_FILE}"
IMAGE_SET = f"{RUN}/{runfolder.IMAGES_DIR}/{{set}}"
VIDEO = f"{RUN}/{runfolder.VIDEOS_DIR}/{{video}}.{formats.DEFAULT_CONTAINER}"
SEGMENTS = f"{RUN}/{runfolder.SEGMENTS_DIR}/{{video}}"
SEGMENT_IN = f"{SEGMENTS}/{{seg}}"
SEGMENT_OUT = f"{SEGMENTS}/{runfolder.TRANSLATED_SEGMENTS_DIR}/{{seg}}"
REPORT = f"{RUN}/{runfolder.REPORT_DIR}/{runfolder.REPORT_PAGE}"
REPORT_SUMMARY = f"{RUN}/{runfolder.REPORT_DIR}/{runfolder.REPORT_SUMMARY}"
REPORT_ASSETS = str(runfolder.report_assets(Path(REPORT)))
DEMO_SCORE = f"{RUN}/{runfolder.DEMO_SCORE}"


def log_file(name: str) -> str:
    """A rule's log: results/<exp>/logs/<name>.log (name may hold wildcards and folders)."""
    return f"{RUN}/{runfolder.LOGS_DIR}/{name}.log"


IMAGE_SETS = config["translate"]["images"]
VIDEOS = config["translate"]["videos"]
USES_GPU = config["device"].startswith("cuda")
TRAIN_GPUS = config["train"]["gpus"] if USES_GPU else 1

# Device and precision change the numbers (bf16 vs fp32, CUDA kernels), so they are params of
# the rules that compute: changing them reruns those. `auto` stays `auto` across machines.
DEVICE_OPTIONS = f"--device {config['device']} --precision {config['precision']}"


def translation_model() -> str:
    """The model file the translate rules use: translate.model last (MODEL), best (BEST_MODEL), or auto:
    best where training evaluates (train.settings.eval_every > 0 and the metrics extra installed), else last.
    """
    choice = config["translate"]["model"]
    if choice == "last":
        return MODEL
    from cyclegan_batch.realism import available

    evaluates = TRAIN.eval_every > 0 and available()
    if choice == "auto":
        return BEST_MODEL if evaluates else MODEL
    if not evaluates:
        raise WorkflowError(
            "translate.model: best needs evaluation while training: set train.settings.eval_every > 0 "
            "and install the metrics extra (pip install 'cyclegan-batch[metrics]'), or use translate.model: last or auto"
        )
    return BEST_MODEL


TRANSLATE_MODEL = translation_model()


def stage_resources(stage: str, gpus: int = 0) -> dict:
    """Scheduler requests of one stage from config; `gpu` only where the stage uses the device."""
    job = config["resources"][stage]
    requests = {"mem_mb": job["mem_mb"], "runtime": job["runtime"]}
    if gpus and USES_GPU:
        requests["gpu"] = gpus
    return requests


def local_gpu_limit() -> None:
    """Let a local run start as many GPU jobs at once as the box has cards.

    Snakemake enforces `gpu` only where a limit is set; each job then claims a card of its
    own (cyclegan_batch.device.gpu_claim). Left alone: cluster runs (the scheduler gives out the
    cards), jobs inside them, and a limit from --resources or a profile.
    """
    if not USES_GPU or workflow.nodes is not None or workflow.remote_exec:
        return
    if "gpu" in workflow.global_resources:
        return
    if config["device"] != "cuda":  # cuda:N: every job opens that one card
        count = 1
    else:
        count = config["local_gpus"] or gpu_claim.device_count()
    if not count:
        raise WorkflowError(
            "device: cuda, but no GPU is visible here; set device: auto or cpu, "
            "or local_gpus: N if this machine has N"
        )
    workflow.global_resources["gpu"] = count


local_gpu_limit()


def stage_threads(stage: str) -> int:
    return config["resources"][stage]["threads"]


def init_model() -> list[str]:
    """The model file training starts from: none, the bundled demo model, or a configured path."""
    init_from = config["train"]["init_from"]
    if init_from is None:
        return []
    try:
        return [str(runfolder.resolve_model(init_from))]
    except UserError as e:
        raise WorkflowError(f"train.init_from: {e}") from None


def train_settings() -> str:
    return " ".join(
        f"--set {shlex.quote(pair)}"
        for pair in settings_pairs(config["train"]["settings"])
    )


def report_options() -> str:
    """report.fail_above / fail_below as the CLI's repeatable METRIC=VALUE gates, report.realism and video_frames."""
    options = [
        f"--fail-{side} {metric}={value}"
        for side in ("above", "below")
        for metric, value in sorted(config["report"][f"fail_{side}"].items())
    ]
    realism = (
        [f"--video-frames {config['report']['video_frames']}"]
        if config["report"]["realism"]
        else ["--no-realism"]
    )
    return " ".join(options + realism)


DEMO_SCORE_KID = "" if config["report"]["realism"] else "--no-kid"


def image_set_dir(wildcards) -> str:
    return IMAGE_SETS[wildcards.set]


def video_file(wildcards) -> str:
    return VIDEOS[wildcards.video]


def translated_segments(wildcards) -> list[str]:
    """After the split checkpoint ran: one translated segment per segment it wrote."""
    segments_dir = checkpoints.split_video.get(**wildcards).output[0]
    names = glob_wildcards(os.path.join(segments_dir, f"{{seg,{SEGMENT}}}")).seg
    return expand(
        SEGMENT_OUT,
        exp=wildcards.exp,
        video=wildcards.video,
        seg=sorted(names),
    )


def run_outputs(*stages: str) -> list[str]:
    """The final files of the named stages for this experiment: what the target rules ask for."""
    targets = {
        "prepare": expand(MANIFEST, exp=EXP),
        "train": expand(MODEL, exp=EXP),
        "translate_images": expand(IMAGE_SET, exp=EXP, set=IMAGE_SETS),
        "translate_videos": expand(VIDEO, exp=EXP, video=VIDEOS),
        "report": expand(REPORT, exp=EXP),
        "demo_score": expand(DEMO_SCORE, exp=EXP) if config["demo"] else [],
    }
    return [path for stage in stages for path in targets[stage]]
