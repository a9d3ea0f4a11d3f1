#!/usr/bin/env bash
# The README's main command: set up and run the example backend in production mode
# (DEBUG=False, gunicorn, SQLite, local media) on http://127.0.0.1:8000.
#
# Idempotent: a second run reuses .venv, the database and the seeded media.
# Environment: HOST, PORT, PYTHON (interpreter for the venv, default python3),
# plus the example's own variables (docs/example.md).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "scripts/example.sh: need Python >= 3.10 as \$PYTHON (found: $("$PYTHON" --version 2>&1))" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.mediaserve-example-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing mediaserve and the example's dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[example]'
    touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
exec ./example/run.sh "$@"
