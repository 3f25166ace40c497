# The README's two commands: `make demo` (the whole mesh, then the UI) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MESH_SF ?= 0.1

.PHONY: setup demo test bench clean

# Installs once per change of pyproject.toml; the stamp makes a second run skip it.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(VENV)/.installed
	$(BIN)/mesh prepare

demo: setup
	$(BIN)/mesh seed --sf $(MESH_SF)
	$(BIN)/mesh run
	$(BIN)/mesh ui

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python bench/mesh_vs_dbt.py --sf $(MESH_SF)

clean:
	rm -rf .mesh dbt_projects/*/target
