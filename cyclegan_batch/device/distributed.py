"""Multi-process training with PyTorch DistributedDataParallel, launched by `torchrun`.

`torchrun` (torch.distributed.run) starts one process per GPU and tells each its RANK, LOCAL_RANK and
WORLD_SIZE through the environment; `process_group` joins them (NCCL on CUDA, gloo on CPU). Outside
torchrun everything here reports a world of one, so the single-process trainer needs no special case.
`relaunch_under_torchrun` is what `cyclegan-batch train --gpus N` does: it claims N free GPUs (see gpu_claim)
and re-executes the same command through torchrun on this machine.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch
import torch.distributed as dist

from cyclegan_batch.device import gpu_claim


def under_torchrun() -> bool:
    """True in a process started by torchrun (which always sets LOCAL_RANK and WORLD_SIZE)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def local_rank() -> int | None:
    """This process's LOCAL_RANK when it is one of several torchrun ranks, else None."""
    return int(os.environ["LOCAL_RANK"]) if under_torchrun() and int(os.environ["WORLD_SIZE"]) > 1 else None


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """The one process that writes checkpoints, logs, samples and the model file."""
    return rank() == 0


def rank_device(device: torch.device) -> torch.device:
    """Each rank drives its own GPU: cuda -> cuda:LOCAL_RANK under torchrun; other devices unchanged."""
    index = local_rank()
    return torch.device("cuda", index) if device.type == "cuda" and index is not None else device


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[None]:
    """Join torchrun's process group for the duration (a no-op for a single process)."""
    if not under_torchrun() or int(os.environ["WORLD_SIZE"]) == 1 or dist.is_initialized():
        yield
        return
    device = rank_device(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def relaunch_under_torchrun(nproc: int, claim_gpus: bool) -> None:
    """Replace this process by `torchrun --standalone --nproc_per_node N -m cyclegan_batch <same args>`.

    With `claim_gpus` it first claims N free GPUs and keeps them (the locks survive the exec: torchrun is this
    same process) for ranks that see only those cards, as cuda:0..N-1.
    """
    if claim_gpus:
        gpu_claim.hand_to_children(gpu_claim.claim(nproc))
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    os.execv(sys.executable, [*args, "-m", "cyclegan_batch", *sys.argv[1:]])


def mean_across_ranks(t: torch.Tensor) -> torch.Tensor:
    """The mean of `t` over all ranks (gloo has no AVG reduction, so sum and divide)."""
    if world_size() == 1:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t / world_size()


def gather_to_main(t: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
    """Every rank's `t` (same shape on all ranks) on CPU, at rank 0; an empty list elsewhere."""
    if world_size() == 1:
        return [t.cpu()]
    if t.numel() == 0:  # the shape is the same everywhere, so every rank takes this branch together
        return [t.cpu()] * world_size() if is_main() else []
    local = t.to(device).contiguous()
    parts = [torch.empty_like(local) for _ in range(world_size())] if is_main() else None
    dist.gather(local, parts, dst=0)
    return [p.cpu() for p in parts] if parts is not None else []
