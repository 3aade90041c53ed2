"""The GPU session's parts that run without a GPU: the NVENC quality method (x264 against itself), a part
recorded as unmeasured with its reason, and the script itself on a machine with no CUDA device."""

from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

import pytest
import torch

from bench import gpu_targets, nvenc_quality

ROOT = Path(__file__).resolve().parents[1]


def test_the_crf_mapping_method_maps_x264_onto_itself(tmp_path: Path) -> None:
    result = nvenc_quality.measure(tmp_path, quick=True, encoder="libx264")
    assert result["table"] == {crf: crf for crf in nvenc_quality.CRFS}
    assert result["x264_psnr"][14] > result["x264_psnr"][28]  # better quality, closer to the lossless frames


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine measures the part instead")
def test_a_part_without_a_gpu_is_unmeasured_with_the_reason(tmp_path: Path) -> None:
    args = argparse.Namespace(device="auto", quick=False, out=tmp_path)
    assert gpu_targets.run_part("train", args)["unmeasured"] == "no CUDA device on this machine"
    lines = gpu_targets.summary(tmp_path)
    assert any(line.startswith("UNMEASURED training step") and "no CUDA device" in line for line in lines)
    assert any(line.startswith("UNMEASURED 1280x720 video") and "did not run" in line for line in lines)


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA machine the script measures for minutes")
def test_the_script_says_there_is_no_gpu_and_exits_cleanly(tmp_path: Path) -> None:
    path = [p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "nvidia-smi").exists()]
    env = {**os.environ, "OUT": str(tmp_path), "PATH": os.pathsep.join(path)}
    script = ROOT / "bench" / "gpu_session.sh"
    proc = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device here" in (tmp_path / "gpu.txt").read_text()
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    assert len(summary) == sum(len(t) or 1 for t in gpu_targets.TARGETS.values())
    assert all(line.startswith("UNMEASURED") and "no CUDA device here" in line for line in summary)
    assert not list(tmp_path.glob("*.json"))
