# smtpdiag: the two Quick-start targets are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench-explain bench-bounce bench-server clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m smtpdiag.demo

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest

bench-explain: $(STAMP)
	$(BIN)/python bench/bench_explain.py

bench-bounce: $(STAMP)
	$(BIN)/python bench/bench_bounce.py

bench-server: $(STAMP)
	$(BIN)/python bench/bench_server.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
