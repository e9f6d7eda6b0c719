#!/usr/bin/env bash
# Set up, index the founding article and start the chat app.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/despatch ingest data/corpus
if .venv/bin/despatch serve --help >/dev/null 2>&1; then
  exec .venv/bin/despatch serve "$@"
fi
exec .venv/bin/despatch ask "What target did the Home Office set for voluntary departures in 2015/16?"
