#!/usr/bin/env bash
# Run the example shop in production mode: DEBUG off, gunicorn, SQLite and media under var/.
#
#   example/run.sh                      # http://127.0.0.1:8000
#   PORT=9000 ADMIN_PASSWORD=... example/run.sh
#
# Every step is idempotent, so running it again after a stop (or a crash) just starts the server.
# Environment variables are listed in docs/example.md.
set -euo pipefail

cd "$(dirname "$0")"

# The interpreter: the first of $EXAMPLE_PYTHON, the active virtualenv's, the repository's .venv
# and python3 on PATH that can import mediaserve and gunicorn. ($PYTHON is left alone:
# scripts/example.sh uses it for the interpreter that creates .venv.)
PY=""
for candidate in "${EXAMPLE_PYTHON:-}" "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" \
    ../.venv/bin/python python3 python; do
    if [[ -n "$candidate" ]] && "$candidate" -c "import mediaserve.django, gunicorn, django" \
        >/dev/null 2>&1; then
        PY="$candidate"
        break
    fi
done
if [[ -z "$PY" ]]; then
    echo "run.sh: no Python here can import mediaserve, Django and gunicorn." >&2
    echo "run.sh: run scripts/example.sh, or pip install -e '.[example]' in the repository." >&2
    exit 1
fi

HOST="${HOST:-127.0.0.1}"
host_bare="${HOST#[}" host_bare="${host_bare%]}"  # [::1] and ::1 alike
PORT="${PORT:-8000}"
WEB_WORKERS="${WEB_WORKERS:-2}"
WEB_THREADS="${WEB_THREADS:-8}"
SEED_COUNT="${SEED_COUNT:-12}"

# Links in the feed must point where the site is reachable. Unless told otherwise, that is this
# server's own address (a wildcard bind is reachable on loopback).
if [[ -z "${PUBLIC_BASE_URL:-}" ]]; then
    case "$host_bare" in
        0.0.0.0 | ::) public_host=127.0.0.1 ;;
        *:*) public_host="[$host_bare]" ;;
        *) public_host="$host_bare" ;;
    esac
    export PUBLIC_BASE_URL="http://$public_host:$PORT"
fi

case "$host_bare" in
    *:*) bind="[$host_bare]:$PORT" ;;
    *) bind="$host_bare:$PORT" ;;
esac

manage() { "$PY" manage.py "$@"; }

manage migrate --noinput -v 0
manage collectstatic --noinput -v 0
manage seed --count "$SEED_COUNT"
manage ensure_admin

# Newer gunicorn opens a control socket by default; this server needs none.
gunicorn_options=()
gunicorn_help="$("$PY" -m gunicorn --help)"
if grep -q -- "--no-control-socket" <<<"$gunicorn_help"; then
    gunicorn_options+=(--no-control-socket)
fi

echo
echo "Example shop (DEBUG off) on http://$bind, public as $PUBLIC_BASE_URL. Try:"
manage showurls
if [[ -z "${ADMIN_PASSWORD:-}" ]]; then
    echo "  (set ADMIN_PASSWORD to create the admin user)"
fi
echo

exec "$PY" -m gunicorn shop.wsgi:application \
    --worker-class gthread \
    --workers "$WEB_WORKERS" \
    --threads "$WEB_THREADS" \
    --bind "$bind" \
    --access-logfile - \
    ${gunicorn_options[@]+"${gunicorn_options[@]}"}
