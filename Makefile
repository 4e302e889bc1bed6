# The course's two commands: `make book` and `make test`. Both create the
# virtual environment in .venv when it is missing or requirements.txt changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements.txt
ASSETS := _build/offline-assets/.package.json
JOBS ?= 2
# nbval's workers spend much of their time waiting for the kernels they drive,
# so the first stage of `make test` runs one worker more than there are cores.
TEST_WORKERS ?= $(shell echo $$(( $(JOBS) + 1 )))

# TensorFlow's C++ messages below an error are noise in a course.
export TF_CPP_MIN_LOG_LEVEL := 3
# Python caches what it compiles (and pytest the test modules it rewrites) in
# __pycache__ folders, which git ignores; with PYTHONDONTWRITEBYTECODE set, every
# process of a test run would compile them again (about 16 s each here).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: book test lab serve bench clean venv assets mutate

venv: $(STAMP)
assets: $(ASSETS)

# Reinstall whenever requirements.txt or pyproject.toml differs from what was installed.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	cp requirements.txt $(STAMP)

# MathJax and the widgets manager, served by the book itself (needs npm once).
$(ASSETS): package.json scripts/vendor_assets.py $(STAMP)
	$(BIN)/python scripts/vendor_assets.py

# The chapters run two at a time into the build's execution cache first
# (scripts/execute_chapters.py); the build then finds them executed.
book: $(STAMP) $(ASSETS)
	$(BIN)/python scripts/execute_chapters.py
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo
	@echo "The book is built: open $(CURDIR)/_build/html/index.html"

# Every chapter executes once: nbval runs it, with the unit tests, and records
# it under _build/executed; then the strict build of the book, the link checks
# and the browser tests (the tests marked "book") render those records. The
# benchmarking chapter times layers, so it runs first and alone, on a machine
# that is not busy with the other chapters. Then the other chapters go first,
# the longest pieces of work, so that no worker is left with one at the end;
# each worker's TensorFlow uses one thread, since the workers already keep
# every core busy (two threads each on a 2-core machine cost about 10% more).
EXECUTED := _build/executed
TIMED := book/benchmarking.ipynb
test: $(STAMP) $(ASSETS)
	rm -rf $(EXECUTED)
	$(BIN)/python -m pytest -p no:xdist --nbval-lax \
		--record-notebooks $(EXECUTED) $(TIMED)
	TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --nbval-lax \
		--record-notebooks $(EXECUTED) -m "not book" --ignore=$(TIMED) book tests
	$(BIN)/python -m pytest -n $(JOBS) --dist load -p no:nbval -m book --book-files-only tests

# The speed budget, measured on this machine: chapter, build, test times and
# the package's microbenchmarks (about 10 minutes; see scripts/bench.py).
bench: $(STAMP) $(ASSETS)
	$(BIN)/python scripts/bench.py

# Mutation testing of ops, cost, the argument checks and the exercise checkers
# against their unit tests ([tool.mutmut] in pyproject.toml). Not part of
# `make test`: it takes a long while. It works on a copy under _build/mutation
# so the working tree stays clean; `make mutate MUTANTS='conv1x1.ops*'` runs
# one module's mutants only. Installs mutmut on first use.
MUTATION_DIR := _build/mutation
MUTANTS ?=
mutate: $(STAMP)
	$(BIN)/pip install -q 'mutmut>=3.8,<4'
	mkdir -p $(MUTATION_DIR)
	rm -rf $(MUTATION_DIR)/src $(MUTATION_DIR)/tests
	cp -r src tests pyproject.toml $(MUTATION_DIR)/
	# A full collection of which tests call what, each run: mutmut's incremental
	# one (after tests change) has failed here although every test passed.
	rm -f $(MUTATION_DIR)/mutants/mutmut-stats.json
	cd $(MUTATION_DIR) && $(CURDIR)/$(BIN)/mutmut run --max-children $(JOBS) $(MUTANTS)
	cd $(MUTATION_DIR) && $(CURDIR)/$(BIN)/mutmut results

lab: $(STAMP)
	$(BIN)/jupyter lab book/

# The HTML book with a live kernel behind it, on this machine only: builds the
# book if needed, then serves it and a token-protected Jupyter server on
# 127.0.0.1 (scripts/serve.py) and prints the one URL to open. Ctrl-C stops both.
PORT ?= 8000
serve: book
	$(BIN)/python scripts/serve.py --port $(PORT)

clean:
	rm -rf _build
