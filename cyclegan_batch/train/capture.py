"""The training step captured whole, so a batch-1 step on a GPU is not bound by kernel launches (`--capture`).

At the paper's batch 1 the card waits on the host: a step is some thousand small kernels, each launched from
Python (bench/RESULTS.md, "CUDA GPU (current)": 1.12x a plain fp32 step, 2 % of the card's bf16 peak). A CUDA
graph replays all of them with one launch. What a graph needs, the step provides in capture mode (step.py):
- no host synchronisation inside: the image pool decides on the device (DevicePool, below), its random
  numbers drawn just before each replay from its own device generator;
- optimizers whose state and learning rate live on the device (fused, capturable Adam, lr a tensor);
- autocast without its weight-cast cache where a graph captures (it replays the casts; on a CPU the cache
  stays, so the capture-ready step is the plain step's arithmetic exactly).
StepGraph runs the first WARMUP steps eagerly on a side stream (cuBLAS, cuDNN and the allocator settle; they
are real steps), captures the next one and replays it from then on, with each batch copied into the graph's
input tensors. On a CPU the same capture-ready step runs eagerly: that is what the tests check against the
plain step (tests/test_capture.py); the GPU figures are bench/gpu_session.sh's.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

WARMUP = 3  # eager steps before the capture, as PyTorch's CUDA graph recipe asks

StepFn = Callable[[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


class DevicePool:
    """The image pool of step.ImagePool with its choices made on the device: after it fills, each image is swapped
    for a stored one with probability 0.5, the same rule, drawn from a device generator, without host syncs.

    Its draws for a batch are made by `draw(n)` before the step (outside a captured graph); `query` reads them.
    While the pool fills it returns the images it is given, as ImagePool does (no draws are used then)."""

    def __init__(self, size: int, seed: int, device: torch.device) -> None:
        self.size, self.device = size, device
        self.rng = torch.Generator(device=device).manual_seed(seed)
        self.images: torch.Tensor | None = None  # size x C x H x W, allocated at the first query
        self.count = torch.zeros((), dtype=torch.long, device=device)  # images offered so far
        self._uniform = torch.zeros(0, device=device)
        self._index = torch.zeros(0, dtype=torch.long, device=device)

    def draw(self, n: int) -> None:
        """The random numbers of the next query of `n` images, into the same tensors each time (graph inputs)."""
        if self.size == 0:
            return
        if self._uniform.numel() != n:
            self._uniform = torch.empty(n, device=self.device)
            self._index = torch.empty(n, dtype=torch.long, device=self.device)
        torch.rand(n, generator=self.rng, device=self.device, out=self._uniform)
        torch.randint(self.size, (n,), generator=self.rng, device=self.device, out=self._index)

    def query(self, batch: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return batch
        batch = batch.detach()
        if self.images is None:
            self.images = batch.new_zeros((self.size, *batch.shape[1:]))
        out = []
        for k in range(len(batch)):
            filling = self.count < self.size
            position = torch.where(filling, self.count, self._index[k]).reshape(1)
            stored = self.images.index_select(0, position)
            swap = ~filling & (self._uniform[k] > 0.5)
            image = batch[k : k + 1]
            out.append(torch.where(swap, stored, image))
            self.images.index_copy_(0, position, torch.where(filling | swap, image, stored))
            self.count.add_(1)
        return torch.cat(out)

    def state_dict(self) -> dict:
        """step.ImagePool's format: the stored images and the generator state (here the device generator's)."""
        held = min(int(self.count), self.size)
        images = self.images[:held].to("cpu", copy=True) if self.images is not None and held else torch.empty(0)
        return {"images": images, "rng": self.rng.get_state()}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        images = state["images"]
        if len(images):
            self.images = images.new_zeros((self.size, *images.shape[1:])).to(device)
            self.images[: len(images)] = images.to(device)
        self.count.fill_(len(images))
        if state["rng"].numel() == self.rng.get_state().numel():
            self.rng.set_state(state["rng"])
        else:  # saved by an ImagePool (a run without --capture): reseeded from it, deterministically
            self.rng.manual_seed(int(state["rng"].double().sum()))


class StepGraph:
    """`body(real_a, real_b)` as one CUDA graph: WARMUP eager steps, then a capture, then replays.

    `prepare(n)` runs before every step outside the graph (the pools' draws). The loss terms returned by a
    replay are the graph's own output tensors, cloned."""

    def __init__(self, body: StepFn, prepare: Callable[[int], None]) -> None:
        self.body, self.prepare = body, prepare
        self.steps = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.outputs: dict[str, torch.Tensor] = {}

    def __call__(self, real_a: torch.Tensor, real_b: torch.Tensor) -> dict[str, torch.Tensor]:
        self.prepare(real_a.shape[0])
        self.steps += 1
        if self.graph is None and self.steps <= WARMUP:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                terms = self.body(real_a, real_b)
            torch.cuda.current_stream().wait_stream(side)
            return terms
        if self.graph is None:
            self.inputs = (real_a.clone(), real_b.clone())
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.outputs = self.body(*self.inputs)
        else:
            assert self.inputs is not None
            self.inputs[0].copy_(real_a)
            self.inputs[1].copy_(real_b)
        self.graph.replay()
        return {name: t.clone() for name, t in self.outputs.items()}
