# Every target installs what it needs into .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A DuckDB 1.x reader, beside the project's 2.x, to prove BI tools can open the published copy.
READER_1X := $(VENV)/duckdb1

.PHONY: demo test ui bench lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/pathways demo

$(READER_1X)/.installed:
	$(BIN)/pip install --quiet --no-deps --target $(READER_1X) 'duckdb>=1.5,<2'
	touch $@

test: $(STAMP) $(READER_1X)/.installed
	$(BIN)/pytest -q

ui: $(STAMP)
	test -f demo/pathways.yaml || $(BIN)/pathways demo
	mkdir -p .dagster && cp deploy/dagster.yaml .dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster PATHWAYS_CONFIG=$(CURDIR)/demo/pathways.yaml \
		$(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python bench/sis_ingestion.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) demo .dagster bench/work
