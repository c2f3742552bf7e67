# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: install run test lint bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/trunkline migrate --noinput
	$(BIN)/trunkline createadmin
	$(BIN)/trunkline demo --if-empty
	@# The switch's routing file, current before anything serves; the worker republishes it after each change.
	$(BIN)/trunkline publish_snapshot
	@# The worker (background jobs) runs beside the web server and stops with it.
	$(BIN)/trunkline worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; $(BIN)/trunkline web

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy --strict trunkline/switch trunkline/contracts
	$(BIN)/trunkline makemigrations --check --dry-run

bench: install
	$(BIN)/python bench/board.py
	$(BIN)/python bench/rate_import.py
	$(BIN)/python bench/customer_import.py
	$(BIN)/python bench/prefix.py
	$(BIN)/python bench/decide.py
