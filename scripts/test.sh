#!/usr/bin/env bash
# Run the checks CI runs: lint, types, then the whole test suite (unit, integration and slow tests).
# Needs scripts/setup.sh to have run once. Extra arguments go to pytest (e.g. -m unit).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || { echo "no .venv: run scripts/setup.sh first" >&2; exit 1; }

.venv/bin/ruff check .
.venv/bin/mypy
set +e
# Two processes (pytest-xdist), a test file each at a time: the suite's waits on servers and subprocesses overlap
# (on 2 cores about 10 minutes instead of 13-15). POLYDESK_TEST_PROCESSES=0 runs it in this process alone.
.venv/bin/python -m pytest -n "${POLYDESK_TEST_PROCESSES:-2}" --dist loadfile "$@"
status=$?
set -e
# pytest exits 5 when it collected no test: that is a failure, not a pass.
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
