# Two entry points, both usable on a fresh machine (Python 3.11+, Debian):
#   make run   install and start the app on the demo archive
#   make test  install and run every test (unit, AppTest, real browser)
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m streamlit run streamlit_app.py

test: install
	@command -v chromium >/dev/null || { echo "Chromium missing: sudo apt-get install -y chromium"; exit 1; }
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} FEEDLENS_SHARED_DIR=$${FEEDLENS_SHARED_DIR:-$(SHARED)} \
		$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest.py

.PHONY: install run test bench
