# Logit-lens feature catalog. `make demo` builds the demo catalog (and serves the browser);
# `make test` runs the tests. Everything installs into .venv on first use.

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
# The CPU build of torch is pinned so that pip does not fetch a multi-GB CUDA build;
# on a GPU machine use e.g. `make install TORCH_SPEC=torch`.
TORCH_SPEC  ?= torch==2.13.0
# NLTK data (tagger, names corpus) beside the checkout when it exists; setup downloads it elsewhere.
SHARED_NLTK := $(abspath ../shared/nltk_data)
NLTK_DATA   ?= $(if $(wildcard $(SHARED_NLTK)),$(SHARED_NLTK),$(abspath .cache/nltk_data))
export NLTK_DATA

DB          ?= catalog.duckdb
DEMO_DB     ?= demo.duckdb
RELEASE     ?= gpt2-small-res-jb
SAE_IDS     ?=
SAE_DIRS    ?=
MODEL       ?=
DEVICE      ?= auto
FEATURES    ?= 24576
BENCH_DB    ?= /tmp/llcat-bench.duckdb
INGEST_ARGS ?=

.PHONY: install browser demo demo-catalog ingest test bench app clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -c "from ingest.token_sets.nltk_data import main; main()"
	touch $@

STREAMLIT   := $(PY) -m streamlit run app/main.py --server.headless true --browser.gatherUsageStats false \
               --server.port $(PORT)
PORT        ?= 8501

# Build the demo catalog (no network needed; a second run reuses it) and serve the browser on it.
demo: demo-catalog
	@echo "serving the catalog browser on http://localhost:$(PORT) (Ctrl-C to stop)"
	$(STREAMLIT) -- --db $(DEMO_DB)

demo-catalog: install
	$(PY) -m ingest demo --db $(DEMO_DB) --device $(DEVICE)

# Serve the browser on any catalog: make app DB=path/to/catalog.duckdb
app: install
	$(STREAMLIT) -- --db $(DB)

# Debian's chromium and Playwright for the browser end-to-end test.
browser: install
	bash scripts/install_browser.sh $(VENV)

# Add SAEs to a catalog: a release (all SAEs, or SAE_IDS="id1 id2"), or local SAELens folders
# (SAE_DIRS="dir1 dir2" with MODEL=hub-id-or-folder).
ingest: install
	$(PY) -m ingest run --db $(DB) --device $(DEVICE) \
	  $(if $(SAE_DIRS),$(foreach d,$(SAE_DIRS),--sae-dir $(d)) --model $(MODEL),--release $(RELEASE) $(foreach s,$(SAE_IDS),--sae-id $(s)) $(if $(MODEL),--model $(MODEL))) \
	  $(INGEST_ARGS)

test: install browser
	$(PY) -m pytest -q

bench: install
	$(PY) -m ingest.bench --features $(FEATURES) --device $(DEVICE)
	$(PY) -m catalog.bench_queries --db $(BENCH_DB)
	$(PY) -m app.bench_pages --db $(BENCH_DB)

clean:
	rm -rf $(VENV) .pytest_cache $(DEMO_DB) test-artifacts
