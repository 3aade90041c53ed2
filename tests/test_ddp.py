"""Training on several processes with DDP (gloo on CPU): ranks agree, N x b equals one process at N*b, resume.

The rank processes run once per module (`ddp_runs`), each doing every scenario, because starting
processes that import torch is the slow part on a shared CPU.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import run_cli, smooth_images, write_images
from safetensors.torch import load_file

from cyclegan_batch.runfolder import CHECKPOINT_FILE, MODEL_FILE
from cyclegan_batch.train.config import build_config
from cyclegan_batch.train.data import epoch_draws, rank_batches
from cyclegan_batch.train.loop import Trainer

WORLD = 2
FIXED_STEPS = 2  # steps on fixed data; each step's global batch is WORLD * FIXED_BATCH images per domain
FIXED_BATCH = 2


def make_trainer(data: Path, model_dir: Path, **overrides) -> Trainer:
    cfg = build_config("tiny", overrides)
    return Trainer(data, model_dir, cfg, device="cpu", precision="fp32", workers=0, progress=False)


def fixed_data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each step's global batch (A, B), the same in every process."""
    g = torch.Generator().manual_seed(7)
    shape = (WORLD * FIXED_BATCH, 3, 32, 32)
    images = [torch.rand(shape, generator=g) * 2 - 1 for _ in range(2 * FIXED_STEPS)]
    return list(zip(images[::2], images[1::2], strict=True))


def fixed_data_trainer(data: Path, model_dir: Path, batch_size: int) -> Trainer:
    """History pool off and no flips, so a step depends only on the weights and the batch."""
    return make_trainer(data, model_dir, batch_size=batch_size, pool_size=0, flip=False)


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    nets = trainer.step.nets.named()
    return {f"{name}.{k}": v.clone() for name, net in nets.items() for k, v in net.state_dict().items()}


def gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    """Each parameter's gradient as its optimizer last applied it (G's from the G step, D's from the D step);
    under DDP, the mean over the ranks that the all-reduce left in every rank."""
    nets = trainer.step.nets.named()
    return {f"{name}.{k}": p.grad.clone() for name, net in nets.items() for k, p in net.named_parameters()}


def _rank_main(rank: int, work: Path) -> None:
    """One rank: fixed-data steps on its share of each batch, then real training straight and resumed."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{work / 'rendezvous'}", rank=rank, world_size=WORLD)
    try:
        trainer = fixed_data_trainer(work / "data", work / "fixed", FIXED_BATCH)
        mine = slice(rank * FIXED_BATCH, (rank + 1) * FIXED_BATCH)
        for i, (a, b) in enumerate(fixed_data()):
            trainer.step.train_step(a[mine], b[mine])
            if i == 0:
                torch.save(gradients(trainer), work / f"fixed_gradients_rank{rank}.pt")
        torch.save(weights(trainer), work / f"fixed_rank{rank}.pt")

        real = dict(pool_size=3, log_every=2)  # a small pool, so its history (and its state) is used
        straight = make_trainer(work / "data", work / "straight", epochs=3, **real)
        straight.fit()
        torch.save(weights(straight), work / f"straight_rank{rank}.pt")
        make_trainer(work / "data", work / "split", epochs=1, **real).fit()
        resumed = make_trainer(work / "data", work / "split", epochs=3, **real)
        torch.save({"epoch": resumed.epoch, "step": resumed.global_step}, work / f"resumed_at_rank{rank}.pt")
        resumed.fit()
        torch.save(weights(resumed), work / f"split_rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("ddp")
    write_images(work / "data" / "A", smooth_images(8, 40, seed=1))
    write_images(work / "data" / "B", smooth_images(6, 40, seed=2))
    mp.spawn(_rank_main, args=(work,), nprocs=WORLD)
    return work


def load(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)


def conv_weights(d: dict[str, torch.Tensor]) -> list[str]:
    """Biases are left out: those of convs followed by instance norm (24 of the 30) get a gradient that IN
    makes exactly zero, so what they get is rounding noise (below 1.5e-6 where weights get 0.2 to 5)."""
    return [k for k in d if k.endswith(".weight")]


def gradient_difference(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> float:
    """The largest conv-weight gradient difference, as a fraction of that weight's largest gradient in `y`."""
    return max(((x[k] - y[k]).abs().max() / y[k].abs().max()).item() for k in conv_weights(y))


def update_difference(x: dict[str, torch.Tensor], y: dict[str, torch.Tensor], start: dict[str, torch.Tensor]) -> float:
    """How far apart two runs ended, relative to how far `y` moved from `start` (L2 over all conv weights)."""
    keys = conv_weights(y)
    apart = torch.cat([(x[k] - y[k]).flatten() for k in keys]).norm()
    moved = torch.cat([(y[k] - start[k]).flatten() for k in keys]).norm()
    return (apart / moved).item()


def test_rank_batches_split_each_step_of_the_single_process_schedule() -> None:
    draws = epoch_draws(11, 7, seed=0, epoch=3)
    single = rank_batches(draws, batch_size=4)
    shards = [rank_batches(draws, batch_size=2, world_size=2, rank=r) for r in range(2)]
    assert len(single) == len(shards[0]) == len(shards[1]) == 11 // 4
    assert all(mine + theirs == whole for mine, theirs, whole in zip(*shards, single, strict=True))


