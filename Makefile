# The two commands a newcomer needs: `make demo` and `make test`. Everything else is set up here.
SHELL := /bin/bash
# uv comes from PyPI: the one on PATH, else the one pip installed (`python3 -m uv`), else a copy
# in .tools/ that setup installs there (pip refuses to install into a distribution's own Python,
# PEP 668, but not into a directory of ours).
UV ?= $(shell command -v uv 2>/dev/null || { python3 -m uv --version >/dev/null 2>&1 && echo "$$(command -v python3) -m uv"; } || echo $(CURDIR)/.tools/uv/bin/uv)
export UV
RUN := $(UV) run --frozen --no-sync
CORPUS ?= ../shared/corpus

.PHONY: setup test demo bench bench-peers lint dist man

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet --target .tools/uv uv \
		|| { echo "make: cannot install uv with pip; install uv (or python3-pip) and run make again" >&2; exit 1; }
	@$(UV) sync --all-packages --quiet
	@bash scripts/test-tools.sh

test: setup
	$(RUN) pytest -n auto -q

lint: setup
	$(RUN) ruff check packages tests bench
	$(RUN) mypy packages/*/src

demo: setup
	@bash scripts/demo.sh

bench: setup
	bash bench/setup.sh
	$(RUN) python bench/run.py

bench-peers: setup
	bash bench/setup.sh
	$(UV) run --frozen --no-sync --with matplotlib python bench/peers.py --plot

# dist/moss, dist/boulder, dist/stone: one self-contained executable each (see scripts/dist.sh).
dist: setup
	bash scripts/dist.sh

# packages/<tool>/man/*.1 from the command-line definitions (click-man); the wheels install them.
man: setup
	$(RUN) python scripts/man.py
