"""One GPU per process: `--device cuda` claims a free card with an OS lock held for the process's lifetime.

Snakemake does not hand out GPUs to local jobs, so four jobs started on a 4-GPU box would all open cuda:0.
Instead each process that asks for plain `cuda` takes an exclusive `flock` on one file per card in the lock
folder and computes on the first card it could lock. The kernel drops the lock when the process exits, however
it exits (SIGKILL included), so nothing is ever left to clean up by hand.

- Cards are the ones CUDA_VISIBLE_DEVICES shows; `cuda:N` is relative to it, and a card's lock file is named
  by its CUDA_VISIBLE_DEVICES entry, so processes with different visible sets still agree on physical cards.
- Lock folder: $CYCLEGAN_BATCH_GPU_LOCKS, default /tmp/cyclegan-batch-gpus (shared by all users, sticky like
  /tmp). File names carry the host name, so even a folder on a shared file system keeps nodes apart. Inside
  a SLURM job the locks go to a subfolder of that job: SLURM already gives each job its own cards (and with
  ConstrainDevices every job sees its cards as 0..n-1), so claims only share out the job's own cards.
- When every card is claimed the process waits, saying so once, and takes the first card freed. With
  $CYCLEGAN_BATCH_GPU_WAIT=SECONDS it gives up after that long with an error instead (0: at once).
- Test seam: $CYCLEGAN_BATCH_SIMULATE_GPUS=N makes this module see N cards without asking CUDA (claims and
  locks are real; the caller computes on the CPU). It lets the claim be tested on machines without a GPU.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cyclegan_batch.errors import ExitCode, UserError

log = logging.getLogger("cyclegan_batch")

LOCKS_ENV = "CYCLEGAN_BATCH_GPU_LOCKS"
WAIT_ENV = "CYCLEGAN_BATCH_GPU_WAIT"
SIMULATE_ENV = "CYCLEGAN_BATCH_SIMULATE_GPUS"
# Set by `train --gpus N` for its torchrun ranks: the launcher holds their cards, so they must not claim.
HELD_BY_LAUNCHER_ENV = "CYCLEGAN_BATCH_GPUS_HELD_BY"
# Not $TMPDIR: every process sharing the cards must find the same folder, and snakemake or SLURM set TMPDIR per job.
DEFAULT_LOCKS = Path("/tmp/cyclegan-batch-gpus")
POLL_SECONDS = 0.2

_held: dict[str, int] = {}  # card id -> its open lock file: this process's claims, kept until exit
_mine: Card | None = None  # the card this process computes on


@dataclass(frozen=True)
class Card:
    index: int  # what this process opens: cuda:index (relative to CUDA_VISIBLE_DEVICES)
    id: str  # the node's name for it: its CUDA_VISIBLE_DEVICES entry, or the index when that is unset

    def __str__(self) -> str:
        return f"GPU {self.index}" + (f" (CUDA_VISIBLE_DEVICES entry {self.id})" if self.id != str(self.index) else "")


def simulated() -> bool:
    return bool(os.environ.get(SIMULATE_ENV))


def device_count() -> int:
    """CUDA devices this process can see (CUDA_VISIBLE_DEVICES honoured), or the simulated count."""
    if simulated():
        raw = os.environ[SIMULATE_ENV]
        try:
            return int(raw)
        except ValueError:
            raise UserError(f"{SIMULATE_ENV}={raw!r}: give a number of GPUs, or unset it") from None
    import torch

    return torch.cuda.device_count()


def visible_cards() -> list[Card]:
    count = device_count()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        ids = [str(i) for i in range(count)]
    else:  # CUDA stops at the first entry that names no device; the count above says how many it took
        ids = [part.strip() for part in visible.split(",") if part.strip()]
    return [Card(i, card_id) for i, card_id in enumerate(ids[:count])]


def lock_dir() -> Path:
    base = Path(os.environ.get(LOCKS_ENV) or DEFAULT_LOCKS)
    job = os.environ.get("SLURM_JOB_ID")
    return base / f"slurm-job-{job}" if job else base


def wait_limit() -> float | None:
    """Seconds to wait for a free card (None: as long as it takes)."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise UserError(f"{WAIT_ENV}={raw!r}: give seconds (0 or more), or unset it to wait until a GPU is free")
    return seconds


def lock_path(card: Card) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{socket.gethostname()}.gpu{card.id}")
    return lock_dir() / f"{safe}.lock"


