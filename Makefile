# virt-pipeline: `make demo` runs the main job on this machine, `make test` runs every test.
# Both set themselves up: system tools (tools/setup-host: apt on Debian, dnf/yum on RPM hosts)
# and a virtualenv in .venv/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-done
PY27   := $(VENV)/python2.7/bin/python2.7
# the oldest Python the code must run on (openEuler 22.03's system Python); found via pyenv
PY39   ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.9*/bin/python3.9) $(shell command -v python3.9))

# gitlab-ci-local checks .gitlab-ci.yml (GitLab's schema, needs/extends/rules); 4.52.0 is the
# last release that runs on Node 20. Installed by name from npm into the tree's cache.
GCL_VERSION := 4.52.0
GCL    := .cache/node/node_modules/.bin/gitlab-ci-local

.PHONY: all setup venv test test39 unit lint demo bench render clean python27 report ci-tools mr-check

all: test

$(STAMP): pyproject.toml tools/setup-host tools/link-system-modules
	tools/setup-host
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps 'koji==1.36.1'
	tools/link-system-modules $(VENV)
	touch $(STAMP)

setup venv: $(STAMP)

# Python 2.7 for the libvirt-python Python 2 checks (optional: tests skip, saying why, without it)
python27: $(STAMP)
	-tools/get-python27 $(VENV)/python2.7

test: $(STAMP) python27 test39 ci-tools
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# the unit tests again on Python 3.9, when this machine has one (syntax and library calls)
test39: $(STAMP)
	@if [ -n "$(PY39)" ]; then \
	  [ .venv39/.setup-done -nt pyproject.toml ] || { $(PY39) -m venv .venv39 && .venv39/bin/pip install -q -e '.[dev]' && .venv39/bin/pip install -q --no-deps 'koji==1.36.1' && touch .venv39/.setup-done; }; \
	  .venv39/bin/python -m pytest -q -p no:cacheprovider tests/unit; \
	else echo "test39: no Python 3.9 here; unit tests run on $$($(BIN)/python --version) only"; fi

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy

render: $(STAMP)
	$(BIN)/virt-pipeline render

# the evidence bundle of the last run of each stage (.cache/report/index.html)
report: $(STAMP)
	$(BIN)/virt-pipeline report

# what a merge request waits for, side by side: render --check, validate, upgrade pre-flight,
# the libvirt-python patch checks (tools/mr-check; bench/mr_gate.py times it)
mr-check: $(STAMP) python27
	tools/mr-check

$(GCL):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix .cache/node gitlab-ci-local@$(GCL_VERSION); \
	else echo "ci-tools: no npm here: the gitlab-ci-local tests will skip (apt-get install npm)"; fi

ci-tools: $(GCL)

demo: $(STAMP) python27
	tools/demo

bench: $(STAMP)
	bench/run

clean:
	rm -rf .cache
