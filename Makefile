# Two commands set everything up on a fresh machine:
#   make book   create .venv if absent, install, execute every notebook (default profile), build the book
#   make test   same set-up plus the `video` extra (agcc landmarks), then the whole test suite (unit tests +
#               nbval over the reference notebooks)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.agcc-installed
VIDEO_STAMP := $(VENV)/.agcc-video-installed
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

# The optional `video` extra (dlib, its 68-point model, PyAV, scikit-image): the tests of agcc.video_landmarks
# need it, the book does not. Redone whenever the base install is (its stamp is newer).
$(VIDEO_STAMP): $(STAMP)
	@echo "Installing the video extra (log: $(VENV)/install.log)"
	@$(PY) -m pip install -e '.[video]' >> $(VENV)/install.log 2>&1 || { tail -n 40 $(VENV)/install.log; exit 1; }
	@$(PY) -m pip check >> $(VENV)/install.log 2>&1 || { tail -n 20 $(VENV)/install.log; exit 1; }
	@touch $(VIDEO_STAMP)

book: $(STAMP)
	$(PY) -m agcc build --profile $(PROFILE)

test: $(VIDEO_STAMP)
	$(PY) -m pytest tests -q --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

refs: $(STAMP)
	$(PY) -m agcc refs

clean:
	rm -rf _build book/notebooks
