# The targets people type: run, test, train, lint. See the README.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.10 || ls -d $(HOME)/.pyenv/versions/3.10*/bin/python 2>/dev/null | tail -n 1)
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/current.tar.gz
# The project's own NLU components are part of the model too.
TRAINING_DATA := config.yml domain.yml channels/intent_classifier.py channels/entity_extractor.py $(shell find data -name '*.yml' 2>/dev/null)

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONDONTWRITEBYTECODE := 1

# Rasa and TensorFlow print dozens of third-party deprecation warnings at import.
validate test-rasa nlu-report $(MODEL): export PYTHONWARNINGS := ignore

.PHONY: run test test-python test-rasa setup train lint validate nlu-report bench bench-quick clean

run: setup $(MODEL) ## Start the web process, the action server and Rasa (Ctrl+C stops them)
	@mkdir -p var/rasa
	@echo "Starting the assistant: the 'ready' lines say when it answers (Rasa takes about 30 seconds)."
	$(BIN)/honcho start -f Procfile

test: setup $(MODEL) validate test-python test-rasa ## Set up if needed and run every test

# Debian's nginx, PostgreSQL and Redis first: tests/deploy checks the production launcher,
# which looks for them, before its topology tests would have installed them.
test-python:
	scripts/prod-setup
	scripts/ocr-setup --test-fonts
	TEST_POSTGRES_URL="$$(scripts/postgres-test-server)" REQUIRE_POSTGRES=1 $(BIN)/pytest

test-rasa:
	$(BIN)/rasa test core --stories tests/conversations --model $(MODEL) --e2e \
		--fail-on-prediction-errors --no-plot --out var/rasa-test

validate: setup ## rasa data validate, failing on any warning but Rasa's known false positive
	$(BIN)/python scripts/validate_data.py

nlu-report: $(MODEL) ## Cross-validation and held-out NLU reports in var/nlu-report/
	$(BIN)/rasa test nlu --nlu data/nlu --cross-validation --folds 5 --no-plot \
		--out var/nlu-report/cross-validation
	$(BIN)/rasa test nlu --nlu tests/nlu/heldout.yml --model $(MODEL) --no-plot \
		--out var/nlu-report/heldout
	@$(BIN)/python scripts/nlu_summary.py var/nlu-report

bench: setup $(MODEL) ## Benchmarks (stack under load, Rasa's floor, account service, NLU): var/bench/report.md
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: setup $(MODEL) ## The same harness with small numbers, in under 3 minutes (CI)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

.PHONY: prod roll
prod: setup $(MODEL) ## The production topology on this machine, in the foreground (README: make prod)
	scripts/prod-setup
	scripts/prod

roll: ## Replace the Rasa replicas of `make prod` one at a time (a new model, new code)
	scripts/prod roll

# Debian's Tesseract data too: the web process reads identity documents with it.
setup: $(VENV)/.installed
	@scripts/ocr-setup

$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.10 is needed (pyenv install 3.10)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	touch $@

train: $(MODEL)

$(MODEL): $(VENV)/.installed $(TRAINING_DATA)
	$(BIN)/rasa train --fixed-model-name current --out models
	@touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

lock: ## Re-resolve requirements.lock after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.10 -o requirements.lock

clean:
	rm -rf models var/rasa-test .pytest_cache
