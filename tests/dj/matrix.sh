#!/usr/bin/env bash
# Run the Django-facing tests against each supported Django release, in throwaway venvs.
#
#   tests/dj/matrix.sh                 4.2 LTS, 5.2 LTS and 6.0
#   tests/dj/matrix.sh 4.2 6.0         only these
#
# Django 6.0 needs Python >= 3.12: PYTHON_FOR_6 (default python3.12, or pyenv's 3.12.x).
# Venvs live in .matrix/ (git-ignored) and are reused. Not part of scripts/test.sh: it
# installs three Django versions from the package index.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

find_python() {  # $1: minor version wanted, e.g. 3.12
    local want=$1 candidate
    # Run each candidate: a pyenv shim exists on PATH even when it cannot run that version.
    for candidate in "python$want" "$HOME/.pyenv/versions/$want"*/bin/python; do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

versions=("$@")
((${#versions[@]})) || versions=(4.2 5.2 6.0)
status=0
for version in "${versions[@]}"; do
    case $version in
        4.2) spec="django>=4.2,<5.0"; python=${PYTHON:-python3} ;;
        5.2) spec="django>=5.2,<6.0"; python=${PYTHON:-python3} ;;
        6.0) spec="django>=6.0,<6.1"
             python=${PYTHON_FOR_6:-$(find_python 3.12 || find_python 3.13 || echo python3.12)} ;;
        *) echo "matrix.sh: unknown Django version $version (4.2, 5.2, 6.0)" >&2; exit 2 ;;
    esac
    venv=.matrix/django-$version
    printf '\n\033[1m==> Django %s (%s) with %s\033[0m\n' "$version" "$spec" "$python"
    if [[ ! -x $venv/bin/python ]]; then
        "$python" -m venv "$venv"
    fi
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$venv/bin/python" -m pip install -q -e '.[test]' "$spec"
    "$venv/bin/python" -c 'import django, sys; print("django", django.get_version(), "python", sys.version.split()[0])'
    if ! "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/dj tests/example tests/unit; then
        status=1
        echo "matrix.sh: Django $version FAILED" >&2
    fi
done
exit $status
