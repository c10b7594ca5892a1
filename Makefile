# Model Distillation: `make demo` serves the shipped model, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch: on this project's machines pip takes it from local disk.
TORCH ?= torch==2.13.0
PORT ?= 8000
# The libraries whose floors in pyproject.toml `make test-floors` installs exactly and tests.
FLOORS_VENV ?= .venv-floors
CORE ?= torch transformers peft datasets onnxruntime fastapi accelerate pydantic

.PHONY: install browser demo test test-fast test-floors lint format experiment clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Debian's Chromium for the browser test (skipped with a reason when it is missing).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "chromium could not be installed: the browser test will be skipped"; \
	else echo "install Debian's chromium (sudo apt-get install chromium) to run the browser test"; fi

demo: install
	$(BIN)/modeldistill serve --port $(PORT)

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

lint: install
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: install
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

# The real-data experiment behind docs/results.md (hours on a 2-core CPU).
experiment: install
	bash scripts/reproduce.sh

clean:
	rm -rf $(VENV) $(FLOORS_VENV) .pytest_cache .ruff_cache .hypothesis test-artifacts
