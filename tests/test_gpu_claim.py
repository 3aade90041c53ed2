"""GPU claims between real processes, on simulated cards (CYCLEGAN_BATCH_SIMULATE_GPUS, the claim's test seam).

The locks, the processes and the snakemake run are real; only the card count is simulated, and simulated cards
compute on the CPU, so this runs on machines without a GPU.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pytest
import torch
from conftest import run_cli, smooth_images, write_images
from test_workflow import run_snakemake, tiny_config, write_config

from cyclegan_batch.device import gpu_claim
from cyclegan_batch.device.precision import pick_device

REPO = Path(__file__).resolve().parents[1]

# One process that claims CARDS cards (or its one card), says which, then holds them for HOLD seconds.
HOLDER = """
import logging, os, sys, time
logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
from cyclegan_batch.device import gpu_claim
n = int(os.environ.get("CARDS", "1"))
cards = gpu_claim.claim(n) if n > 1 else [gpu_claim.process_card()]
start = time.monotonic_ns()
sys.stdout.flush()
time.sleep(float(os.environ.get("HOLD", "600")))
print("HELD", " ".join(card.id for card in cards), start, time.monotonic_ns(), flush=True)
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private lock folder and no GPU settings from the caller's environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CYCLEGAN_BATCH_", "SLURM_"))}
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env.update({gpu_claim.LOCKS_ENV: str(tmp_path / "locks"), "PYTHONPATH": str(REPO)})
    return env


def holder(env: dict[str, str], gpus: int, **extra: str) -> subprocess.Popen:
    """A HOLDER process, returned once it holds its cards."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**env, gpu_claim.SIMULATE_ENV: str(gpus), **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("claimed GPU"), line + proc.stdout.read()
    return proc


def claim_once(env: dict[str, str], gpus: int, **extra: str) -> subprocess.CompletedProcess:
    """Claim a card with no waiting and exit at once: what a job finds free right now."""
    return subprocess.run(
        [sys.executable, "-c", HOLDER],
        env={**env, gpu_claim.SIMULATE_ENV: str(gpus), gpu_claim.WAIT_ENV: "0", "HOLD": "0", **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for(path: Path, text: str, alive: Callable[[], bool], timeout: float = 240) -> str:
    """The contents of `path` once they contain `text` (fails if the writer ends first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.exists() else ""
        if text in content:
            return content
        assert alive(), f"ended before {text!r} in {path}:\n{content}"
        time.sleep(0.1)
    raise AssertionError(f"no {text!r} in {path} after {timeout} s")


# ---------------------------------------------------------------------------------------- the claim
def test_concurrent_processes_never_hold_one_card_together(env: dict[str, str]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HOLDER],
            env={**env, gpu_claim.SIMULATE_ENV: "3", "HOLD": "0.3"},
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(7)
    ]
    held: dict[str, list[tuple[int, int]]] = {}
    for proc in procs:
        out = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, out
        _, card, start, end = out.strip().splitlines()[-1].split()
        held.setdefault(card, []).append((int(start), int(end)))
    assert set(held) <= {"0", "1", "2"} and sum(map(len, held.values())) == 7
    for card, spans in held.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, f"GPU {card} held by two processes at once: {spans}"


