# The two commands of the README:
#   make run    install and run the connector (web + worker + cron) against the offline sandboxes
#   make test   install and run every test (Python and the CRM cards)
# Needs only Python 3.11 with pip and venv, Node 20 and npm.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
CARDS  := crm_cards

.PHONY: run test test-python test-cards install install-dev clean

run: $(VENV)/.runtime-installed
	$(PY) -m backend.devserver

test: test-python test-cards

test-python: $(VENV)/.dev-installed
	$(PY) -m pytest

test-cards: $(CARDS)/node_modules/.installed
	cd $(CARDS) && npm test

install: $(VENV)/.runtime-installed
install-dev: $(VENV)/.dev-installed

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

$(CARDS)/node_modules/.installed: $(CARDS)/package.json $(CARDS)/package-lock.json
	cd $(CARDS) && npm ci --no-audit --no-fund
	touch $@

clean:
	rm -rf $(VENV) $(CARDS)/node_modules instance
