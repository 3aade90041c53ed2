"""The Snakemake workflow: lint, config errors, resources, and a real run of the whole DAG.

Runs use the repository's Snakefile with a tiny config in a temporary working directory
(`--directory`), so nothing is written into the checkout. The working directory gets the checkout's
config/config.yaml, as a user's clone has it, and the test's config goes over it with --configfile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import smooth_images, write_images
from safetensors import safe_open

from cyclegan_batch.realism import weights
from cyclegan_batch.train.config import PRESETS, build_config
from cyclegan_batch.util.schema import config_errors

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EXP = "tiny"
# The input paths of the test configs (relative to the working directory), with what a shell or an
# option parser breaks on: spaces, unicode and a leading dash.
INPUTS = {"a": "-A ünï 東", "b": "-B ünï 東", "heldout": "-held out ü", "clip": "-dash name ü.mp4"}


# ----------------------------------------------------------------------------------------- helpers
def run_snakemake(
    workdir: Path, *args: str, check: bool = True, timeout: float = 600, configfile: bool = True
) -> subprocess.CompletedProcess:
    """`snakemake [targets/options] --configfile WORKDIR/config.yaml` with the repository's Snakefile."""
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    if configfile:  # it takes several values: it goes last so it cannot swallow a target
        cmd += ["--configfile", str(workdir / "config.yaml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def write_config(workdir: Path, config: dict) -> None:
    """WORKDIR/config.yaml (the user's file), beside the checkout's default config/config.yaml."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config" / "config.yaml", workdir / "config" / "config.yaml")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))


def tiny_config(**sections: dict) -> dict:
    """The tiny preset on inputs made by `make_inputs`; sections given replace the defaults here."""
    config = {
        "experiment": EXP,
        "demo": False,
        "device": "cpu",
        "precision": "fp32",
        "domains": {"A": INPUTS["a"], "B": INPUTS["b"]},
        "prepare": {"test_fraction": 0.2},
        "train": {
            "preset": "tiny",
            "init_from": None,
            # eval_every 0 and report.realism false: training's KID/FID is test_realism's, the report's finished_run's
            "settings": {"max_steps": 4, "log_every": 2, "sample_every": 2, "checkpoint_every": 2, "eval_every": 0},
        },
        "translate": {
            "images": {"heldout": INPUTS["heldout"]},
            "videos": {"clip": INPUTS["clip"]},
            "segment_seconds": 0.5,
            "batch_size": 4,
        },
        "resources": {stage: {"threads": 1, "mem_mb": 500, "runtime": 10} for stage in ("train", "translate")},
        "report": {"realism": False},
    }
    config.update(sections)
    return config


def write_video(path: Path, frames: int, fps: int, size: tuple[int, int]) -> None:
    """H.264 with a keyframe every 5 frames (so split finds cut points) and an AAC tone."""
    import imageio_ffmpeg

    wav = path.with_suffix(".wav")
    rate = 8000
    t = np.arange(int(rate * frames / fps)) / rate
    with wave.open(str(wav), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes((0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", macro_block_size=1, audio_path=str(wav), audio_codec="aac",
        output_params=["-g", "5", "-shortest"], ffmpeg_log_level="error",
    )  # fmt: skip
    writer.send(None)
    for image in smooth_images(frames, max(size), seed=4):
        writer.send(np.ascontiguousarray(image[: size[1], : size[0]]))
    writer.close()
    wav.unlink()


def make_inputs(workdir: Path) -> None:
    """INPUTS: A and B (unpaired, 40x40, B warmer), heldout (3 images), clip (10 frames, 1 s, audio)."""
    write_images(workdir / INPUTS["a"], smooth_images(6, 40, seed=1))
    b_images = [np.clip(i * [1.2, 1.0, 0.7], 0, 255).astype(np.uint8) for i in smooth_images(6, 40, seed=2)]
    write_images(workdir / INPUTS["b"], b_images)
    write_images(workdir / INPUTS["heldout"], smooth_images(3, 40, seed=3))
    write_video(workdir / INPUTS["clip"], frames=10, fps=10, size=(48, 32))


def video_frames(path: Path) -> int:
    import cv2

    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.read()[0]:
        count += 1
    capture.release()
    return count


def has_audio(path: Path) -> bool:
    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True)
    return b"Audio:" in probe.stderr


def jobs_planned(workdir: Path, *targets: str) -> dict[str, int]:
    """Rule -> job count of a dry run (empty when there is nothing to do)."""
    out = run_snakemake(workdir, *targets, "--dry-run", "--quiet", "rules").stdout
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out, re.MULTILINE) if m[1] != "total"}


def run_shape(run_dir: Path) -> dict[str, object]:
    """What a user checks of a finished run: which files exist (not logs) and what the videos hold."""
    files = sorted(
        str(p.relative_to(run_dir))
        for p in run_dir.rglob("*")
        if p.is_file() and p.parts[len(run_dir.parts)] != "logs" and not p.name.startswith(".")
    )
    videos = {p.name: video_frames(p) for p in (run_dir / "translated" / "videos").glob("*.mp4")}
    return {"files": files, "video_frames": videos}


# --------------------------------------------------------------------------------------- fast tests
def test_repository_workflow_is_lint_and_format_clean() -> None:
    lint = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_bad_config_stops_with_every_bad_key_named(tmp_path: Path) -> None:
    config = tiny_config(device="gpu")
    del config["domains"]
    config["train"]["preset"] = "huge"
    config["translate"]["segment_seconds"] = 0
    config["resources"]["train"]["gpus"] = 2
    config["translate"]["batch_size"] = 0
    config["translate"]["videos"]["with space"] = INPUTS["clip"]
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "--dry-run", check=False)
    output = proc.stdout + proc.stderr  # snakemake 9 logs errors to stdout
    assert proc.returncode != 0
    assert "Traceback" not in output
    for expected in (
        "(top level): 'domains' is a required property",
        "device: 'gpu' does not match '^(auto|cpu|cuda(:[0-9]+)?)$' (auto, cpu, cuda or cuda:N",
        "train.preset: 'huge' is not one of ['paper', 'grade', 'quick', 'demo', 'tiny']",
        "translate.segment_seconds: 0 is less than or equal to the minimum of 0",
        "resources.train: Additional properties are not allowed ('gpus' was unexpected)",
        "translate.batch_size: 0 is not valid under any of the given schemas (Images or frames per forward pass, "
        "a positive integer or auto",
        "translate.videos: 'with space' does not match '^[A-Za-z0-9_.-]+$' (video names are letters, digits and _.-",
    ):
        assert expected in output


def test_config_errors_name_the_key_for_every_kind_of_error() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    config = {
        "colour": True,
        "precision": "fp8",
        "domains": {"A": "a", "B": "b"},
        "prepare": {"seed": "x"},
        "resources": {"train": {"threads": 0}},  # a $ref in the schema
        "translate": {"images": {"set/1": "in", "ok": 3}, "videos": {"with space": "v.mp4"}},
    }
    assert config_errors(config, schema) == [
        "(top level): Additional properties are not allowed ('colour' was unexpected)",
        "precision: 'fp8' is not one of ['auto', 'fp32', 'bf16', 'fp16']",
        "prepare.seed: 'x' is not of type 'integer'",
        "resources.train.threads: 0 is less than the minimum of 1",
        "translate.images: 'set/1' does not match '^[A-Za-z0-9_.-]+$' (set names are letters, digits and _.- only)",
        "translate.images.ok: 3 is not of type 'string'",
        "translate.videos: 'with space' does not match '^[A-Za-z0-9_.-]+$' "
        "(video names are letters, digits and _.- only)",
    ]
    # A pattern inside a $ref'd definition gets the definition's description.
    referenced = {
        "$defs": {"name": {"description": "a name", "type": "object", "properties": {"id": {"pattern": "^a$"}}}},
        "properties": {"x": {"$ref": "#/$defs/name"}},
    }
    assert config_errors({"x": {"id": "b"}}, referenced) == ["x.id: 'b' does not match '^a$' (a name)"]


def test_schema_offers_exactly_the_presets_train_knows() -> None:
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert set(schema["properties"]["train"]["properties"]["preset"]["enum"]) == set(PRESETS)


def test_unknown_training_key_is_named_before_any_job_runs(tmp_path: Path) -> None:
    config = tiny_config()
    config["train"]["settings"]["lamda_cycle"] = 5
    write_config(tmp_path, config)
    proc = run_snakemake(tmp_path, "--dry-run", check=False)
    assert proc.returncode != 0
    assert "train.settings: --set 'lamda_cycle=5': expected KEY=VALUE with KEY one of:" in proc.stdout + proc.stderr


def planned_resources(workdir: Path) -> dict[str, str]:
    """Rule -> the `resources:` line of its job in a dry run."""
    out = run_snakemake(workdir, "--dry-run").stdout
    return {m[1]: m[2] for m in re.finditer(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", out, re.MULTILINE)}


@pytest.mark.parametrize(("device", "gpu"), [("cuda:1", True), ("auto", False)])
def test_gpu_is_requested_only_by_compute_rules_on_cuda(tmp_path: Path, device: str, gpu: bool) -> None:
    make_inputs(tmp_path)
    write_config(tmp_path, tiny_config(device=device))
    resources = planned_resources(tmp_path)
    assert ("gpu=1" in resources["train_model"]) is gpu
    assert ("gpu=1" in resources["translate_image_set"]) is gpu
    assert "gpu" not in resources["prepare_data"]
    assert "runtime=10" in resources["train_model"] and "mem_mb=500" in resources["train_model"]


def test_targets_select_their_stages(tmp_path: Path) -> None:
    make_inputs(tmp_path)
    write_config(tmp_path, tiny_config())
    assert jobs_planned(tmp_path, "train") == {"prepare_data": 1, "train_model": 1, "train": 1}
    # Segments are known only after the split checkpoint ran: a dry run stops at split and join.
    assert jobs_planned(tmp_path, "translate_videos") == {"split_video": 1, "join_video": 1, "translate_videos": 1}
    assert jobs_planned(tmp_path) == {
        "prepare_data": 1, "train_model": 1, "translate_image_set": 1, "split_video": 1, "join_video": 1,
        "build_report": 1, "all": 1,
    }  # fmt: skip


def dry_run_commands(workdir: Path, configfile: bool = True) -> dict[str, list[str]]:
    """Rule -> the shell commands of its jobs in a dry run (`--printshellcmds`)."""
    out = run_snakemake(workdir, "--dry-run", "--printshellcmds", configfile=configfile).stdout
    commands: dict[str, list[str]] = {}
    for block in out.split("\n\n"):
        rule = re.search(r"^(?:localrule|rule|checkpoint) (\w+):$", block, re.MULTILINE)
        shell = re.search(r"^Shell command: (cyclegan-batch .*)$", block, re.MULTILINE)
        if rule and shell:
            commands.setdefault(rule[1], []).append(shell[1])
    return commands


def test_without_a_configfile_the_workflow_runs_the_demo(tmp_path: Path) -> None:
    """`snakemake --cores all` in a clone: config/config.yaml says `demo: true`, the demo mode supplies the rest."""
    write_config(tmp_path, {})
    commands = dry_run_commands(tmp_path, configfile=False)
    assert {rule: len(jobs) for rule, jobs in commands.items()} == {
        "build_demo": 1, "prepare_data": 1, "train_model": 1, "translate_image_set": 1, "split_video": 3,
        "join_video": 3, "score_demo": 1, "build_report": 1,
    }  # fmt: skip
    (train,) = commands["train_model"]
    assert train.startswith(
        "cyclegan-batch train --preset grade --set decay_epochs=6 --set domain_names=photo,golden_hour"
    )
    assert "--set epochs=6 --set eval_every=150 " in train  # the grade in 300 steps, the val split read twice
    assert "--init-from" not in train  # the grade preset learns the grade from scratch
    (prepare,) = commands["prepare_data"]
    assert "--test-fraction 0.1 --val-fraction 0.1 " in prepare
    (report,) = commands["build_report"]
    assert "--video-frames 8 " in report or not weights.available()
    (translate,) = commands["translate_image_set"]
    assert "-- results/demo/raw/heldout/A results/demo/translated/images/heldout" in translate
    best = "best" if weights.available() else "generators"  # translate.model: auto; best needs the metrics extra
    assert f"--model results/demo/model/{best}.safetensors " in translate
    # auto falls back to the last model where training does not evaluate (here eval_every 0; or no metrics extra)
    write_config(tmp_path, {"train": {"settings": {"eval_every": 0}}})
    (translate,) = dry_run_commands(tmp_path)["translate_image_set"]
    assert "--model results/demo/model/generators.safetensors " in translate


def test_the_bundled_demo_fine_tunes_the_bundled_model(tmp_path: Path) -> None:
    """config/bundled_demo.yaml (docs/demo.md): the demo with the bundled ResNet demo model, fine-tuned 40 steps."""
    write_config(tmp_path, yaml.safe_load((REPO / "config" / "bundled_demo.yaml").read_text()))
    commands = dry_run_commands(tmp_path)
    (train,) = commands["train_model"]
    assert "--preset demo --set checkpoint_every=20 --set crop_size=128 " in train
    assert "--set domain_names=photo,golden_hour " in train
    assert "--set lr=5e-05 --set max_steps=40" in train and "assets/demo.safetensors" in train
    assert "--minutes" not in train
    (translate,) = commands["translate_image_set"]
    assert "--model results/demo_bundled/model/generators.safetensors " in translate
    # its own inputs, built once, under its experiment: config/demo.yaml's paths say results/{experiment}/raw
    assert "-- results/demo_bundled/raw/heldout/A results/demo_bundled/translated/images/heldout" in translate
    assert commands["build_demo"] == [
        "cyclegan-batch demo -- results/demo_bundled/raw > results/demo_bundled/logs/demo.log 2>&1"
    ]
    assert all("results/demo/" not in c for jobs in commands.values() for c in jobs)


# ---------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole DAG run once on tiny inputs (shared by the end-to-end tests below, in order)."""
    workdir = tmp_path_factory.mktemp("workflow")
    make_inputs(workdir)
    write_config(workdir, finished_config())
    run_snakemake(workdir)
    return workdir


def finished_config() -> dict:
    """finished_run's config: the tiny one with the report's KID/FID on (its one test split image per domain is
    too few for training's evaluation, which tests/test_realism.py covers)."""
    return tiny_config(report={"realism": True})


@pytest.mark.slow
def test_whole_dag_writes_every_output(finished_run: Path) -> None:
    run = finished_run / "results" / EXP
    manifest = [json.loads(line) for line in (run / "data" / "manifest.jsonl").read_text().splitlines()]
    assert {Path(record["source"]).parent.name for record in manifest} == {INPUTS["a"], INPUTS["b"]}
    assert (run / "model" / "generators.safetensors").is_file()
    assert sorted(p.name for p in (run / "model" / "samples").glob("step_*.png"))
    images = run / "translated" / "images" / "heldout"
    assert sorted(p.name for p in images.glob("*.png")) == [f"{i:03d}.png" for i in range(3)]
    assert len((images / "cycle.csv").read_text().strip().splitlines()) == 1 + 3
    assert sorted(p.name for p in (images / "reconstructed").rglob("*.png")) == [f"{i:03d}.png" for i in range(3)]
    video = run / "translated" / "videos" / "clip.mp4"
    assert video_frames(video) == video_frames(finished_run / INPUTS["clip"]) == 10
    assert has_audio(video)
    segments = sorted((run / "segments" / "clip").glob("segment_*"))
    assert len(segments) == 2, "0.5 s segments of a 1 s video with a keyframe every 0.5 s"
    assert (run / "report" / "index.html").is_file() and (run / "report" / "summary.json").is_file()
    summary = json.loads((run / "report" / "summary.json").read_text())
    realism = summary["image_sets"]["heldout"]["realism"]  # KID/FID of the outputs and of the inputs
    assert realism["translated"]["kid_x100"] is not None and realism["untranslated"]["fid"] is not None


@pytest.mark.slow
def test_workflow_report_shows_the_input_frames_of_each_video(finished_run: Path) -> None:
    """The report finds each input video through its sidecar: the original, for a video joined from segments."""
    run = finished_run / "results" / EXP
    sidecar = json.loads((run / "translated" / "videos" / "clip.mp4.json").read_text())
    assert Path(sidecar["input"]["path"]) == (finished_run / INPUTS["clip"]).resolve()
    page = (run / "report" / "index.html").read_text()
    assert "input video not" not in page
    inputs = sorted((run / "report" / "index_assets").glob("video*-in.jpg"))
    assert inputs, "the worst-frame galleries show input frames"


@pytest.mark.slow
def test_second_run_has_nothing_to_do(finished_run: Path) -> None:
    write_config(finished_run, finished_config())
    assert jobs_planned(finished_run) == {}


@pytest.mark.slow
def test_translate_option_change_does_not_retrain(finished_run: Path) -> None:
    config = finished_config()
    config["translate"]["batch_size"] = 2
    write_config(finished_run, config)
    planned = jobs_planned(finished_run)
    assert "train_model" not in planned and "prepare_data" not in planned
    assert {"translate_image_set", "translate_segment", "join_video", "build_report"} <= set(planned)


@pytest.mark.slow
def test_training_key_change_retrains_and_reruns_downstream(finished_run: Path) -> None:
    config = finished_config()
    config["train"]["settings"]["lambda_cycle"] = 5.0
    write_config(finished_run, config)
    planned = jobs_planned(finished_run)
    assert "prepare_data" not in planned
    assert {"train_model", "translate_image_set", "translate_segment", "join_video", "build_report"} <= set(planned)


@pytest.mark.slow
def test_snakemake_report_has_the_captioned_results(finished_run: Path) -> None:
    write_config(finished_run, finished_config())
    out = finished_run / "report.html"
    run_snakemake(finished_run, "--report", str(out))
    html = out.read_text(errors="replace")
    for caption in ("Sample grids written during training", "Per-frame cycle error of video", "Image set"):
        assert caption in html
    for name in ("losses.csv", "clip.mp4", "training-curves.png", "cycle.csv"):
        assert name in html


@pytest.mark.slow
def test_killed_run_reruns_to_complete_outputs(finished_run: Path) -> None:
    """SIGKILL snakemake and its jobs mid-training; after --unlock a rerun leaves only complete outputs."""
    config = finished_config()
    config["train"]["settings"].update(epochs=12, max_steps=60, checkpoint_every=5)  # 5 steps per epoch
    config["report"]["realism"] = False  # the rerun's report: no Inception passes (test_whole_dag's report has them)
    write_config(finished_run, config)
    losses = finished_run / "results" / EXP / "model" / "losses.csv"
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(finished_run)]
    cmd += ["--configfile", str(finished_run / "config.yaml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while logged_steps(losses)[-1:] < [10]:  # the first run logged steps 2 and 4 only
            assert proc.poll() is None and time.monotonic() < deadline, "training never got to step 10"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert logged_steps(losses)[-1] < 60, "killed mid-training"
    run_snakemake(finished_run, "--unlock")
    run_snakemake(finished_run)
    assert logged_steps(losses) == list(range(2, 61, 2)), "one clean training run, not a resumed mix"
    assert not [p for p in finished_run.joinpath("results").rglob("*") if ".part" in p.name], "temporary files left"
    assert jobs_planned(finished_run) == {}


def logged_steps(losses_csv: Path) -> list[int]:
    if not losses_csv.exists():
        return []
    return [int(row.split(",")[1]) for row in losses_csv.read_text().strip().splitlines()[1:] if row.count(",") > 2]


# ------------------------------------------------------------------------------- a user's config
@pytest.fixture(scope="module")
def user_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new user's run: a minimal file over the checkout's config/config.yaml (the demo); trained only."""
    workdir = tmp_path_factory.mktemp("user")
    make_inputs(workdir)
    user_config = {
        "demo": False,
        "device": "cpu",
        "domains": {"A": INPUTS["a"], "B": INPUTS["b"]},
        "train": {"preset": "tiny"},
        "translate": {"images": {"mine": INPUTS["heldout"]}, "videos": {"walk": INPUTS["clip"]}},
    }
    write_config(workdir, user_config)
    run_snakemake(workdir, "train")
    return workdir


@pytest.mark.slow
def test_user_config_trains_with_the_preset_values(user_run: Path) -> None:
    model = user_run / "results" / "demo" / "model"  # the default experiment name
    assert json.loads((model / "run.json").read_text())["config"] == build_config("tiny").to_dict()
    with safe_open(model / "generators.safetensors", "np") as f:
        header = f.metadata()
    assert json.loads(header["generator"]) == {"ngf": 8, "n_blocks": 2, "upsample": "transpose"}
    assert (header["crop_size"], header["load_size"], json.loads(header["domains"])) == ("32", "36", ["A", "B"])
    assert not (user_run / "results" / "demo" / "raw").exists(), "no demo inputs built"


@pytest.mark.slow
def test_user_config_translates_only_its_own_inputs(user_run: Path) -> None:
    commands = dry_run_commands(user_run)
    assert {rule: len(jobs) for rule, jobs in commands.items()} == {
        "translate_image_set": 1, "split_video": 1, "join_video": 1, "build_report": 1,
    }  # fmt: skip
    assert f"-- '{INPUTS['heldout']}' results/demo/translated/images/mine > " in commands["translate_image_set"][0]
    assert f"-- '{INPUTS['clip']}' results/demo/segments/walk" in commands["split_video"][0]
