"""One-off experiments behind design decisions, kept to reproduce their figures in bench/RESULTS.md (appendix).

Not part of the standing suite (`python -m bench`); each runs alone, e.g. `python -m bench.experiments.probe`.
"""
