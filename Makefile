# smtpdiag: the two Quick-start targets are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench-explain bench-bounce bench-server clean

# The bounce-analysis modules are compiled with mypyc at install time (setup.py): the install is
# redone whenever one of them changes, so tests never run a stale compiled copy.
COMPILED_SOURCES := $(wildcard src/smtpdiag/bounce/*.py src/smtpdiag/bounce/formats/*.py \
	src/smtpdiag/classify/*.py src/smtpdiag/parse.py src/smtpdiag/reply.py src/smtpdiag/vendors.py)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml setup.py $(COMPILED_SOURCES) | $(VENV)/bin/python
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
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build
	find src -name '*.so' -delete
