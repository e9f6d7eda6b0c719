#!/usr/bin/env bash
# Set up and run the whole suite: lint, types, tests, and the evaluation gate.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh all
if ! command -v chromium >/dev/null 2>&1; then
  # The browser tests drive Debian's Chromium (no browser download at test time).
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
    || echo "warning: could not install chromium; browser tests will fail" >&2
fi
export PATH="$PWD/.venv/bin:$PATH"
# Screenshots and evaluation reports (report.html, report.json, junit.xml per gated set) are
# kept outside the repository.
export DESPATCH_TEST_ARTIFACTS="${DESPATCH_TEST_ARTIFACTS:-${TMPDIR:-/tmp}/despatch-test-artifacts}"
echo "test artifacts: $DESPATCH_TEST_ARTIFACTS"
ruff check .
ruff format --check .
mypy
pytest -q "$@"
