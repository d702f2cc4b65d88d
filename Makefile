# Beijing 12345 hotline intake gateway — developer entry points.
#
#   make run        start the gateway (README command #1)
#   make test       run the test suite (README command #2)
#   make bench      intake benchmark
#   make compose-check   validate docker-compose.yml
#   make clean      remove .venv and var/

PYTHON      ?= python3
VENV        ?= .venv
VPY         := $(VENV)/bin/python
PIP         := $(VPY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=
HOTLINE_ARGS ?=

# Browser tests drive Debian's chromium (not a Playwright download).
HOTLINE_CHROMIUM ?= /usr/bin/chromium
export HOTLINE_CHROMIUM
# Set CHECK_CHROMIUM=0 to run without chromium, e.g.
#   make test CHECK_CHROMIUM=0 PYTEST_ARGS='-m "not browser"'
CHECK_CHROMIUM ?= 1

.PHONY: all venv venv-run run test bench compose-check compose-shim check-chromium clean

all: test

# --- virtualenv -------------------------------------------------------------

$(VPY):
	$(PYTHON) -m venv $(VENV)

# Full install (runtime + test extras); redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VPY)
	$(PIP) install -e '.[test]'
	touch $@ $(VENV)/.installed-run

# Runtime-only install for `make run` / `make bench`.
$(VENV)/.installed-run: pyproject.toml | $(VPY)
	$(PIP) install -e .
	touch $@

venv: $(VENV)/.installed

venv-run: $(VENV)/.installed-run

# --- entry points -----------------------------------------------------------

run: venv-run
	$(VENV)/bin/hotline run $(HOTLINE_ARGS)

check-chromium:
	@if [ "$(CHECK_CHROMIUM)" != "0" ] && [ ! -x "$(HOTLINE_CHROMIUM)" ]; then \
	  echo "error: chromium not found at $(HOTLINE_CHROMIUM); the browser tests need it." >&2; \
	  echo "  install it with:  sudo apt-get install chromium" >&2; \
	  echo "  or point HOTLINE_CHROMIUM=/path/to/chromium at another build," >&2; \
	  echo "  or skip them:     make test CHECK_CHROMIUM=0 PYTEST_ARGS='-m \"not browser\"'" >&2; \
	  exit 1; \
	fi

# If PYTEST_EXITCODE_FILE is set (by .ci/run), pytest's own exit code is
# written there, since make itself only ever exits 0 or 2.
test: venv check-chromium
	@echo "$(VPY) -m pytest $(PYTEST_ARGS)"
	@rc=0; $(VPY) -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ -n "$${PYTEST_EXITCODE_FILE:-}" ]; then echo $$rc > "$$PYTEST_EXITCODE_FILE"; fi; \
	exit $$rc

bench: venv-run
	$(VPY) bench/intake.py

# --- docker -----------------------------------------------------------------

compose-check:
	@docker compose version >/dev/null 2>&1 || { \
	  echo "error: 'docker compose' is not available." >&2; \
	  echo "  with Debian's docker-compose v1:  sudo apt-get install docker-compose && make compose-shim" >&2; \
	  exit 1; }
	docker compose config -q

# Installs tools/docker-compose-shim as the docker CLI's compose plugin.
compose-shim:
	mkdir -p $${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins
	cp tools/docker-compose-shim $${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins/docker-compose
	chmod +x $${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins/docker-compose

clean:
	rm -rf $(VENV) var