def test_sigkilled_holder_frees_its_card_for_a_waiting_job(env: dict[str, str]) -> None:
    first = holder(env, 1)
    waiter = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env={**env, gpu_claim.SIMULATE_ENV: "1", "HOLD": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = waiter.stdout.readline()
    assert line.startswith("waiting for 1 free GPU(s): 1 of 1 claimed by other processes"), line
    assert f"GPU 0: pid {first.pid} on " in line
    first.kill()
    first.wait()
    rest = waiter.communicate(timeout=60)[0]
    assert waiter.returncode == 0 and rest.startswith("claimed GPU 0 after waiting"), rest


def test_all_cards_taken_with_a_wait_limit_is_a_one_line_error(env: dict[str, str], tmp_path: Path) -> None:
    write_images(tmp_path / "in", smooth_images(1, 40, seed=0))
    first = holder(env, 1)
    try:
        result = run_cli(
            "translate", tmp_path / "in", tmp_path / "out", "--device", "cuda",
            env={**env, gpu_claim.SIMULATE_ENV: "1", gpu_claim.WAIT_ENV: "0"}, check=False,
        )  # fmt: skip
    finally:
        first.kill()
        first.wait()
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"no free GPU after 0 s (CYCLEGAN_BATCH_GPU_WAIT): GPU 0: pid {first.pid} on" in result.stderr
    assert "unset CYCLEGAN_BATCH_GPU_WAIT to queue, or pass --device cuda:N" in result.stderr


def test_cards_are_those_cuda_visible_devices_shows(env: dict[str, str]) -> None:
    first = holder(env, 1, CUDA_VISIBLE_DEVICES="5")  # its cuda:0 is the node's card 5
    try:
        second = claim_once(env, 2, CUDA_VISIBLE_DEVICES="5,7")
    finally:
        first.kill()
        first.wait()
    assert first.stdout.read() == ""
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.startswith("claimed GPU 1 (CUDA_VISIBLE_DEVICES entry 7)")


def test_slurm_jobs_never_wait_for_each_other(env: dict[str, str]) -> None:
    # With ConstrainDevices every job sees its own card as CUDA_VISIBLE_DEVICES=0: the jobs' claims are apart.
    first = holder(env, 1, SLURM_JOB_ID="101", CUDA_VISIBLE_DEVICES="0")
    try:
        other_job = claim_once(env, 1, SLURM_JOB_ID="102", CUDA_VISIBLE_DEVICES="0")
        same_job = claim_once(env, 1, SLURM_JOB_ID="101", CUDA_VISIBLE_DEVICES="0")
    finally:
        first.kill()
        first.wait()
    assert other_job.returncode == 0 and other_job.stdout.startswith("claimed GPU 0"), other_job.stdout
    assert same_job.returncode == 1 and "no free GPU" in same_job.stderr, same_job.stdout + same_job.stderr


def test_explicit_index_and_cpu_skip_the_claim(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    first = holder(env, 2, CARDS="2")
    try:
        monkeypatch.setenv(gpu_claim.LOCKS_ENV, env[gpu_claim.LOCKS_ENV])
        monkeypatch.setenv(gpu_claim.SIMULATE_ENV, "2")
        monkeypatch.setenv(gpu_claim.WAIT_ENV, "0")
        assert pick_device("cuda:1") == torch.device("cuda", 1)
        assert pick_device("cpu") == torch.device("cpu")
        assert claim_once(env, 2).returncode == 1, "both cards are held"
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
def test_train_gpus_claims_its_cards_for_the_torchrun_ranks(
    env: dict[str, str], tiny_domains: Path, tmp_path: Path
) -> None:
    first = holder(env, 3)  # takes GPU 0
    log = tmp_path / "train.log"
    with log.open("w") as out:
        train = subprocess.Popen(
            [sys.executable, "-m", "cyclegan_batch", "train", tiny_domains, tmp_path / "model", "--preset", "tiny",
             "--max-steps", "100000", "--gpus", "2", "--device", "cuda", "--workers", "0"],
            env={**env, gpu_claim.SIMULATE_ENV: "3", "OMP_NUM_THREADS": "1"},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        assert "claimed GPU 1, GPU 2 (lock folder" in wait_for(log, "claimed GPU", lambda: train.poll() is None)
        wait_for(
            log, "x 2 ranks", lambda: train.poll() is None
        )  # the ranks run, under torchrun that replaced the launcher
        assert claim_once(env, 3).returncode == 1, "GPU 0 by the holder, 1 and 2 by the training"
    finally:
        os.killpg(train.pid, signal.SIGKILL)
        train.wait()
        first.kill()
        first.wait()
    freed = claim_once(env, 3)
    assert freed.returncode == 0 and freed.stdout.startswith("claimed GPU 0"), freed.stdout + freed.stderr


# ------------------------------------------------------------------------------------------ workflow
def translate_jobs(workdir: Path, n: int, **config: object) -> tuple[list[str], list[Path]]:
    """A run folder with a finished model and `n` image sets: the targets and logs of `n` translate (GPU) jobs."""
    sets = {f"set{i}": f"raw/set{i}" for i in range(n)}
    for i, folder in enumerate(sets.values()):
        write_images(workdir / folder, smooth_images(2, 40, seed=i))
    settings = tiny_config(device="cuda", **config)
    settings["translate"]["images"] = sets
    write_config(workdir, settings)
    run_dir = workdir / "results" / settings["experiment"]
    (run_dir / "model").mkdir(parents=True)  # a finished model, so that only the GPU jobs under test run
    shutil.copy(files("cyclegan_batch") / "assets" / "demo.safetensors", run_dir / "model" / "generators.safetensors")
    targets = [f"results/{settings['experiment']}/translated/images/{name}" for name in sets]
    return targets, [run_dir / "logs" / "translate_images" / f"{name}.log" for name in sets]


def start_snakemake(workdir: Path, targets: list[str], result: list[subprocess.CompletedProcess]) -> threading.Thread:
    """`snakemake TARGETS` (only translate jobs) in a thread; its result lands in `result`."""
    thread = threading.Thread(
        target=lambda: result.append(
            run_snakemake(workdir, *targets, "--cores", "4", "--allowed-rules", "translate_image_set", check=False)
        )
    )
    thread.start()
    return thread


@pytest.fixture
def simulated_box(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """4 simulated cards for snakemake and its jobs."""
    for key, value in {**env, gpu_claim.SIMULATE_ENV: "4"}.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.mark.slow
def test_local_workflow_runs_a_gpu_job_per_card(simulated_box: dict[str, str], tmp_path: Path) -> None:
    """4 cards: 4 translate jobs run at once (all seen waiting while a holder has the cards), on 4 cards."""
    targets, logs = translate_jobs(tmp_path, 4)
    all_cards = holder(simulated_box, 4, CARDS="4")
    result: list[subprocess.CompletedProcess] = []
    snakemake = start_snakemake(tmp_path, targets, result)
    try:
        for log in logs:  # the four jobs run at once: each waits for a card while the holder has them all
            wait_for(log, "waiting for 1 free GPU(s): 4 of 4 claimed", snakemake.is_alive)
    finally:
        all_cards.kill()
        all_cards.wait()
        snakemake.join(timeout=300)
    assert result and result[0].returncode == 0, result and result[0].stdout[-3000:]
    cards = [log.read_text().split("claimed GPU ")[1].split()[0] for log in logs]
    assert sorted(cards) == ["0", "1", "2", "3"], [log.read_text() for log in logs]


@pytest.mark.slow
def test_local_gpus_caps_the_gpu_jobs_at_once(simulated_box: dict[str, str], tmp_path: Path) -> None:
    targets, logs = translate_jobs(tmp_path, 2, local_gpus=1)
    all_cards = holder(simulated_box, 4, CARDS="4")
    result: list[subprocess.CompletedProcess] = []
    snakemake = start_snakemake(tmp_path, targets, result)
    try:
        deadline = time.monotonic() + 240
        while not any("waiting for 1 free GPU" in log.read_text() for log in logs if log.exists()):
            assert snakemake.is_alive() and time.monotonic() < deadline, result
            time.sleep(0.1)
        # A job's log exists from its start (the shell's redirection), long before the job can say it waits:
        # a second job let through with the first would have a log by now.
        assert sum(log.exists() for log in logs) == 1
    finally:
        all_cards.kill()
        all_cards.wait()
        snakemake.join(timeout=300)
    assert result and result[0].returncode == 0, result and result[0].stdout[-3000:]
