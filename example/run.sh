#!/usr/bin/env bash
# Run the example shop in production mode: DEBUG off, granian, SQLite and media under var/.
#
#   example/run.sh                      # http://127.0.0.1:8000
#   PORT=9000 ADMIN_PASSWORD=... example/run.sh
#   WEB_SERVER=gunicorn example/run.sh  # gunicorn gthread instead (sendfile for large files)
#
# granian by default: measured on a mix of product images, videos and slow clients it serves
# 4-7x the image requests of gunicorn gthread per core (docs/deployment.md, "Which server").
#
# Every step is idempotent, so running it again after a stop (or a crash) just starts the server.
# Environment variables are listed in docs/example.md.
set -euo pipefail

cd "$(dirname "$0")"

WEB_SERVER="${WEB_SERVER:-granian}"
case "$WEB_SERVER" in
    granian | gunicorn) ;;
    *)
        echo "run.sh: WEB_SERVER must be granian or gunicorn, not '$WEB_SERVER'." >&2
        exit 2
        ;;
esac

# The interpreter: the first of $EXAMPLE_PYTHON, the active virtualenv's, the repository's .venv
# and python3 on PATH that can import mediaserve, Django and the server. ($PYTHON is left alone:
# scripts/example.sh uses it for the interpreter that creates .venv.)
PY=""
for candidate in "${EXAMPLE_PYTHON:-}" "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/python}" \
    ../.venv/bin/python python3 python; do
    if [[ -n "$candidate" ]] && "$candidate" -c "import mediaserve.django, $WEB_SERVER, django" \
        >/dev/null 2>&1; then
        PY="$candidate"
        break
    fi
done
if [[ -z "$PY" ]]; then
    echo "run.sh: no Python here can import mediaserve, Django and $WEB_SERVER." >&2
    echo "run.sh: run scripts/example.sh, or pip install -e '.[example]' in the repository." >&2
    exit 1
fi

HOST="${HOST:-127.0.0.1}"
host_bare="${HOST#[}" host_bare="${host_bare%]}"  # [::1] and ::1 alike
PORT="${PORT:-8000}"
WEB_WORKERS="${WEB_WORKERS:-2}"
WEB_THREADS="${WEB_THREADS:-8}"
# Off by default: granian's access log (Python logging, per request) costs more CPU than serving
# a product image (docs/deployment.md); log at the proxy in front, or set ACCESS_LOG=1.
ACCESS_LOG="${ACCESS_LOG:-0}"
# The WSGI callable served. The benchmark points it at a bare app to measure this very server
# command's own ceiling (bench/README.md, "shipped"); leave it alone otherwise.
WSGI_APP="${WSGI_APP:-shop.wsgi:application}"
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

echo
echo "Example shop (DEBUG off) on http://$bind, public as $PUBLIC_BASE_URL. Try:"
manage showurls
if [[ -z "${ADMIN_PASSWORD:-}" ]]; then
    echo "  (set ADMIN_PASSWORD to create the admin user)"
fi
echo

if [[ "$WEB_SERVER" == gunicorn ]]; then
    server=(-m gunicorn "$WSGI_APP" --worker-class gthread --workers "$WEB_WORKERS"
        --threads "$WEB_THREADS" --bind "$bind")
    # Newer gunicorn opens a control socket by default; this server needs none.
    if grep -q -- "--no-control-socket" <<<"$("$PY" -m gunicorn --help)"; then
        server+=(--no-control-socket)
    fi
    if [[ "$ACCESS_LOG" == 1 ]]; then
        server+=(--access-logfile -)
    fi
else
    # granian's WSGI mode: the request rate on small files (4-7x gunicorn gthread per core),
    # up to 512 blocking threads per worker for slow clients; --respawn-failed-workers keeps a
    # crashed worker from taking half the capacity away.
    server=(-m granian --interface wsgi --workers "$WEB_WORKERS" --host "$host_bare"
        --port "$PORT" --respawn-failed-workers --log-level info)
    if [[ "$ACCESS_LOG" == 1 ]]; then
        server+=(--access-log)
    fi
    server+=("$WSGI_APP")
fi
exec "$PY" "${server[@]}"
