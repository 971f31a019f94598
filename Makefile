# The two commands a newcomer needs: `make demo` and `make test`. Everything else is set up here.
SHELL := /bin/bash
# uv comes from PyPI; `python3 -m uv` finds it wherever pip put it.
UV ?= python3 -m uv
RUN := $(UV) run --frozen --no-sync
CORPUS ?= ../shared/corpus

.PHONY: setup test demo bench bench-peers lint

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
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
