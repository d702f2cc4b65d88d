# Beijing 12345 hotline intake gateway — developer entry points.
#
#   make run        start the gateway (README command #1); fetches the speech model first if it can
#   make test       set up what the tests need (tools/test-setup.sh), run the static checks (make lint), then the suite (README command #2)
#   make model      download the Vosk speech model into var/models/ (sha256 checked) and compose its static graph
#   make bench      intake benchmark
#   make compose-check   validate docker-compose.yml
#   make clean      remove .venv and var/

PYTHON      ?= python3
VENV        ?= .venv
VPY         := $(VENV)/bin/python
PIP         := $(VPY) -m pip --disable-pip-version-check
PYTEST_ARGS ?=
HOTLINE_ARGS ?=
MODEL_FETCH_ARGS ?=

# Browser tests drive Debian's chromium (not a Playwright download).
HOTLINE_CHROMIUM ?= /usr/bin/chromium
export HOTLINE_CHROMIUM
# Set CHECK_CHROMIUM=0 to run without chromium, e.g.
#   make test CHECK_CHROMIUM=0 PYTEST_ARGS='-m "not browser"'
# TEST_SETUP=0 skips tools/test-setup.sh (Debian packages, compose check, Rasa venv).
CHECK_CHROMIUM ?= 1
TEST_SETUP ?= 1
export CHECK_CHROMIUM PYTHON

.PHONY: all venv venv-run run model model-auto graph-auto test test-setup lint bench compose-check compose-shim check-chromium clean

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

run: venv-run model-auto
	$(VENV)/bin/hotline run $(HOTLINE_ARGS)

# The Vosk model for live call transcription. `make run` tries once (skipped when the gateway
# already finds a model; gives up within seconds when offline and then waits a day before trying
# again); without it the gateway runs with transcription off. `make model` always tries.
# MODEL_FETCH_ARGS: e.g. --url <mirror of the zip> (the sha256 is still the official one).
model: venv-run
	$(VENV)/bin/hotline models fetch $(MODEL_FETCH_ARGS)
	$(VENV)/bin/hotline models graph

model-auto: venv-run
	-@$(VENV)/bin/hotline models fetch --auto $(MODEL_FETCH_ARGS)
	-@$(VENV)/bin/hotline models graph --auto

# The model's static decoding graph (speech/graph.py): composed once with OpenFst's tools where
# they are installed (Debian: libfst-tools, which test-setup installs), cached in
# ~/.cache/hotline/graphs; without it the legs decode on the model's own, slower graph.
graph-auto: venv-run
	-@$(VENV)/bin/hotline models graph --auto

# Debian packages (installed when root or passwordless sudo, else one message with the command),
# docker-compose.yml check, Rasa's virtualenv: everything `make test` needs on a fresh machine.
test-setup:
	@if [ "$(TEST_SETUP)" != "0" ]; then bash tools/test-setup.sh; fi

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
# test-setup comes first: it installs python3-venv, which the venv needs.
# Static checks, before the tests: ruff (pyflakes, pycodestyle, import order), mypy with the
# pydantic plugin on the product packages, the import layers (tools/layers.py) and ESLint on the
# pages' modules (tools/lint-js.sh installs it from package-lock.json with npm).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VPY) tools/layers.py
	bash tools/lint-js.sh

test: test-setup venv graph-auto check-chromium lint
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
