# Model Distillation: `make demo` serves the shipped model (core install: no torch), `make test`
# runs the tests (dev install: everything).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch: on this project's machines pip takes it from local disk.
TORCH ?= torch==2.13.0
PORT ?= 8000
# The libraries whose floors in pyproject.toml `make test-floors` installs exactly and tests.
FLOORS_VENV ?= .venv-floors
# The core install alone (serving, predict, evaluate, check, bench on ONNX folders): no torch.
CORE_VENV ?= .venv-core
CORE ?= torch transformers peft datasets onnxruntime fastapi accelerate pydantic uvicorn

.PHONY: install install-core browser demo test test-fast test-floors test-core lint format experiment clean image-check

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install-core: $(CORE_VENV)/.installed

$(CORE_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet -e .
	touch $@

# Debian's Chromium for the browser test (skipped with a reason when it is missing).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "install Debian's chromium (sudo apt-get install chromium) to run the browser test"; fi

demo: install-core
	$(CORE_VENV)/bin/modeldistill serve --port $(PORT)

test: install browser
	$(BIN)/python -m pytest

# Everything but the tests marked slow (those taking more than a few seconds).
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The fast tests on the oldest releases pyproject.toml allows of the core libraries, so that a
# floor cannot claim a release the code no longer works with (CI runs this too).
test-floors: $(FLOORS_VENV)/.installed
	$(FLOORS_VENV)/bin/python -m pip list --format=freeze | grep -iE "^($$(echo $(CORE) | tr ' ' '|'))=="
	$(FLOORS_VENV)/bin/python -m pytest -m "not slow" -p no:cacheprovider

$(FLOORS_VENV)/.installed: pyproject.toml scripts/floors.py
	rm -rf $(FLOORS_VENV)
	$(PYTHON) -m venv $(FLOORS_VENV)
	$(PYTHON) scripts/floors.py $(CORE) > $(FLOORS_VENV)/floors.txt
	$(FLOORS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOORS_VENV)/bin/python -m pip install --quiet -c $(FLOORS_VENV)/floors.txt \
		-r $(FLOORS_VENV)/floors.txt -e ".[dev]"
	touch $@

# The core environment serves and scores the shipped model with torch absent (tests_core/).
test-core: install-core
	$(CORE_VENV)/bin/python -m pip install --quiet pytest pytest-timeout
	MODELDISTILL_CORE_TEST=1 $(CORE_VENV)/bin/python -m pytest tests_core -p no:cacheprovider

lint: install
	$(BIN)/ruff check src tests tests_core scripts
	$(BIN)/ruff format --check src tests tests_core scripts

format: install
	$(BIN)/ruff format src tests tests_core scripts
	$(BIN)/ruff check --fix src tests tests_core scripts

# The real-data experiment behind docs/results.md (hours on a 2-core CPU).
experiment: install
	bash scripts/reproduce.sh

# Build the container image and check it serves hardened as compose.yaml runs it (docker, or
# podman where no Docker daemon runs; see docs/deploy.md). Not part of `make test`.
image-check:
	bash scripts/image_check.sh

clean:
	rm -rf $(VENV) $(FLOORS_VENV) $(CORE_VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
