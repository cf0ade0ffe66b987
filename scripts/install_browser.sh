#!/usr/bin/env bash
# Install what the browser end-to-end test needs: Debian's chromium (Playwright cannot download its
# own browsers here, the test launches /usr/bin/chromium) and the Playwright Python package.
#   scripts/install_browser.sh [VENV]     (VENV defaults to .venv)
set -euo pipefail
VENV="${1:-.venv}"

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
fi
chromium --version

if ! "$VENV/bin/python" -c "import playwright" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install -q "playwright>=1.40"
fi
"$VENV/bin/python" -c "import playwright; from importlib.metadata import version; print('playwright', version('playwright'))"
