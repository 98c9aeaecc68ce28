# Two entry points, both usable on a fresh machine (Python 3.11+, Debian):
#   make run   install and start the app on the demo archive
#   make test  install and run every test (unit, AppTest, real browser)
VENV ?= .venv
PY := $(VENV)/bin/python
SHARED ?= $(abspath ../shared)
# Pinned installs: the project (editable) with its test tools, at the versions in constraints.txt.
PIP_INSTALL := $(PY) -m pip install -q -c constraints.txt -e ".[test]"

# Installed again whenever the dependencies (pyproject.toml) or their pinned versions change.
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PIP_INSTALL)
	$(PY) -m pip check
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m streamlit run streamlit_app.py

# Debian's Chromium for the real-browser tests (Playwright drives it; no browser download), and Debian's
# nginx for the multi-process test (tests/test_load_protocol.py).
browser:
	@command -v chromium >/dev/null && dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 && { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends chromium fonts-noto-color-emoji nginx-light; }

test: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} FEEDLENS_SHARED_DIR=$${FEEDLENS_SHARED_DIR:-$(SHARED)} \
		$(PY) -m pytest -q

# After upgrading a package in the venv and passing `make test`: pin what is installed now
# (everything but the project itself, pip, setuptools and dev-only linters such as ruff).
constraints: install
	{ sed -n '/^#/p' constraints.txt; \
	  $(PY) -m pip list --format=freeze --exclude-editable --exclude pip --exclude setuptools --exclude ruff; \
	} > constraints.txt.new && mv constraints.txt.new constraints.txt && touch $(VENV)/.installed

bench: install
	$(PY) bench/ingest.py

# 10 concurrent Chromium sessions against a local server (about 15 minutes; needs Chromium).
bench-load: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} FEEDLENS_SHARED_DIR=$${FEEDLENS_SHARED_DIR:-$(SHARED)} \
		$(PY) bench/load.py

# The Dockerfile checked without a Docker engine (lint, apt packages, start as in the image; --full: the
# image's pip installs replayed in a fresh venv).
check-docker: install browser
	FEEDLENS_MODEL_DIR=$${FEEDLENS_MODEL_DIR:-$(SHARED)/models} $(PY) bench/check_docker_recipe.py --full

# The image itself, built and started without a Docker daemon (buildah + podman, as root; see README "Deploy").
image: install browser
	$(PY) bench/build_image_daemonless.py

.PHONY: install browser run test constraints bench bench-load check-docker image
