# fabqueue — the two commands a café needs: `make run` and `make test`.
# The virtualenv is created and filled here; nothing needs installing by hand.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export FABQUEUE_DB_URL ?= sqlite:///var/fabqueue.db
export FABQUEUE_DATA_DIR ?= var/data
export FABQUEUE_PROFILES_DIR ?= profiles

.PHONY: run test test-fast test-slow lint format bench clean check-profiles venv guide-images

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

var:
	mkdir -p var/data

# The service prints the address to open (and a QR code for tablets) and, while no one
# has a password, how to create the first admin.
run: $(STAMP) var
	$(BIN)/fabqueue db upgrade
	$(BIN)/fabqueue serve

check-profiles: $(STAMP)
	$(BIN)/fabqueue check-profiles

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	$(BIN)/pytest

# Only the fast tests (no PostgreSQL, no servers, no browser).
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not postgres and not octoprint and not browser"

# Only the tests against real peers.
test-slow: $(STAMP)
	$(BIN)/pytest -m "slow or postgres or octoprint or browser"

# The guides' pictures (docs/img), retaken from the pages by the browser tests that walk
# through each guide; a plain `make test` takes them too but leaves docs/img alone.
guide-images: $(STAMP)
	FABQUEUE_UPDATE_GUIDE_IMAGES=1 $(BIN)/pytest -m browser \
		tests/web/admin/test_guide_screenshots.py tests/web/member/test_member_browser.py

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
