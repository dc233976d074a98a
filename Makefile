# The two commands: `make demo` and `make test`. Only python3, pip, make and git are assumed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Django 5.2 LTS in .venv on python3 (demo, the whole suite); Django 6.1 in a second venv on a
# Python >= 3.12 (Django 6 needs it), found by tests/django61.py unless PYTHON61 is given.
# Inside .venv/ so that git and ruff ignore it like .venv itself, and `make clean` removes it.
DJANGO52 := Django>=5.2,<5.3
DJANGO61 := Django>=6.1,<6.2
# Looked for once, and only when a target needs it (`make demo` never does).
PYTHON61 ?= $(eval PYTHON61 := $(shell $(PYTHON) tests/django61.py))$(PYTHON61)
VENV61 ?= $(VENV)/django61
BIN61 := $(VENV61)/bin
SKIPPED61 := make test: SKIPPED the Django 6.1 leg: no Python >= 3.12 found (pyenv; python3.14/3.13/3.12 on PATH); run it with PYTHON61=/path/to/python3.12

.PHONY: demo test test-django61 lint format bench clean

$(BIN)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' -e clients/python '$(DJANGO52)'
	touch $@

$(BIN61)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON61) -m venv $(VENV61)
	$(BIN61)/python -m pip install -q --upgrade pip
	$(BIN61)/python -m pip install -q -e '.[dev]' -e clients/python '$(DJANGO61)'
	touch $@

demo: $(BIN)/.installed  ## set up and serve the product on the embedded default
	$(BIN)/python manage.py migrate --noinput -v0
	$(BIN)/python manage.py demo_setup --url http://$(HOST):$(PORT)/
	$(BIN)/python -m daphne -b $(HOST) -p $(PORT) realtime_site.asgi:application

# The two legs run at the same time: each waits on servers, sockets and timeouts far more than
# it computes (one leg alone kept 2 cores at a load of about 0.8), so together they took 6.4 min
# where one after the other took 10. The 6.1 leg writes to test-output/django61.log, printed
# when both are done; either leg failing fails `make test`.
test: $(BIN)/.installed  ## the whole suite on Django 5.2 and, alongside, the Django 6.1 leg
	$(BIN)/python -m tests.system
	$(BIN)/ruff check .
	$(if $(PYTHON61),@$(MAKE) --no-print-directory $(BIN61)/.installed PYTHON61='$(PYTHON61)')
	@mkdir -p test-output; \
	$(MAKE) --no-print-directory test-django61 > test-output/django61.log 2>&1 & leg61=$$!; \
	$(BIN)/python -m pytest; leg52=$$?; \
	wait $$leg61; leg61=$$?; \
	echo "--- the Django 6.1 leg (test-output/django61.log) ---"; cat test-output/django61.log; \
	echo "make test: Django 5.2 leg exit $$leg52, Django 6.1 leg exit $$leg61"; \
	test $$leg52 -eq 0 && test $$leg61 -eq 0

test-django61:  ## the suite but the browser tests on Django 6.1; skipped without Python >= 3.12
	$(if $(PYTHON61),@echo "make test: the Django 6.1 leg on $(PYTHON61) (browser tests left out)",@echo "$(SKIPPED61)" >&2)
	$(if $(PYTHON61),@$(MAKE) --no-print-directory $(BIN61)/.installed PYTHON61='$(PYTHON61)')
	$(if $(PYTHON61),$(BIN61)/python -m pytest -m "not browser")

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