def test_ranks_hold_identical_weights_after_training(ddp_runs: Path) -> None:
    # different data and different image pools on each rank, yet all-reduced gradients keep them equal
    rank0, rank1 = load(ddp_runs / "straight_rank0.pt"), load(ddp_runs / "straight_rank1.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    rows = list(csv.DictReader((ddp_runs / "straight" / "losses.csv").open()))
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8, 10, 12]  # 8 images // 2 ranks = 4 steps/epoch, once each


def test_two_ranks_step_like_one_process_with_twice_the_batch(ddp_runs: Path, tmp_path: Path) -> None:
    """What DDP guarantees is the gradient: 2 ranks x batch 2 all-reduce to one process's batch-4 gradient, up to
    rounding. Measured on a 2-core AVX2 CPU (torch 2.14): the all-reduced gradients (and weights) are bitwise
    those of two half-batch backwards averaged in one process, and over 39 data seeds those are within
    1.7e-6..3.7e-6 of each conv weight's largest batch-4 gradient; rank 0's half alone is 1.1..1.6 off. (A sum
    instead of a mean would be 1.0 off, and only the gradients show it: Adam's step ignores the gradient's scale.)

    The weights after two steps are compared loosely, because Adam amplifies rounding: the IN-cancelled biases'
    noise gradients (see conv_weights) come out of the batch-4 and 2 x 2 reductions differently, Adam's first
    step (lr * g / (|g| + 1e-8)) moves each by up to lr = 2e-4 either way, so those biases end step 1 up to 3.5e-4
    apart. Instance norm cancels that to ~1e-6 of the activations, but that can flip a ReLU whose input is
    that close to 0 (here, in step 2: 1 of 737,280, a_to_b's first ReLU inside G(F(b)), input 1.9e-7 vs <= 0);
    its gate changes b_to_a's step-2 gradients by up to 5e-3 of their largest, and Adam's second step turns
    that into weights up to 8.7e-5 apart. Conv weights whose gradient is within rounding of 0 do the same even
    in step 1 (seed 33: 5.6e-9 vs 3.0e-8, next to Adam's 1e-8, 7.8e-5 apart). Which of these happen is chance:
    this data gives 9e-8 with unfused Adam and 3e-8 with oneDNN off. In 8 of 39 seeds the largest difference
    exceeds 1e-5 (up to 2.6e-4 = 1.3 lr, against the half batch's 8.2e-4), so it cannot tell them apart
    reliably; the L2 distance relative to the distance moved stays below 2.9e-3 for DDP, above 0.85 for the half.
    """
    single = fixed_data_trainer(ddp_runs / "data", tmp_path / "single", WORLD * FIXED_BATCH)
    half = fixed_data_trainer(ddp_runs / "data", tmp_path / "half", FIXED_BATCH)
    start = weights(single)
    for i, (a, b) in enumerate(fixed_data()):
        single.step.train_step(a, b)
        half.step.train_step(a[:FIXED_BATCH], b[:FIXED_BATCH])  # rank 0's share alone: what no all-reduce would give
        if i == 0:
            first_single, first_half = gradients(single), gradients(half)
    first_ddp = load(ddp_runs / "fixed_gradients_rank0.pt")
    assert gradient_difference(first_ddp, first_single) < 2e-5  # 5x the worst seen
    assert gradient_difference(first_half, first_single) > 0.5

    expected = weights(single)
    assert update_difference(load(ddp_runs / "fixed_rank0.pt"), expected, start) < 2e-2  # 7x the worst seen
    assert update_difference(weights(half), expected, start) > 0.5


def test_resume_under_ddp_continues_exactly(ddp_runs: Path) -> None:
    for rank in range(WORLD):
        assert load(ddp_runs / f"resumed_at_rank{rank}.pt") == {"epoch": 1, "step": 4}
        straight, split = load(ddp_runs / f"straight_rank{rank}.pt"), load(ddp_runs / f"split_rank{rank}.pt")
        assert all(torch.equal(straight[k], split[k]) for k in straight)
    a, b = load_file(ddp_runs / "straight" / MODEL_FILE), load_file(ddp_runs / "split" / MODEL_FILE)
    assert all(torch.equal(a[k], b[k]) for k in a)
    state = torch.load(ddp_runs / "split" / CHECKPOINT_FILE, weights_only=True)
    assert state["world_size"] == WORLD and len(state["pools"]) == WORLD


def test_gpus_option_runs_torchrun_with_one_writer(tiny_domains: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    tiny = ["train", tiny_domains, model_dir, "--preset", "tiny", "--workers", "0", "--precision", "fp32"]
    result = run_cli(*tiny, "--epochs", "2", "--gpus", "2", "--device", "cpu", "--set", "log_every=1", timeout=300)
    assert "x 2 ranks" in result.stderr and "3 steps/epoch" in result.stderr  # 6 images // 2 ranks
    steps = [int(r["step"]) for r in csv.DictReader((model_dir / "losses.csv").open())]
    assert steps == [1, 2, 3, 4, 5, 6]  # one writer: no row twice
    run = json.loads((model_dir / "run.json").read_text())
    assert (run["world_size"], run["steps"]) == (2, 6)

    alone = run_cli(*tiny, "--epochs", "3", check=False)  # one process cannot take over a 2-rank run
    assert alone.returncode == 1 and "trained by 2 process(es)" in alone.stderr
    assert "Traceback" not in alone.stderr


def test_gpus_without_gpus_names_the_fix(tiny_domains: Path, tmp_path: Path) -> None:
    result = run_cli("train", tiny_domains, tmp_path / "model", "--preset", "tiny", "--gpus", "2", check=False)
    assert result.returncode == 1
    assert "no CUDA device here; pass --device cpu" in result.stderr and "Traceback" not in result.stderr
