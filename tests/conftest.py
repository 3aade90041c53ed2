"""Shared fixtures: the real CLI in a subprocess, and small synthetic image folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# xdist's file scheduler hands out the files with the most tests first, which leaves a few-test file that runs
# long for last, alone at the end of make test with a core idle. Two do: the SLURM test mostly waits for the
# cluster's status checks (2-3 minutes), and test_demo.py's KID claim is one single-threaded process of 336
# Inception passes after a training (100-140 s on a 2-core AVX2 EPYC, where it ran alone for the last 104 s of a
# 518 s run). Started first, each on its own worker, they overlap the other files' work.
FIRST_FILES = ("tests/test_slurm.py", "tests/test_demo.py")


@pytest.hookimpl(optionalhook=True)  # pytest without xdist does not know the hook
def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - xdist's hook
    if config.getoption("dist") != "loadfile":
        return None  # xdist's own scheduler
    from xdist.scheduler import LoadFileScheduling

    class WaitingFilesFirst(LoadFileScheduling):
        def _assign_work_unit(self, node) -> None:  # noqa: ANN001
            for scope in FIRST_FILES:
                if scope in self.workqueue:
                    self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

    return WaitingFilesFirst(config, log)


def run_cli(*args: str | Path, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """`cyclegan-batch ARGS` as a user runs it: a new process, real exit code, real stderr."""
    cmd = [sys.executable, "-m", "cyclegan_batch", *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def smooth_images(n: int, size: int, seed: int) -> list[np.ndarray]:
    """Smooth random colour images (low-frequency noise, upsampled): cheap and learnable."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        out.append(np.asarray(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)))
    return out


def write_images(folder: Path, images: list[np.ndarray], suffix: str = ".png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = folder / f"{i:03d}{suffix}"
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def tiny_domains(tmp_path: Path) -> Path:
    """DATA/A and DATA/B with six 40x40 images each."""
    data = tmp_path / "data"
    write_images(data / "A", smooth_images(6, 40, seed=1))
    write_images(data / "B", smooth_images(6, 40, seed=2))
    return data


@pytest.fixture(autouse=True)
def _quiet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests share two cores; one intra-op thread per process avoids oversubscription stalls.
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """The test process itself too (it imported torch before the variable above was set): with two
    intra-op threads on two busy cores they wait on each other, and a tiny training run in the test
    process took 15-60 s instead of 2 s (the note on threads in bench/RESULTS.md, "Training step")."""
    import torch

    torch.set_num_threads(1)