def _open_lock(path: Path) -> int:
    """The card's lock file, created readable and writable by everyone (users on one box share the cards)."""
    try:
        _make_shared_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise UserError(
            f"cannot use the GPU lock folder {path.parent} ({e.strerror}); set {LOCKS_ENV} to a folder "
            "you can write, or pass --device cuda:N to use a card without claiming it"
        ) from None
    _chmod(fd, 0o666)
    return fd


def _make_shared_dir(folder: Path) -> None:
    """`folder` and any missing parents, each writable by all with the sticky bit (as /tmp)."""
    if folder.is_dir():
        return
    _make_shared_dir(folder.parent)
    with contextlib.suppress(FileExistsError):  # another process made it just now
        folder.mkdir()
    _chmod(folder, 0o1777)


def _chmod(target: Path | int, mode: int) -> None:
    with contextlib.suppress(OSError):  # someone else's file or folder: it is theirs to share
        os.chmod(target, mode)


def _try_lock(card: Card) -> bool:
    if card.id in _held:
        return False
    fd = _open_lock(lock_path(card))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    # Who holds it, for the message of a process that has to wait (the lock itself is what counts).
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}: {' '.join(sys.argv)[:200]}\n".encode(), 0)
    _held[card.id] = fd
    return True


def release(card: Card) -> None:
    fd = _held.pop(card.id, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor drops the flock


def holders(cards: list[Card]) -> str:
    lines = []
    for card in cards:
        try:
            lines.append(f"{card}: {lock_path(card).read_text(errors='replace').strip() or 'unknown'}")
        except OSError:
            lines.append(f"{card}: unknown")
    return "; ".join(lines)


def claim(n: int = 1, only: Card | None = None) -> list[Card]:
    """Lock `n` free cards (all or none, so two launchers never deadlock on halves), waiting while too few are free."""
    cards = [only] if only is not None else visible_cards()
    if len(cards) < n:
        visible = f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}"
        if not cards:
            raise UserError(f"--device cuda: no CUDA device here ({visible}); use --device auto or cpu", ExitCode.USAGE)
        raise UserError(f"{n} GPUs needed, {len(cards)} visible here ({visible}); ask for fewer", ExitCode.USAGE)
    limit = wait_limit()
    start = time.monotonic()
    told = False
    while True:
        got: list[Card] = []
        for card in cards:
            if len(got) < n and _try_lock(card):
                got.append(card)
        if len(got) == n:
            log.info(
                "claimed %s%s (lock folder %s)%s",
                ", ".join(map(str, got)),
                f" after waiting {time.monotonic() - start:.0f} s" if told else "",
                lock_dir(),
                f"; GPUs simulated by {SIMULATE_ENV}: computing on the CPU" if simulated() else "",
            )
            return got
        busy = [card for card in cards if card.id not in _held]
        for card in got:
            release(card)
        if limit is not None and time.monotonic() - start >= limit:
            wanted = f"{n} free GPUs" if n > 1 else "free GPU"
            raise UserError(
                f"no {wanted} after {limit:g} s ({WAIT_ENV}): {holders(busy)}. Wait for those to finish, "
                f"unset {WAIT_ENV} to queue, or pass --device cuda:N to share a card"
            )
        if not told:
            log.warning(
                "waiting for %d free GPU(s): %d of %d claimed by other processes (lock folder %s; set %s=SECONDS "
                "to give up instead): %s",
                n,
                len(busy),
                len(cards),
                lock_dir(),
                WAIT_ENV,
                holders(busy),
            )
            told = True
        time.sleep(POLL_SECONDS)


def process_card(local_rank: int | None = None) -> Card:
    """The card this process computes on, claimed on the first call and kept until the process exits.

    A torchrun rank (`local_rank` given) uses card LOCAL_RANK: already claimed by `train --gpus N`, which
    started it, or else (a torchrun the user started) claimed here, waiting for that card if it is taken.
    """
    global _mine
    if _mine is None:
        cards = visible_cards()
        if local_rank is None:
            _mine = claim(1)[0]
        elif local_rank >= len(cards):
            raise UserError(f"LOCAL_RANK {local_rank}: only {len(cards)} GPU(s) visible here; start fewer processes")
        elif os.environ.get(HELD_BY_LAUNCHER_ENV):
            _mine = cards[local_rank]
        else:
            _mine = claim(1, only=cards[local_rank])[0]
    return _mine


def hand_to_children(cards: list[Card]) -> None:
    """Keep `cards` claimed across exec into torchrun, whose ranks see exactly them, as cuda:0..N-1."""
    for card in cards:
        os.set_inheritable(_held[card.id], True)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(card.id for card in cards)
    os.environ[HELD_BY_LAUNCHER_ENV] = str(os.getpid())
