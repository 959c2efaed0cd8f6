# Two commands on a fresh machine: `make demo` and `make test`.
# Everything is installed into .venv, every distribution editable.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PLUGINS := $(patsubst plugins/%/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PYPROJECTS := pyproject.toml hookspecs/pyproject.toml $(wildcard plugins/*/pyproject.toml)

.PHONY: install demo test lint typecheck docs bench clean

install: $(STAMP)

$(STAMP): $(PYPROJECTS) Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (found $(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --upgrade pip setuptools wheel
	@# crm-contacts needs phonenumberslite, which ships the same files as phonenumbers (held by venvs made before)
	$(PY) -m pip uninstall -qq -y phonenumbers
	$(PY) -m pip install -qq -e hookspecs -e '.[test,docs,lint]' $(foreach p,$(PLUGINS),-e 'plugins/$(p)[test]')
	touch $(STAMP)

demo: install
	$(VENV)/bin/crm --config sample_config/crm.toml demo --reset

# on every core (pytest-xdist; each worker gets server databases of its own: docs/testing.md)
test: install
	$(PY) -m pytest -q -n auto

# the lint and type gate (CI runs it): ruff on the whole tree, mypy strict on the
# contract and the kernel and non-strict on the plugins (settings in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --quiet --check .
	$(MAKE) --no-print-directory typecheck

typecheck: install
	$(VENV)/bin/mypy --no-error-summary crm_core hookspecs/crm_hookspecs $(foreach p,$(PLUGINS),plugins/$(p)/crm_$(p))

docs: install
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) build .pytest_cache
