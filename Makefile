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

# Debian's headless Chromium, for the tests that open the HTML pages (notice, dashboard) through
# Playwright; Playwright's own browser download is never used.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	command -v chromium >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends chromium)

# Most of a test's time is one real night (DuckDB, HTTP on loopback, waits): three workers keep
# both cores busy. A module's tests stay on one worker, so a night its tests share (a
# module-scoped fixture) runs once, not once per worker.
TEST_WORKERS ?= 3

test: $(STAMP) $(READER_1X)/.installed $(CHROMIUM)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadscope

# The demo's LMS is the sample LMS on 127.0.0.1:8765 and its badge platform the sample badge
# platform on 127.0.0.1:8766, served again beside the UI (with made-up credentials, in the
# environment of all three) so a run started from the UI can pull them.
ui: $(STAMP)
	test -f demo/pathways.yaml || $(BIN)/pathways demo
	mkdir -p .dagster && cp deploy/dagster.yaml .dagster/dagster.yaml
	@secret() { $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(24))'; }; \
	export CANVAS_TOKEN=$${CANVAS_TOKEN:-$$(secret)} \
		ONEROSTER_CLIENT_ID=$${ONEROSTER_CLIENT_ID:-$$(secret)} \
		ONEROSTER_CLIENT_SECRET=$${ONEROSTER_CLIENT_SECRET:-$$(secret)} \
		OB3_CLIENT_ID=$${OB3_CLIENT_ID:-$$(secret)} \
		OB3_CLIENT_SECRET=$${OB3_CLIENT_SECRET:-$$(secret)} \
		BADGR_TOKEN=$${BADGR_TOKEN:-$$(secret)} \
		CREDLY_TOKEN=$${CREDLY_TOKEN:-$$(secret)}; \
	$(BIN)/pathways sample-lms --district demo --port 8765 > .dagster/sample-lms.log 2>&1 & \
	lms=$$!; \
	$(BIN)/pathways sample-badges --district demo --port 8766 > .dagster/sample-badges.log 2>&1 & \
	badges=$$!; trap 'kill $$lms $$badges 2>/dev/null' EXIT INT TERM; \
	DAGSTER_HOME=$(CURDIR)/.dagster PATHWAYS_CONFIG=$(CURDIR)/demo/pathways.yaml \
		$(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP)
	$(BIN)/python bench/sis_ingestion.py
	$(BIN)/python bench/lms_pull.py
	$(BIN)/python bench/learner_records.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) demo .dagster bench/work
