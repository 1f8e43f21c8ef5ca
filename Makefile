# The two commands a person needs: `make up` runs Honk on the embedded default,
# `make test` runs the whole test suite. Both set up .venv from the lock file first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
# The suite runs on as many processes as there are cores (each test file on one: its servers, its
# fixtures): most of a test's time is waiting on servers and subprocesses, not CPU. Files go out in the
# order tests/conftest.py gives them, longest first, so the processes finish together.
PYTEST_ARGS ?= -n auto --dist loadfile --no-loadscope-reorder

.PHONY: up test lint bench install clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	bash deploy/system-packages up
	$(VENV)/bin/honk up $(ARGS)

test: $(STAMP)
	bash deploy/system-packages test
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The guard rails CI runs besides the tests: lint and format, types, and the layers of the code.
lint: $(STAMP)
	bash deploy/system-packages test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/pyright
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(VENV)/bin/python -m bench

clean:
	rm -rf $(VENV) .honk
