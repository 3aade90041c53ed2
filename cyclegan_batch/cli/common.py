"""Options and set-up shared by every verb."""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Annotated

import typer

from cyclegan_batch.errors import ExitCode, UserError

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors; no progress bar.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Also the details: every ffmpeg command line.")]


class PrecisionChoice(StrEnum):
    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"
    fp16 = "fp16"


PrecisionOption = Annotated[
    PrecisionChoice,
    typer.Option(
        help="auto = bf16 on CUDA with bf16 and on CPUs with AMX or AVX512-BF16, else fp32; fp16 is CUDA-only.",
        case_sensitive=False,
    ),
]
Device = Annotated[str, typer.Option(help="auto (CUDA if available, else CPU), cpu, cuda or cuda:N.")]


def parse_domain_names(text: str) -> tuple[str, str]:
    """`--names photo,painting` (train and import): two different names, A first."""
    parts = [n.strip() for n in text.split(",")]
    if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
        raise UserError(f"--names {text!r}: give two different names, A first: horse,zebra", ExitCode.USAGE)
    return parts[0], parts[1]


def setup_logging(quiet: bool, verbose: bool = False) -> None:
    """Log lines to stderr: what happened, one line each (progress bars are separate)."""
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(levelname)s: %(message)s" if quiet else "%(message)s",
        force=True,
    )
    logging.getLogger("cyclegan_batch").setLevel(logging.DEBUG if verbose and not quiet else logging.NOTSET)
