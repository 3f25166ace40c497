# The README's two commands: `make demo` (the whole mesh, then the UI) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MESH_SF ?= 0.1
CHROMIUM := /usr/bin/chromium
JAVA := /usr/bin/java
# Two workers, a test module each at a time (pytest-xdist): a test waits on its subprocesses (dbt,
# Dagster, JVMs, servers) about a third of its time, so two share the machines' two cores well.
# The slowest modules go first (tests/conftest.py), beside the rest rather than after them.
PYTEST_WORKERS ?= -n 2 --dist loadfile --no-loadscope-reorder
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test bench clean

# Installs once per change of pyproject.toml; the stamp makes a second run skip it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	$(BIN)/mesh prepare

# What the tests add: Spark (its Python packages, and Debian's Java for its JVMs).
$(VENV)/.spark: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,spark]'
	touch $@

$(JAVA):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless

# Debian's Chromium for the browser test: Playwright's own browser download cannot be reached here.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

demo: setup
	$(BIN)/mesh seed --sf $(MESH_SF)
	$(BIN)/mesh run
	$(BIN)/mesh ui

test: setup $(CHROMIUM) $(JAVA) $(VENV)/.spark
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

# Every figure of bench/README.md, in one run (about 30 minutes): SF 0.1, 1 and 3, the audit against
# datacontract-cli (its own virtualenv under bench/), the generated 500-port mesh.
bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf .mesh dbt_projects/*/target
