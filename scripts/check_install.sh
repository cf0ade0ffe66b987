#!/usr/bin/env bash
# Prove the package works as users install it: `pip install .` (not editable) into a fresh
# virtualenv, then the installed commands run from another folder, with no source tree on the path.
#   scripts/check_install.sh [DEV_VENV]
# The dependencies come from DEV_VENV (default .venv, made by `make install`) through a .pth file,
# so that this check installs only the package itself and needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DEV_VENV=$(cd "${1:-.venv}" && pwd)
WORK=$(mktemp -d /tmp/llcat-install.XXXXXX)
trap 'if [ -n "${APP_PID:-}" ]; then kill "$APP_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

python3 -m venv "$WORK/venv"
DEV_SITE=$("$DEV_VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
NEW_SITE=$("$WORK/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
echo "$DEV_SITE" > "$NEW_SITE/llcat_dev_dependencies.pth"
# Dependencies are found in the dev virtualenv (the .pth), so pip installs the package alone.
if ! "$WORK/venv/bin/python" -m pip install -q "$ROOT" > "$WORK/pip.log" 2>&1; then
    grep -v "Location 'file" "$WORK/pip.log"; echo "error: pip install . failed"; exit 1
fi
export PATH="$WORK/venv/bin:$PATH"
# The set-up step a user of the installed package runs once: NLTK data into the new virtualenv.
unset NLTK_DATA
"$WORK/venv/bin/python" -m ingest.token_sets.nltk_data --copy-from "$DEV_VENV/nltk_data"

cd "$WORK"
where=$("$WORK/venv/bin/python" -c "import catalog.paths as p, catalog; print(catalog.__file__, p.SQL_DIR)")
echo "installed: $where"
case "$where" in *"$ROOT"*) echo "error: the installed package was imported from the source tree ($where)"; exit 1;; esac

llcat-ingest demo --db demo.duckdb --device cpu
llcat --help >/dev/null
llcat queries --db demo.duckdb | head -n 3
llcat run saes --db demo.duckdb
llcat sql --db demo.duckdb "SELECT count(*) AS features FROM features"
sets=$(llcat sql --db demo.duckdb "SELECT count(*) FROM token_sets" --format csv | tail -n 1)
[ "$sets" -ge 100 ] || { echo "error: the installed demo has $sets token sets (NLTK data not found?)"; exit 1; }

PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
LLCAT_OFFLINE=1 llcat-app --db demo.duckdb --port "$PORT" > app.log 2>&1 &
APP_PID=$!
for _ in $(seq 60); do
    if curl -fs "http://localhost:$PORT/_stcore/health" >/dev/null 2>&1; then break; fi
    sleep 0.5
done
curl -fs "http://localhost:$PORT/_stcore/health" || { echo "error: llcat-app did not serve"; cat app.log; exit 1; }
echo
echo "check-install: the installed package built the demo, answered queries and served the browser"
