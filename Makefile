# seedwatch: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STORIES_DEV := ../shared/data/stories/ecbplus/dev.jsonl

.PHONY: demo test install lint eval bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==0.13.8
	$(BIN)/uv pip sync --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## The offline demo: local site + SMTP, one real Airflow DAG run, a summary.
demo: $(STAMP)
	$(BIN)/seedwatch demo

## The whole test suite (unit, Airflow DAG runs, SMTP, quality gates).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check seedwatch extractors dags plugins tests bench

eval: $(STAMP)
	$(BIN)/python bench/extraction_eval.py
	$(BIN)/seedwatch eval relevance tests/fixtures/relevance/dev.jsonl
	@if [ -f $(STORIES_DEV) ]; then $(BIN)/seedwatch eval stories $(STORIES_DEV); \
	else echo "eval stories: $(STORIES_DEV) not found (the shared data beside the checkout), skipped"; fi

clean:
	rm -rf var/demo
