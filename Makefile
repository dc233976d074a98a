# The two commands: `make demo` and `make test`. Only python3, pip, make and git are assumed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed  ## set up and serve the product on the embedded default
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo_setup --url http://$(HOST):$(PORT)/
	$(BIN)/python -m daphne -b $(HOST) -p $(PORT) realtime_site.asgi:application

test: $(BIN)/.installed  ## set up and run the whole test suite
	$(BIN)/python -m tests.system
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(BIN)/.installed  ## every benchmark, one after the other (minutes; prints tables)
	$(BIN)/python bench/push.py
	$(BIN)/python bench/export.py --rows 100000
	$(BIN)/python bench/campaign.py --recipients 10000
	$(BIN)/python bench/fleet.py

clean:
	rm -rf $(VENV) var test-output
