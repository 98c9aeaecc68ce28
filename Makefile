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

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download).
browser:
	@command -v chromium >/dev/null && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-noto-color-emoji; }

test: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} FEEDLENS_SHARED_DIR=$${FEEDLENS_SHARED_DIR:-$(SHARED)} \
		$(PY) -m pytest -q

bench: install
	$(PY) bench/ingest.py

# 10 concurrent Chromium sessions against a local server (about 15 minutes; needs Chromium).
bench-load: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} FEEDLENS_SHARED_DIR=$${FEEDLENS_SHARED_DIR:-$(SHARED)} \
		$(PY) bench/load.py

# The Dockerfile checked without a Docker engine (lint, apt packages, start as in the image; --full: fresh pip install).
check-docker: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} $(PY) bench/check_docker_recipe.py --full

.PHONY: install browser run test bench bench-load check-docker
