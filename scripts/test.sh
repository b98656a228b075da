#!/usr/bin/env bash
# Run the whole test suite: installs what is missing first (pinned Python packages from
# requirements-dev.txt; Debian chromium and chromium-driver for the browser tests, nodejs for the grid-export
# code), then runs pytest.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k imp001`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "Installing Debian chromium and chromium-driver for the browser tests..."
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! command -v node >/dev/null 2>&1; then
  echo "Installing Debian nodejs (runs the customer grid's export code in tests/callbacks/test_exports.py)..."
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs >/dev/null
fi

exec "$PYTHON" -m pytest "$@"
