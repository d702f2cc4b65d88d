#!/usr/bin/env bash
# What `make test` needs besides the gateway's virtualenv, set up on any machine (CI or a fresh
# Debian/Ubuntu): the Debian packages below (installed when this user may: root or passwordless
# sudo), the docker compose plugin shim and a check of docker-compose.yml, and Rasa's own
# virtualenv (bot/rasa/venv.py, cached outside the checkout). Idempotent: reruns skip what is done.
#
#   tools/test-setup.sh             everything (what `make test` runs first)
#   tools/test-setup.sh --packages  only print the Debian package list
#
# Environment: PYTHON (default python3) builds the Rasa venv; CHECK_CHROMIUM=0 leaves chromium
# out; HOTLINE_TEST_SETUP_RASA=0 skips the Rasa venv (its tests then skip).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The one list of Debian packages the tests need.
APT_PACKAGES=(make python3-venv procps chromium docker-compose fonts-noto-cjk ca-certificates nodejs stress)
# OpenFst's tools compose the speech model's static decoding graph (speech/graph.py, `make graph-auto`).
APT_PACKAGES+=(libfst-tools)
# ESLint (tools/lint-js.sh) needs npm: Debian's nodejs comes without it, NodeSource's nodejs has it
# built in and conflicts with Debian's npm package, so ask for it only when there is none.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
# Rasa's own venv builds matplotlib 3.5 against these (../shared/DESIGN.md, "Rasa on Python 3.11").
APT_PACKAGES+=(libfreetype-dev libqhull-dev pkg-config)

if [ "${1:-}" = "--packages" ]; then
    echo "${APT_PACKAGES[*]}"
    exit 0
fi
if [ "${CHECK_CHROMIUM:-1}" = "0" ]; then
    APT_PACKAGES=("${APT_PACKAGES[@]/chromium}")
fi

export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_SUSPEND=1 NEEDRESTART_MODE=l  # never restart services (e.g. redis) mid-run
PYTHON="${PYTHON:-python3}"

# step NAME CMD...: header, command, elapsed time; returns the command's status.
step() {
    local name=$1; shift
    local t0=$SECONDS rc=0
    echo "==> $name"
    "$@" || rc=$?
    echo "<== $name: $((SECONDS - t0))s (exit $rc)"
    return "$rc"
}

can_be_root() {
    [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

apt_install_missing() {
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "not a Debian system: install the equivalents of these yourself: ${APT_PACKAGES[*]}"
        return 0
    fi
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        [ -n "$p" ] || continue
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "all present: ${APT_PACKAGES[*]}"
        return 0
    fi
    echo "missing: ${missing[*]}"
    if ! can_be_root; then
        echo "error: the tests need Debian packages that are not installed; run once:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        return 1
    fi
    local i
    for i in 1 2 3; do
        as_root apt-get update -q && break
        [ "$i" -eq 3 ] && return 1
        sleep 5
    done
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
}

install_compose_shim() {
    if docker compose version >/dev/null 2>&1; then
        docker compose version
        return 0
    fi
    local dir="${DOCKER_CONFIG:-${HOME:-/root}/.docker}/cli-plugins"
    mkdir -p "$dir"
    cp tools/docker-compose-shim "$dir/docker-compose"
    chmod +x "$dir/docker-compose"
    echo "installed tools/docker-compose-shim as $dir/docker-compose"
    docker compose version
}

compose_check() {
    if command -v docker >/dev/null 2>&1; then
        docker compose config -q
    elif command -v docker-compose >/dev/null 2>&1; then
        echo "no docker CLI; validating with docker-compose v1 directly"
        docker-compose config -q
    else
        echo "no docker compose here; docker-compose.yml not validated"
    fi
}

step "apt packages" apt_install_missing
if command -v docker >/dev/null 2>&1; then
    step "docker compose plugin" install_compose_shim
fi
step "docker-compose.yml" compose_check
if [ "${HOTLINE_TEST_SETUP_RASA:-1}" != "0" ]; then
    # Rasa 3.6 in its own virtualenv, cached outside the checkout under
    # ${HOTLINE_RASA_HOME:-~/.cache/hotline/rasa}; skipped when the recipe's marker matches (the
    # first build takes a while). The test session trains the model (cached by a hash of the
    # training data) and runs it.
    step "rasa venv" "$PYTHON" bot/rasa/venv.py
fi
