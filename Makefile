# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= examples/frontdesk.toml
DEV_SECRET ?= dev-webhook-secret-change-me
HOST ?= 127.0.0.1
PORT ?= 3000
export DATABASE_URL ?= sqlite:///./var/frontdesk.db

.PHONY: run test lint typecheck imports unit bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python >= 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@mkdir -p var
	@echo "Webhook secret for this development server: $(DEV_SECRET)"
	@echo "Try:  FRONTDESK_WEBHOOK_SECRET=$(DEV_SECRET) $(BIN)/frontdesk submit examples/requests/booked_auto.json --url http://$(HOST):$(PORT)"
	@echo "Book a call as a client: http://$(HOST):$(PORT)/book  (then see http://$(HOST):$(PORT)/sandbox, or everything at http://$(HOST):$(PORT)/)"
	FRONTDESK_WEBHOOK_SECRET=$${FRONTDESK_WEBHOOK_SECRET:-$(DEV_SECRET)} \
		$(BIN)/frontdesk serve --config $(CONFIG) --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check bot handlers integrations storage testkit tests bench
	$(BIN)/ruff format --check bot handlers integrations storage testkit tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy bot handlers integrations storage testkit bench

# The layers of README's "Architecture", as import-linter contracts in pyproject.toml.
imports: $(VENV)/.installed-test
	$(BIN)/lint-imports

test: lint typecheck imports
	@test -x /usr/bin/chromium || echo "Chromium is missing: the browser tests will be SKIPPED." \
		"Get it with: sudo apt-get install -y chromium (Debian/Ubuntu)"
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.intake
	$(BIN)/python -m bench.availability
	$(BIN)/python -m bench.slack_ack
	$(BIN)/python -m bench.reminders
	$(BIN)/python -m bench.report
	$(BIN)/python -m bench.lambda_cold_start
	$(BIN)/python -m bench.booking_page

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
