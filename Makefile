# Everything a fresh machine with only Python needs. `make demo` and `make test` are the two commands.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
export HF_HUB_OFFLINE = 1
export TRANSFORMERS_OFFLINE = 1

.PHONY: install demo test test-fast models fast-tier bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: otherwise sentence-transformers pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/detector demo

test: install
	$(BIN)/python -m pytest -q -ra

test-fast: install
	$(BIN)/python -m pytest -q -ra -m "not slow and not browser"

models: install
	$(BIN)/python scripts/build_models.py

# The fast tier (static embeddings distilled from MiniLM, heads retrained on them) into models/fast; the
# first `--classifier fast` run does the same if this was not run. Two to three minutes of CPU, once per machine.
fast-tier: install
	$(BIN)/python -c "from detector.classify.fast import ensure_fast_tier; print(ensure_fast_tier().heads_dir)"

bench: install
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/classify.py
	$(BIN)/python bench/volume.py
	$(BIN)/python bench/dashboard.py

clean:
	rm -rf $(VENV) .pytest_cache demo.db demo.db-* demo-alerts.jsonl
