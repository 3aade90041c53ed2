"""`train --minutes N`: fit the run, and its learning-rate decay, into a wall-clock budget.

The schedule keeps its shape: a constant lr for the first `epochs / (epochs + decay_epochs)` of the run,
then a linear decay to 0 at its last step. How many steps that is comes from the clock: after a few
warm-up steps the budget measures steps/s and sets the total to the steps done plus what the time left
allows, and it re-fits after every step, so a machine that slows down (other users' load) shortens the
decay instead of killing the run. The run ends at that total, with a finished model file and lr ~0.
Time already spent by an earlier session of the same run (the checkpoint records it) counts against it.
"""

from __future__ import annotations

import math
import time

WARMUP_STEPS = 3  # the first steps pay for allocator and oneDNN kernel set-up: not counted in the rate
RESERVE_SECONDS = 2.0  # left for the final checkpoint, model file and samples (at most 5 % of the budget)


class TimeBudget:
    def __init__(
        self,
        minutes: float,
        constant_fraction: float,
        step_cap: int,
        used_seconds: float = 0.0,
        started: float | None = None,
    ) -> None:
        """`step_cap`: the schedule's own end (or max_steps), never passed; `used_seconds`: spent by earlier
        sessions; `started`: this session's perf_counter() start (default: now)."""
        self.seconds = minutes * 60.0
        self.constant_fraction = min(max(constant_fraction, 0.0), 1.0)
        self.step_cap = step_cap
        self.used = used_seconds
        self.started = time.perf_counter() if started is None else started
        self.first_step: int | None = None
        self.rate_start: tuple[int, float] | None = None  # (step, clock) when warm-up ended
        self.total = step_cap

    def elapsed(self) -> float:
        """Seconds of this run so far, earlier sessions included."""
        return self.used + time.perf_counter() - self.started

    def update(self, step: int) -> int:
        """After step `step` (1-based count of steps done): the re-fitted total number of steps."""
        now = time.perf_counter()
        if self.first_step is None:
            self.first_step = step - 1
        if self.rate_start is None and step - self.first_step >= WARMUP_STEPS:
            self.rate_start = (step, now)
        left = self.seconds - min(RESERVE_SECONDS, 0.05 * self.seconds) - self.elapsed()
        if left <= 0:
            self.total = step
        elif self.rate_start is not None and step > self.rate_start[0]:
            rate = (step - self.rate_start[0]) / (now - self.rate_start[1])
            self.total = min(self.step_cap, step + max(0, math.floor(left * rate)))
        return self.total

    def lr_factor(self, step: int) -> float:
        """lr multiplier for the step after `step` steps: 1, then linear to ~0 at the (current) last step."""
        decay_steps = self.total * (1.0 - self.constant_fraction)
        if decay_steps <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.total - step) / decay_steps))
