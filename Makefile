# salesml — run `make help` for the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install demo test lab dashboard lint format bench bench-ingest bench-forecast clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
		|| { echo "salesml needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install salesml with its dev tools

demo: $(STAMP) ## generate the demo company, load the warehouse, train and score the models, render the report suite to reports/
	$(BIN)/salesml demo
	$(BIN)/salesml train churn
	$(BIN)/salesml score churn
	$(BIN)/salesml train crosssell
	$(BIN)/salesml train forecast
	$(BIN)/salesml report --suite

test: $(STAMP) ## run the whole test suite (unit and notebook tests)
	$(BIN)/python -m pytest

lab: $(STAMP) ## open JupyterLab on the project
	$(BIN)/jupyter lab --notebook-dir=.

DASHBOARD_PORT ?= 8866
dashboard: $(STAMP) ## serve the workbench as a web page on 127.0.0.1 (code hidden, widgets only; SCOPE=team:T03 DASHBOARD_LANG=zh DASHBOARD_PORT=8866)
	$(BIN)/python -m salesml.dashboard --port $(DASHBOARD_PORT) $(if $(SCOPE),--scope '$(SCOPE)') $(if $(DASHBOARD_LANG),--lang '$(DASHBOARD_LANG)')

lint: $(STAMP) ## check style with ruff
	$(BIN)/ruff check salesml tests benchmarks

format: $(STAMP) ## format the code with ruff
	$(BIN)/ruff format salesml tests benchmarks

bench: $(STAMP) ## run the benchmarks in benchmarks/ (slow; not part of the tests)
	$(BIN)/python -m benchmarks

bench-ingest: $(STAMP) ## the import of a 5M-line export vs a bare DuckDB read_csv and pandas (~1 min)
	$(BIN)/python -m benchmarks.ingest --lines 5000000

bench-forecast: $(STAMP) ## forecast 1,000 product series of the large demo: default Prophet vs auto (~20 min)
	$(BIN)/python -m benchmarks.forecast

clean: ## remove generated data, warehouse and reports (keeps .venv)
	rm -rf data/raw/demo data/warehouse.duckdb data/warehouse.duckdb.wal data/models reports/*/
