# virt-pipeline: `make demo` runs the main job on this machine, `make test` runs every test.
# Both set themselves up: system tools (tools/setup-host: apt on Debian, dnf/yum on RPM hosts)
# and a virtualenv in .venv/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-done
PY27   := $(VENV)/python2.7/bin/python2.7

.PHONY: all setup venv test unit lint demo bench render clean python27

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

test: $(STAMP) python27
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/mypy

render: $(STAMP)
	$(BIN)/virt-pipeline render

demo: $(STAMP) python27
	tools/demo

bench: $(STAMP)
	bench/run

clean:
	rm -rf .cache
