#!/bin/sh
# Lints the browser modules (gateway/, channels/, knowledge_base/ static folders) with the ESLint
# pinned in package-lock.json; see eslint.config.js. Exits non-zero on any finding.
set -eu
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "lint-js: npm is not installed; install Node.js 20.19 or newer (with npm) to lint the JavaScript." >&2
  exit 1
fi

# (Re)install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
  touch node_modules
fi

exec npx --no-install eslint .
