# Logit-lens feature catalog. `make demo` builds the demo catalog and serves the browser;
# `make test` runs the tests. Everything installs into .venv on first use.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
BIN         := $(VENV)/bin
# The CPU build of torch is pinned so that pip does not fetch a multi-GB CUDA build;
# on a GPU machine use e.g. `make install TORCH_SPEC=torch`.
TORCH_SPEC  ?= torch==2.13.0
# NLTK data (tagger, names corpus) is copied into the virtualenv, where NLTK finds it with no
# variable set, from ../shared/nltk_data when that exists; setup downloads it elsewhere.
SHARED_NLTK := $(abspath ../shared/nltk_data)
NLTK_SOURCE := $(if $(wildcard $(SHARED_NLTK)),--copy-from $(SHARED_NLTK))

# Every command uses one catalog: DB (default catalog.duckdb, as the CLIs' and the app's default).
DB          ?= catalog.duckdb
PORT        ?= 8501
RELEASE     ?= gpt2-small-res-jb
SAE_IDS     ?=
SAE_DIRS    ?=
MODEL       ?=
DEVICE      ?= auto
# Where SAEs are computed: local, or ray (RAY_ADDRESS: a cluster to join, e.g. auto; default: Ray on this machine).
EXECUTOR    ?= local
RAY_ADDRESS ?=
FEATURES    ?= 24576
BENCH_DB    ?= /tmp/llcat-bench.duckdb
INGEST_ARGS ?=

.PHONY: install browser demo demo-catalog ingest test lint bench bench-gpu bench-ray bench-scale app clean check-install

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev,ray]'
	$(PY) -m ingest.token_sets.nltk_data $(NLTK_SOURCE)
	touch $@

# Build the demo catalog into DB (no network needed; a second run reuses it) and serve the browser on it.
demo: demo-catalog
	$(BIN)/llcat-app --db $(DB) --port $(PORT)

demo-catalog: install
	$(BIN)/llcat-ingest demo --db $(DB) --device $(DEVICE)

# Serve the browser on any catalog: make app DB=path/to/catalog.duckdb
app: install
	$(BIN)/llcat-app --db $(DB) --port $(PORT)

# Debian's chromium and Playwright for the browser end-to-end tests.
browser: install
	bash scripts/install_browser.sh $(VENV)

# Add SAEs to DB: a release (all SAEs, or SAE_IDS="id1 id2"), or local SAELens folders
# (SAE_DIRS="dir1 dir2" with MODEL=hub-id-or-folder).
ingest: install
	$(BIN)/llcat-ingest run --db $(DB) --device $(DEVICE) --executor $(EXECUTOR) $(if $(filter ray,$(EXECUTOR)),$(if $(RAY_ADDRESS),--ray-address $(RAY_ADDRESS))) \
	  $(if $(SAE_DIRS),$(foreach d,$(SAE_DIRS),--sae-dir $(d)) $(if $(MODEL),--model $(MODEL)),--release $(RELEASE) $(foreach s,$(SAE_IDS),--sae-id $(s)) $(if $(MODEL),--model $(MODEL))) \
	  $(INGEST_ARGS)

test: install browser
	$(PY) -m pytest -q

# Formatting, lint and types, as CI checks them (`ruff format .` fixes the formatting).
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(PY) -m mypy

# The package installed as users install it (`pip install .`, not editable), run from another folder.
check-install: install
	bash scripts/check_install.sh $(VENV)

# A Gemma-2-2b-shaped layer (d_model 2304, 256,000 tokens) at GEMMA_FEATURES of its 16,384 features, projected.
GEMMA_FEATURES ?= 1024
bench: install
	$(PY) -m benchmarks.ingest_layer --features $(FEATURES) --device $(DEVICE)
	$(PY) -m benchmarks.ingest_layer --shape gemma --features $(GEMMA_FEATURES) --device $(DEVICE)
	$(PY) -m benchmarks.queries --db $(BENCH_DB)
	$(PY) -m benchmarks.pages --db $(BENCH_DB)

# Where torch sees a CUDA GPU (not CI; install with TORCH_SPEC=torch): the CUDA path checked against the CPU
# path, then a GPT-2 layer and Gemma-shaped layers of 16,384 and 65,536 features on the GPU.
bench-gpu: install
	$(PY) -m benchmarks.gpu_check
	$(PY) -m benchmarks.ingest_layer --device cuda --repeat 3 --no-baseline
	$(PY) -m benchmarks.ingest_layer --shape gemma --device cuda --repeat 2
	$(PY) -m benchmarks.ingest_layer --shape gemma --device cuda --features 65536 --chunk-size 4096

# Ray with 1 and 2 workers on this machine, the writer's share, and the Gemma Scope projection (not in CI).
bench-ray: install
	$(PY) -m benchmarks.ray_scaling

# Storage per feature and query latency on a Gemma-Scope-sized synthetic catalog (not CI): builds
# SCALE_DB once (52 SAEs, 2.13 M features; ~25 min and ~6 GB here), then times its queries and, in headless
# Chromium, its pages; then the ingest throughput against its targets (a whole GPT-2 layer; a Gemma-shaped
# layer of GEMMA_FEATURES, projected), on DEVICE. SCALE_ARGS="--saes 4
# --features-per-sae 4096" builds a quick fraction instead (use another SCALE_DB).
SCALE_DB    ?= /tmp/llcat-scale.duckdb
SCALE_ARGS  ?=
bench-scale: install
	$(PY) -m benchmarks.scale --db $(SCALE_DB) --all-pairs-saes 2 $(SCALE_ARGS)
	$(PY) -m benchmarks.pages --db $(SCALE_DB) --browser-only
	$(PY) -m benchmarks.ingest_layer --features 24576 --no-baseline --device $(DEVICE)
	$(PY) -m benchmarks.ingest_layer --shape gemma --features $(GEMMA_FEATURES) --device $(DEVICE)

# Removes the virtualenv and test output; catalogs (*.duckdb) are yours and stay.
clean:
	rm -rf $(VENV) .pytest_cache test-artifacts build *.egg-info
