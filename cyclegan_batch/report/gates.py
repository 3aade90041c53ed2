"""Quality gates of the report: `--fail-above l1=0.2` and the like, checked against a read `Report`.

`failed` counts the failed rows of an image set; `flicker` is a video's mean warp_out - warp_in (the
temporal error the translation adds); `kid` (x100) and `fid` are the outputs' against the reference images.
A gate that finds nothing to check fails too.
"""

from __future__ import annotations

import math

from cyclegan_batch.errors import ExitCode, UserError
from cyclegan_batch.report.model import Gate, GateResult, Report

GATE_ABOVE = ("l1", "flicker", "failed", "kid", "fid")
GATE_BELOW = ("psnr", "ssim")
METRIC_MEANS = ("l1", "flicker", "psnr", "ssim")  # per-image values averaged; the others are one number


def parse_gates(fail_above: list[str], fail_below: list[str]) -> list[Gate]:
    """`METRIC=VALUE` options as gates; a metric on the wrong side is a usage error naming the right one."""
    gates = []
    for texts, above, allowed, other in (
        (fail_above, True, GATE_ABOVE, "--fail-below"),
        (fail_below, False, GATE_BELOW, "--fail-above"),
    ):
        option = "--fail-above" if above else "--fail-below"
        for text in texts:
            metric, sep, raw = text.partition("=")
            metric = metric.strip().lower()
            if metric in (GATE_BELOW if above else GATE_ABOVE):
                raise UserError(f"{option} {text}: higher {metric} is worse there; use {other} {text}", ExitCode.USAGE)
            try:
                threshold = float(raw)
            except ValueError:
                threshold = math.nan
            if not sep or metric not in allowed or math.isnan(threshold):
                raise UserError(
                    f"{option} {text!r}: expected METRIC=NUMBER with METRIC one of {', '.join(allowed)}",
                    ExitCode.USAGE,
                )
            gates.append(Gate(metric, above, threshold))
    return gates


def check_gates(gates: list[Gate], report: Report) -> list[GateResult]:
    items = [(f"images/{s.name}", s.gate_values()) for s in report.image_sets]
    items += [(f"videos/{v.name}", v.gate_values()) for v in report.videos]
    results = []
    for gate in gates:
        checked = [(name, values[gate.metric]) for name, values in items if gate.metric in values]
        if not checked:
            results.append(GateResult(gate, "-", None, False, f"nothing in the run has {gate.metric}"))
        for name, value in checked:
            if value is None:
                results.append(GateResult(gate, name, None, False, f"no {gate.metric} values to check"))
                continue
            failed = value > gate.threshold if gate.above else value < gate.threshold
            reason = f"{'mean ' if gate.metric in METRIC_MEANS else ''}{gate.metric} = {value:.4g}"
            results.append(GateResult(gate, name, value, not failed, reason))
    return results
