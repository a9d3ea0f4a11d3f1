#!/usr/bin/env bash
# The one benchmark command: the same set-up as the tests (Debian packages, .venv), then
# bench/run.py with whatever arguments you pass. Not part of the test suite; see bench/README.md.
#
#   scripts/bench.sh                       every scenario, full durations (~20 minutes)
#   scripts/bench.sh --quick --only small  a smoke run of one scenario
#   scripts/bench.sh --json results.json   also keep the numbers as JSON
#   scripts/bench.sh --baseline REV        REV's package vs the working tree, interleaved
#   scripts/bench.sh renditions [--quick]  renditions vs the Django thumbnail libraries
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
MEDIASERVE_SETUP_ONLY=1 scripts/test.sh >&2
if [ "${1:-}" = renditions ]; then
    # Renditions vs sorl-thumbnail/easy-thumbnails/imagekit: bench-only requirements.
    shift
    .venv/bin/pip install -q -r bench/renditions/requirements.txt >&2
    exec .venv/bin/python -m bench.renditions "$@"
fi
exec .venv/bin/python bench/run.py "$@"
