# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: install run test lint bench

$(STAMP): pyproject.toml
	@echo "== Creating the Python environment in $(VENV)/"
	python3 -m venv $(VENV)
	@echo "== Upgrading pip"
	$(BIN)/pip install --quiet --upgrade pip
	@echo "== Installing Trunkline and its dependencies into $(VENV)/ (a minute or two the first time)"
	$(BIN)/pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/trunkline migrate --noinput
	$(BIN)/trunkline demo --if-empty
	@# Opening balances through the ledger, then a month of rated demo calls (each does nothing the second time).
	$(BIN)/trunkline demo_balances
	$(BIN)/trunkline demo_cdrs --if-empty
	@# The switch's routing file, current before anything serves; the worker republishes it after each change.
	$(BIN)/trunkline publish_snapshot
	@# Beside the web server and stopped with it: the worker (background jobs, call records from the switch's
	@# spool), the outbox (the local mail and SMS sink the demo settings send to, var/outbox/) and the switch (SIP
	@# on 5060, HTTP for Kamailio on 8090; SWITCH_SIP_PORT, SWITCH_HTTP_PORT, SWITCH_HOST override them). The web
	@# server creates `admin` on the first run and ends with a banner: the address, the user and its password.
	$(BIN)/trunkline worker & worker=$$!; $(BIN)/trunkline outbox & outbox=$$!; \
	$(BIN)/trunkline switch & switch=$$!; \
	trap 'kill $$worker $$outbox $$switch 2>/dev/null' EXIT INT TERM; $(BIN)/trunkline web --create-admin

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
	$(BIN)/python bench/sip.py
	$(BIN)/python bench/rating.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/stats.py
