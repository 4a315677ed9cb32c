#!/usr/bin/env bash
# Build the vendored icalcheck harness in place (adapted from the harness's install.sh):
#   build/libical_check  the libical validator, compiled against the system libical
#   node_modules/        ical.js, exact version from package-lock.json
# It installs no system packages (see .ci/run) and creates no venv: the Python validators
# run with the python named by ICALCHECK_PYTHON (the tests pass the project's .venv python).
# Idempotent: each step is skipped while its output is newer than its inputs.
set -euo pipefail
cd "$(dirname "$0")"

if ! pkg-config --exists libical 2>/dev/null; then
  echo "icalcheck/build.sh: pkg-config does not find libical (apt-get install libical-dev pkg-config)" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "icalcheck/build.sh: npm is missing (apt-get install nodejs npm)" >&2
  exit 1
fi

# 1. The libical checker (small C program against the system libical).
if [ ! -x build/libical_check ] || [ validators/libical_check.c -nt build/libical_check ]; then
  echo "icalcheck: compiling build/libical_check (libical $(pkg-config --modversion libical))"
  mkdir -p build
  # shellcheck disable=SC2046 # pkg-config output must be word-split
  gcc -O2 -Wall -DLIBICAL_VERSION="\"$(pkg-config --modversion libical)\"" \
    -o build/libical_check.tmp validators/libical_check.c \
    $(pkg-config --cflags --libs libical)
  mv -f build/libical_check.tmp build/libical_check
fi

# 2. ical.js from the npm registry, exact version from package-lock.json.
#    npm writes node_modules/.package-lock.json last, so it marks a finished install.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  echo "icalcheck: npm ci (ical.js)"
  npm ci --no-audit --no-fund --loglevel=error
fi
