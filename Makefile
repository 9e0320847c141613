# Two commands set everything up on a fresh machine:
#   make book   create .venv if absent, install, execute every notebook (default profile), build the book
#   make test   same set-up, then the whole test suite (unit tests + nbval over the reference notebooks)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.agcc-installed
PROFILE ?= default
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export HF_HUB_OFFLINE := 1

.PHONY: book test refs install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing agcc and its dependencies into $(VENV) (a few minutes the first time; log: $(VENV)/install.log)"
	@$(PY) -m pip install -e . > $(VENV)/install.log 2>&1 || { tail -n 40 $(VENV)/install.log; exit 1; }
	@$(PY) -m pip check >> $(VENV)/install.log 2>&1 || { tail -n 20 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

book: $(STAMP)
	$(PY) -m agcc build --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m pytest tests -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

refs: $(STAMP)
	$(PY) -m agcc refs

clean:
	rm -rf _build book/notebooks
