"""profiles/slurm against a real single-node SLURM: the demo DAG (tiny preset) runs as sbatch jobs.

tests/slurm/start_slurm.sh installs (Debian packages) and starts munge, slurmctld and slurmd with a
private config; the fixture stops every daemon it started. Without root or apt the test is skipped,
except under CI=true, where it fails: CI must prove the cluster path.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_workflow import BIN, REPO, run_shape, run_snakemake, write_config

pytestmark = pytest.mark.slow

GPU_RULES = {"train_model", "translate_image_set", "translate_segment", "score_demo"}
CPU_RULES = {"build_demo", "prepare_data", "split_video", "join_video", "build_report"}


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A running single-node SLURM (configured at the default /etc/slurm, so clients find it)."""
    state = tmp_path_factory.mktemp("slurm")
    try:
        start = subprocess.run(
            [str(REPO / "tests/slurm/start_slurm.sh"), str(state)], capture_output=True, text=True, timeout=600
        )
        if start.returncode == 77:
            reason = start.stderr.strip()
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI must run the SLURM test, but {reason}")
            pytest.skip(reason)
        assert start.returncode == 0, start.stdout + start.stderr
        yield
    finally:
        subprocess.run([str(REPO / "tests/slurm/stop_slurm.sh"), str(state)], timeout=120)


def demo_tiny_config() -> dict:
    """config/config.yaml (the demo mode) with the tiny preset trained from scratch, on the CPU.

    The demo mode still puts config/demo.yaml beneath it: its train.settings (128-pixel crops) apply.
    """
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.update(device="cpu", precision="fp32")
    config["train"] = {"preset": "tiny", "init_from": None, "settings": {"max_steps": 4, "log_every": 2}}
    config["resources"] = {stage: {"threads": 1, "mem_mb": 500, "runtime": 10} for stage in ("train", "translate")}
    return config


def slurm_job_logs(workdir: Path) -> dict[str, list[Path]]:
    """Rule -> the SLURM log files of its jobs (.snakemake/slurm_logs/rule_<name>/<wildcards>/<jobid>.log)."""
    logs: dict[str, list[Path]] = {}
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log")):
        rule = log.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0].removeprefix("rule_")
        logs.setdefault(rule, []).append(log)
    return logs


@pytest.mark.usefixtures("slurm_cluster")
def test_demo_dag_runs_through_slurm_like_a_local_run(tmp_path: Path) -> None:
    cluster, local = tmp_path / "cluster", tmp_path / "local"
    for workdir in (cluster, local):
        workdir.mkdir()
        write_config(workdir, demo_tiny_config())

    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(cluster)]
    cmd += ["--profile", str(REPO / "profiles" / "slurm"), "--workflow-profile", "none"]
    cmd += ["--slurm-keep-successful-logs", "--configfile", str(cluster / "config.yaml")]
    # Own session and no stdin, as a user's detached cluster run (no stray terminal signals).
    proc = subprocess.run(
        cmd, cwd=cluster, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=900, start_new_session=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    logs = slurm_job_logs(cluster)
    assert set(logs) == GPU_RULES | CPU_RULES, "every rule ran as a SLURM job"
    segments = list((cluster / "results" / "demo" / "segments").glob("*/segment_*"))
    videos = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())["translate"]["videos"]
    assert len(logs["translate_segment"]) == len(segments) >= len(videos), "one SLURM job per video segment"
    for rule, rule_logs in logs.items():
        job = subprocess.run(["scontrol", "show", "job", rule_logs[0].stem], capture_output=True, text=True).stdout
        assert "JobState=COMPLETED" in job, (rule, job)
        assert ("TresPerJob=gres:gpu:1" in job) is (rule in GPU_RULES), f"{rule}: GPU request as profiles/slurm says"

    run_snakemake(local)
    assert run_shape(cluster / "results" / "demo") == run_shape(local / "results" / "demo")
