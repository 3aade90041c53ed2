"""`python -m cyclegan_batch` (what `torchrun -m cyclegan_batch` runs)."""

from cyclegan_batch.cli import main

main()
