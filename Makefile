# One command to run the service, one to test it. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
RASA    := $(VENV)/bin/rasa
UV      := $(VENV)/bin/uv
PORT    ?= 8080
SPACY   := build/spacy/en_safety
MODEL   := models/current.tar.gz

# No telemetry or other calls home; our own modules importable by Rasa; quiet TensorFlow.
export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

NLU_SOURCES    := $(shell find bot/nlu -name '*.py' -o -name '*.yml' 2>/dev/null)
MODEL_SOURCES  := config.yml $(shell find domain data -name '*.yml') $(NLU_SOURCES)

.PHONY: help install spacy model db run test test-python test-stories validate eval bench lock clean

help:
	@echo "make run    set everything up and serve on http://127.0.0.1:$(PORT) (PORT overrides)"
	@echo "make test   set everything up and run every test"
	@echo "make eval   held-out NLU and emergency evaluation"
	@echo "make bench  latency and memory benchmark"

$(VENV)/.installed: requirements.lock scripts/find_python.sh
	@echo "==> Installing Python packages into $(VENV) (first time: a few minutes)"
	@test -x $(PY) || "$$(scripts/find_python.sh)" -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --disable-pip-version-check -q "uv==0.13.8"
	$(UV) pip sync --python $(PY) requirements.lock
	@touch $@

install: $(VENV)/.installed

$(SPACY)/.built: $(VENV)/.installed $(filter bot/nlu/%,$(NLU_SOURCES))
	@echo "==> Building our spaCy pipeline from spacy.blank('en') into $(SPACY)"
	$(PY) -m bot.nlu.spacy_pipeline $(SPACY)
	@touch $@

spacy: $(SPACY)/.built

$(MODEL): $(SPACY)/.built $(MODEL_SOURCES)
	@echo "==> Training the Rasa model (data, config or domain changed)"
	@mkdir -p models
	$(RASA) train --config config.yml --domain domain --data data --out models --fixed-model-name current
	@touch $@

model: $(MODEL)

db: install
	@echo "==> Applying database migrations"
	$(PY) -m bot.storage.migrate

run: install spacy model db
	PORT=$(PORT) $(PY) -m bot.devserver

validate: install
	$(RASA) data validate --config config.yml --domain domain --data data --fail-on-warnings

node_modules/.installed: package.json package-lock.json
	@echo "==> Installing the browser-test packages (playwright-core, axe-core) with npm ci"
	npm ci --no-audit --no-fund
	@touch $@

test-python: install spacy model node_modules/.installed
	$(PY) -m pytest -q tests

test-stories: install model
	$(RASA) test core --model $(MODEL) --stories tests/stories --endpoints endpoints.yml \
		--fail-on-prediction-errors --out results/stories

test: validate test-python test-stories
	@echo "All tests passed."

eval: install spacy model
	$(PY) -m bot.evaluation

bench: install spacy model db
	$(PY) -m bot.benchmark

lock: install
	$(UV) pip compile requirements.in -o requirements.lock --python-version 3.10 --python-platform x86_64-unknown-linux-gnu

clean:
	rm -rf build models results
